"""Every refusal of smgwd.wan.cms, each with its own exception class and reason.

Tampered envelopes are re-signed by ``openssl cms -sign``, so the signature is
good and the envelope check itself must catch the change.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms

from smgwd.wan import cms
from smgwd.wan.cms_envelope import encrypt
from tests.wan.cms_support import LabPki, Party, openssl, openssl_sign, pki  # noqa: F401

CURVE = "brainpoolP256r1"
CONTENT = b"<profile>" + b"0123456789" * 300 + b"</profile>"


def seal(pki: LabPki, signer: Party | None = None, recipient: Party | None = None, **kwargs: object) -> bytes:
    signer = signer or pki.sig(CURVE)
    return cms.seal(CONTENT, signer_cert=signer.cert, signer_key=signer.key,
                    recipient_certs=[(recipient or pki.enc(CURVE)).cert], chain=[pki.sub.cert], **kwargs)


def open_(pki: LabPki, message: bytes, recipient: Party | None = None, **kwargs: object) -> cms.Opened:
    recipient = recipient or pki.enc(CURVE)
    return cms.open_(message, recipient_key=recipient.key, recipient_cert=recipient.cert, trust=[pki.root.cert],
                     **kwargs)


def signed_by_openssl(pki: LabPki, tmp_path: Path, envelope: bytes) -> bytes:
    (tmp_path / "aed.der").write_bytes(envelope)
    return openssl_sign(pki, tmp_path / "aed.der", pki.sig(CURVE))


def flipped(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_good_message_opens(pki: LabPki) -> None:
    assert open_(pki, seal(pki)).content == CONTENT


def test_flipped_tag_byte(pki: LabPki, tmp_path: Path) -> None:
    envelope = encrypt(CONTENT, [pki.enc(CURVE).cert])
    message = signed_by_openssl(pki, tmp_path, flipped(envelope, len(envelope) - 1))  # mac is the last field
    with pytest.raises(cms.DecryptionError, match="authentication tag mismatch"):
        open_(pki, message)


def test_flipped_ciphertext_byte(pki: LabPki, tmp_path: Path) -> None:
    envelope = encrypt(CONTENT, [pki.enc(CURVE).cert])
    message = signed_by_openssl(pki, tmp_path, flipped(envelope, len(envelope) - 40))  # before the 18-byte mac
    with pytest.raises(cms.DecryptionError, match="authentication tag mismatch"):
        open_(pki, message)


def test_altered_wrapped_key(pki: LabPki, tmp_path: Path) -> None:
    envelope = asn1_cms.AuthEnvelopedData.load(encrypt(CONTENT, [pki.enc(CURVE).cert]))
    encrypted = envelope["recipient_infos"][0].chosen["recipient_encrypted_keys"][0]
    encrypted["encrypted_key"] = flipped(encrypted["encrypted_key"].native, 3)
    message = signed_by_openssl(pki, tmp_path, envelope.dump(force=True))
    with pytest.raises(cms.DecryptionError, match="key unwrap failed"):
        open_(pki, message)


def test_flipped_signature(pki: LabPki) -> None:
    message = seal(pki)
    with pytest.raises(cms.SignatureError, match="bad signature"):
        open_(pki, flipped(message, len(message) - 1))  # the signature is the last field


def test_swapped_content(pki: LabPki) -> None:
    first = asn1_cms.ContentInfo.load(seal(pki))
    second = asn1_cms.ContentInfo.load(seal(pki))
    first["content"]["encap_content_info"] = second["content"]["encap_content_info"].copy()
    with pytest.raises(cms.DigestMismatchError, match="message digest mismatch"):
        open_(pki, first.dump(force=True))


def test_wrong_recipient(pki: LabPki) -> None:
    with pytest.raises(cms.NotForRecipientError, match="not for this recipient.*Lab enc-other"):
        open_(pki, seal(pki), recipient=pki.parties["enc-other"])


def test_untrusted_signer(pki: LabPki) -> None:
    message = seal(pki, signer=pki.parties["sig-foreign"])
    with pytest.raises(cms.UntrustedSignerError, match="untrusted signer: .*unknown CA"):
        open_(pki, message)


def test_untrusted_signer_sending_its_own_root(pki: LabPki) -> None:
    signer = pki.parties["sig-foreign"]
    message = cms.seal(CONTENT, signer_cert=signer.cert, signer_key=signer.key, recipient_certs=[pki.enc(CURVE).cert],
                       chain=[pki.parties["foreign-root"].cert])
    with pytest.raises(cms.UntrustedSignerError, match="self-signed .*not trusted"):
        open_(pki, message)


def test_expired_signer(pki: LabPki) -> None:
    with pytest.raises(cms.UntrustedSignerError, match="expired: 'CN=Lab sig-expired'"):
        open_(pki, seal(pki, signer=pki.parties["sig-expired"]))


def test_signer_expired_at_a_later_check_time(pki: LabPki) -> None:
    later = functools.partial(cms.verify_signer_chain, at=datetime.now(timezone.utc) + timedelta(days=400))
    with pytest.raises(cms.UntrustedSignerError, match="expired"):
        open_(pki, seal(pki), verify_chain=later)


def test_encryption_certificate_as_signer(pki: LabPki) -> None:
    with pytest.raises(cms.UntrustedSignerError, match="wrong key usage"):
        open_(pki, seal(pki, signer=pki.enc("prime256v1")))


def test_chain_verifier_is_replaceable(pki: LabPki) -> None:
    seen = []

    def refuse(cert: object, untrusted: object, roots: object) -> None:
        seen.append(cert)
        raise ValueError("not on the allow list")

    with pytest.raises(cms.UntrustedSignerError, match="not on the allow list"):
        open_(pki, seal(pki), verify_chain=refuse)
    assert seen == [pki.sig(CURVE).cert]
    opened = open_(pki, seal(pki, signer=pki.parties["sig-foreign"]), verify_chain=lambda *_: None)
    assert opened.content == CONTENT and opened.chain == (pki.parties["sig-foreign"].cert,)


def test_signer_certificate_given_apart(pki: LabPki, tmp_path: Path) -> None:
    (tmp_path / "aed.der").write_bytes(encrypt(CONTENT, [pki.enc(CURVE).cert]))
    signer = pki.sig(CURVE)
    message = openssl("cms", "-sign", "-binary", "-nodetach", "-nocerts", "-md", "sha256", "-econtent_type",
                      "id-smime-ct-authEnvelopedData", "-in", tmp_path / "aed.der", "-signer", signer.cert_path,
                      "-inkey", signer.key_path, "-outform", "DER")
    with pytest.raises(cms.SignatureError, match="signer certificate is neither in the message"):
        open_(pki, message)
    assert open_(pki, message, untrusted=[signer.cert, pki.sub.cert]).content == CONTENT


def test_not_signed_data(pki: LabPki, tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(CONTENT)
    envelope = openssl("cms", "-encrypt", "-binary", "-aes-128-gcm", "-in", tmp_path / "plain", "-recip",
                       pki.enc(CURVE).cert_path, "-keyopt", "ecdh_kdf_md:sha256", "-outform", "DER")
    with pytest.raises(cms.ContentTypeError, match="expected SignedData.*authenticated_enveloped_data"):
        open_(pki, envelope)


def test_unexpected_inner_content_type(pki: LabPki) -> None:
    message = seal(pki, content_type="1.2.840.113549.1.9.16.1.4")
    with pytest.raises(cms.ContentTypeError, match="encrypted content is 1.2.840.113549.1.9.16.1.4"):
        open_(pki, message)
    assert open_(pki, message, content_type=None).content_type == "1.2.840.113549.1.9.16.1.4"


@pytest.mark.parametrize("data", [b"", b"\x30\x00", b"not a message", b"-----BEGIN CMS-----\n@@\n-----END CMS-----\n"])
def test_malformed(pki: LabPki, data: bytes) -> None:
    with pytest.raises(cms.MalformedError, match="malformed"):
        open_(pki, data)


def test_truncated_and_trailing_garbage(pki: LabPki) -> None:
    message = seal(pki)
    for bad in (message[:-1], message[: len(message) // 2], message + b"\x00"):
        with pytest.raises(cms.MalformedError):
            open_(pki, bad)


def test_recipient_key_must_match_certificate(pki: LabPki) -> None:
    with pytest.raises(cms.CmsError, match="recipient key does not belong"):
        cms.open_(seal(pki), recipient_key=pki.parties["enc-other"].key, recipient_cert=pki.enc(CURVE).cert,
                  trust=[pki.root.cert])


def test_seal_refuses_a_signature_certificate_as_recipient(pki: LabPki) -> None:
    with pytest.raises(cms.CmsError, match="does not allow keyAgreement"):
        seal(pki, recipient=pki.sig(CURVE))


def test_seal_refuses_a_foreign_signer_key(pki: LabPki) -> None:
    with pytest.raises(cms.CmsError, match="signer key does not belong"):
        cms.seal(CONTENT, signer_cert=pki.sig(CURVE).cert, signer_key=pki.sig("prime256v1").key,
                 recipient_certs=[pki.enc(CURVE).cert])


def test_seal_refuses_unknown_key_agreement(pki: LabPki) -> None:
    with pytest.raises(cms.UnsupportedError, match="key agreement OID 1.3.132.1.11.2"):
        seal(pki, kari_oid="1.3.132.1.11.2")
