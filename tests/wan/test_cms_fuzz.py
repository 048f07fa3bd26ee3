"""Hostile bytes: random input and mutated messages only ever give a CmsError (or the true content).

A mutation of a part the signature or the GCM tag does not cover (the digest
algorithm set, the envelope's content type, ...) may still open; then the
content must be the original. The long run is ``-m fuzz``.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.wan import cms
from smgwd.wan.cms_envelope import decrypt, encrypt
from smgwd.wan.cms_signed import verify
from tests.wan.cms_support import LabPki, pki  # noqa: F401

CURVE = "brainpoolP256r1"
CONTENT = b"<profile>" + b"42" * 100 + b"</profile>"
QUICK = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one byte flipped, a piece cut, bytes inserted or overwritten, or truncated."""
    kind = draw(st.sampled_from(["flip", "cut", "insert", "overwrite", "truncate"]))
    index = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1:]
    if kind == "cut":
        return data[:index] + data[index + draw(st.integers(1, 64)):]
    if kind == "insert":
        return data[:index] + draw(st.binary(min_size=1, max_size=16)) + data[index:]
    if kind == "overwrite":
        patch = draw(st.binary(min_size=1, max_size=8))
        return data[:index] + patch + data[index + len(patch):]
    return data[:index]


def _message(pki: LabPki) -> bytes:
    return cms.seal(CONTENT, signer_cert=pki.sig(CURVE).cert, signer_key=pki.sig(CURVE).key,
                    recipient_certs=[pki.enc(CURVE).cert, pki.enc("prime256v1").cert], chain=[pki.sub.cert])


def _open_or_refuse(pki: LabPki, data: bytes) -> None:
    try:
        opened = cms.open_(data, recipient_key=pki.enc(CURVE).key, recipient_cert=pki.enc(CURVE).cert,
                           trust=[pki.root.cert])
    except cms.CmsError:
        return
    assert opened.content == CONTENT


def _decrypt_or_refuse(pki: LabPki, data: bytes) -> None:
    try:
        decrypted = decrypt(data, pki.enc(CURVE).key, pki.enc(CURVE).cert)
    except cms.CmsError:
        return
    assert decrypted.content == CONTENT


@pytest.fixture(scope="module")
def message(pki: LabPki) -> bytes:
    return _message(pki)


@pytest.fixture(scope="module")
def envelope(pki: LabPki) -> bytes:
    return encrypt(CONTENT, [pki.enc("prime256v1").cert, pki.enc(CURVE).cert])


@QUICK
@given(data=st.binary(max_size=512))
def test_random_bytes_are_refused(pki: LabPki, data: bytes) -> None:
    with pytest.raises(cms.CmsError):
        cms.open_(data, recipient_key=pki.enc(CURVE).key, recipient_cert=pki.enc(CURVE).cert, trust=[pki.root.cert])


@QUICK
@given(data=st.data())
def test_mutated_messages(pki: LabPki, message: bytes, data: st.DataObject) -> None:
    _open_or_refuse(pki, data.draw(mutations(message)))


@QUICK
@given(data=st.data())
def test_mutated_envelopes(pki: LabPki, envelope: bytes, data: st.DataObject) -> None:
    _decrypt_or_refuse(pki, data.draw(mutations(envelope)))


@QUICK
@given(data=st.data())
def test_mutated_messages_as_pem(pki: LabPki, message: bytes, data: st.DataObject) -> None:
    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(message) + b"-----END CMS-----\n"
    try:
        verify(data.draw(mutations(pem)))
    except cms.CmsError:
        pass


@pytest.mark.fuzz
@LONG
@given(data=st.data())
def test_long_mutated_messages(pki: LabPki, message: bytes, data: st.DataObject) -> None:
    _open_or_refuse(pki, data.draw(mutations(message)))


@pytest.mark.fuzz
@LONG
@given(data=st.data())
def test_long_mutated_envelopes(pki: LabPki, envelope: bytes, data: st.DataObject) -> None:
    _decrypt_or_refuse(pki, data.draw(mutations(envelope)))
