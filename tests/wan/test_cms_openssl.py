"""TR-03116-3 §8 CMS against ``openssl cms`` in both directions, on brainpoolP256r1, brainpoolP384r1 and P-256."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smgwd.wan import cms
from tests.wan.cms_support import (CURVES, LabPki, openssl, openssl_open, openssl_seal, openssl_sign,  # noqa: F401
                                   pki, wrap_auth_enveloped)

CONTENT = b'<?xml version="1.0"?><profile>' + os.urandom(2000).hex().encode() + b"</profile>\n"


def _open(pki: LabPki, message: bytes, curve: str) -> cms.Opened:
    recipient = pki.enc(curve)
    return cms.open_(message, recipient_key=recipient.key, recipient_cert=recipient.cert, trust=[pki.root.cert])


@pytest.mark.parametrize("curve", CURVES)
def test_openssl_verifies_and_decrypts_ours(pki: LabPki, tmp_path: Path, curve: str) -> None:
    message = cms.seal(CONTENT, signer_cert=pki.sig(curve).cert, signer_key=pki.sig(curve).key,
                       recipient_certs=[pki.enc(curve).cert], chain=[pki.sub.cert])
    assert openssl_open(pki, tmp_path, message, pki.enc(curve)) == CONTENT


@pytest.mark.parametrize("curve", CURVES)
def test_we_verify_and_decrypt_openssls(pki: LabPki, tmp_path: Path, curve: str) -> None:
    message = openssl_seal(pki, tmp_path, CONTENT, pki.sig(curve), [pki.enc(curve)])
    opened = _open(pki, message, curve)
    assert opened.content == CONTENT
    assert opened.content_type == cms.ID_DATA and opened.key_agreement == cms.KARI_RFC5753
    assert opened.signer_cert == pki.sig(curve).cert
    assert [c.subject for c in opened.chain] == [pki.sig(curve).cert.subject, pki.sub.cert.subject,
                                                 pki.root.cert.subject]
    assert opened.signing_time is not None


def test_our_structure_as_openssl_prints_it(pki: LabPki, tmp_path: Path) -> None:
    curve = "brainpoolP256r1"
    message = cms.seal(CONTENT, signer_cert=pki.sig(curve).cert, signer_key=pki.sig(curve).key,
                       recipient_certs=[pki.enc(curve).cert], chain=[pki.sub.cert])
    (tmp_path / "m.der").write_bytes(message)
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "m.der").decode()
    for expected in ("contentType: pkcs7-signedData", "eContentType: id-smime-ct-authEnvelopedData",
                     "digestAlgorithm: \n", "algorithm: sha256", "ecdsa-with-SHA256", "signingTime",
                     "messageDigest"):
        assert expected.strip() in printed, expected
    inner = tmp_path / "aed.der"
    openssl("cms", "-verify", "-inform", "DER", "-in", tmp_path / "m.der", "-CAfile", pki.trust_path, "-out", inner)
    (tmp_path / "aed_ci.der").write_bytes(wrap_auth_enveloped(inner.read_bytes()))
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "aed_ci.der").decode()
    for expected in ("d.kari:", "version: 3", "d.originatorKey:", "dhSinglePass-stdDH-sha256kdf-scheme",
                     "id-aes128-wrap", "d.issuerAndSerialNumber:", "aes-128-gcm", "contentType: pkcs7-data"):
        assert expected in printed, expected


@pytest.mark.parametrize(("signer_curve", "recipient_curve"),
                         [("prime256v1", "brainpoolP384r1"), ("brainpoolP384r1", "brainpoolP256r1")])
def test_signer_and_recipient_on_different_curves(pki: LabPki, tmp_path: Path, signer_curve: str,
                                                  recipient_curve: str) -> None:
    signer, recipient = pki.sig(signer_curve), pki.enc(recipient_curve)
    ours = cms.seal(CONTENT, signer_cert=signer.cert, signer_key=signer.key, recipient_certs=[recipient.cert])
    assert openssl_open(pki, tmp_path, ours, recipient) == CONTENT
    theirs = openssl_seal(pki, tmp_path, CONTENT, signer, [recipient])
    assert _open(pki, theirs, recipient_curve).content == CONTENT


def test_several_recipients_both_ways(pki: LabPki, tmp_path: Path) -> None:
    recipients = [pki.enc(curve) for curve in CURVES]
    signer = pki.sig("brainpoolP256r1")
    ours = cms.seal(CONTENT, signer_cert=signer.cert, signer_key=signer.key,
                    recipient_certs=[r.cert for r in recipients], chain=[pki.sub.cert])
    for recipient in recipients:
        assert openssl_open(pki, tmp_path, ours, recipient) == CONTENT
    theirs = openssl_seal(pki, tmp_path, CONTENT, signer, recipients)
    for curve in CURVES:
        assert _open(pki, theirs, curve).content == CONTENT


def test_pem_from_openssl_is_accepted(pki: LabPki, tmp_path: Path) -> None:
    curve = "brainpoolP256r1"
    message = openssl_seal(pki, tmp_path, CONTENT, pki.sig(curve), [pki.enc(curve)], outform="PEM")
    assert message.startswith(b"-----BEGIN CMS-----")
    assert _open(pki, message, curve).content == CONTENT


def test_openssl_default_sha1_kdf_is_refused(pki: LabPki, tmp_path: Path) -> None:
    """Without ``-keyopt ecdh_kdf_md:sha256`` OpenSSL 3.0 uses dhSinglePass-stdDH-sha1kdf-scheme."""
    curve = "brainpoolP256r1"
    message = openssl_seal(pki, tmp_path, CONTENT, pki.sig(curve), [pki.enc(curve)], extra=())
    with pytest.raises(cms.UnsupportedError, match="1.3.133.16.840.63.0.2 is not accepted"):
        _open(pki, message, curve)


def test_bsi_oid_round_trip_and_openssl_still_verifies_the_signature(pki: LabPki, tmp_path: Path) -> None:
    curve = "brainpoolP256r1"
    message = cms.seal(CONTENT, signer_cert=pki.sig(curve).cert, signer_key=pki.sig(curve).key,
                       recipient_certs=[pki.enc(curve).cert], chain=[pki.sub.cert], kari_oid=cms.KARI_BSI)
    opened = _open(pki, message, curve)
    assert opened.content == CONTENT and opened.key_agreement == cms.KARI_BSI
    (tmp_path / "m.der").write_bytes(message)
    openssl("cms", "-verify", "-inform", "DER", "-in", tmp_path / "m.der", "-CAfile", pki.trust_path,
            "-out", tmp_path / "aed.der")  # OpenSSL 3.0 cannot decrypt the BSI OID (kdf parameter error)


def test_openssl_signed_data_content_is_refused(pki: LabPki, tmp_path: Path) -> None:
    """Sign-only (eContentType id-data) is not TR-03116-3 §8: the content must be encrypted first."""
    curve = "brainpoolP256r1"
    (tmp_path / "plain").write_bytes(CONTENT)
    message = openssl_sign(pki, tmp_path / "plain", pki.sig(curve), econtent_type="pkcs7-data")
    with pytest.raises(cms.ContentTypeError, match="expected id-ct-authEnvelopedData"):
        _open(pki, message, curve)


def test_subject_key_identifiers_instead_of_issuer_and_serial(pki: LabPki, tmp_path: Path) -> None:
    """``-keyid``: the signer (SignerIdentifier) and the recipient (rKeyId) named by subject key identifier."""
    curve = "brainpoolP384r1"
    message = openssl_seal(pki, tmp_path, CONTENT, pki.sig(curve), [pki.enc(curve)],
                           extra=("-keyopt", "ecdh_kdf_md:sha256", "-keyid"), sign_options=("-keyid",))
    (tmp_path / "m.der").write_bytes(message)
    assert "d.subjectKeyIdentifier" in openssl("cms", "-cmsout", "-print", "-inform", "DER",
                                               "-in", tmp_path / "m.der").decode()
    assert _open(pki, message, curve).content == CONTENT
