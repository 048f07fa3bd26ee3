"""AuthEnvelopedData (RFC 5083): AES-GCM content, one ECDH KeyAgreeRecipientInfo per recipient.

How this works (TR-03116-3 §8.1, RFC 5753, RFC 5084):

* encrypt: a fresh AES-128 content key and 96-bit nonce encrypt the content
  with AES-GCM (128-bit tag, no authenticated attributes, so the AAD is
  empty). For each recipient a fresh ephemeral key on the curve of the
  recipient's encryption certificate does ECDH with it (ephemeral-static);
  the X9.63 KDF with SHA-256 over the shared secret, with the DER of
  ECC-CMS-SharedInfo {id-aes128-wrap, key length in bits} as SharedInfo,
  gives the key-encryption key, which wraps the content key (RFC 3394). The
  KeyAgreeRecipientInfo carries the ephemeral public key as originatorKey
  (with its named curve), the key agreement OID (RFC 5753 by default, the BSI
  ECKA-EG OID on request) and the recipient's issuer and serial number.
* decrypt: the recipient info naming our certificate (issuer and serial, or
  subject key identifier) is found; the same ECDH and KDF (SharedInfo built
  from the key-wrap AlgorithmIdentifier exactly as the sender encoded it, and
  its ukm) unwrap the content key, and AES-GCM checks the tag while it
  decrypts. Both key agreement OIDs are accepted, each with SHA-256 only.

Content keys and ephemeral keys live only in local variables of one call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from asn1crypto import cms, core, keys  # type: ignore[import-untyped, unused-ignore]
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smgwd.wan.cms_asn1 import (ID_DATA, KARI_RFC5753, KARI_SCHEMES, EccCmsSharedInfo, GcmParameters,
                                asn1_certificate, ec_public_key, identifies, issuer_and_serial, require_key_pair)
from smgwd.wan.cms_errors import (CmsError, DecryptionError, MalformedError,
                                  NotForRecipientError, UnsupportedError, malformed_on_error)

__all__ = ["Decrypted", "decrypt", "encrypt"]

NONCE_BYTES = 12  # TR-03116-3 Tab. 20: IV 96 bit
TAG_BYTES = 16  # and tag 128 bit
_GCM_KEY_BYTES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_WRAP_KEY_BYTES = {"aes128_wrap": 16, "aes192_wrap": 24, "aes256_wrap": 32}


@dataclass(frozen=True)
class Decrypted:
    """What an AuthEnvelopedData held."""

    content: bytes
    content_type: str  # dotted OID of authEncryptedContentInfo.contentType
    key_agreement: str  # dotted OID of the recipient info's key agreement scheme


def encrypt(content: bytes, recipient_certs: list[x509.Certificate], *,
            content_type: str = ID_DATA, kari_oid: str = KARI_RFC5753) -> bytes:
    """The DER AuthEnvelopedData (no ContentInfo around it) of ``content`` for ``recipient_certs``."""
    if kari_oid not in KARI_SCHEMES:
        raise UnsupportedError(f"key agreement OID {kari_oid} is not one of {', '.join(KARI_SCHEMES)}")
    if not recipient_certs:
        raise CmsError("no recipient certificate")
    content_key = AESGCM.generate_key(bit_length=128)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(content_key).encrypt(nonce, content, None)
    recipients = [cms.RecipientInfo({"kari": _key_agree_info(cert, content_key, kari_oid)})
                  for cert in recipient_certs]
    return bytes(cms.AuthEnvelopedData({
        "version": "v0",
        "recipient_infos": recipients,
        "auth_encrypted_content_info": {
            "content_type": content_type,
            "content_encryption_algorithm": {
                "algorithm": "aes128_gcm",
                "parameters": GcmParameters({"aes_nonce": nonce, "aes_icvlen": TAG_BYTES}),
            },
            "encrypted_content": sealed[:-TAG_BYTES],
        },
        "mac": sealed[-TAG_BYTES:],
    }).dump())


def _key_agree_info(cert: x509.Certificate, content_key: bytes, kari_oid: str) -> cms.KeyAgreeRecipientInfo:
    public = ec_public_key(cert, "recipient")
    _require_key_agreement(cert)
    ephemeral = ec.generate_private_key(public.curve)
    wrap = cms.KeyEncryptionAlgorithm({"algorithm": "aes128_wrap"})  # parameters absent (RFC 3394)
    kek = _key_encryption_key(ephemeral.exchange(ec.ECDH(), public), wrap, None)
    originator = keys.PublicKeyInfo.load(
        ephemeral.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    return cms.KeyAgreeRecipientInfo({
        "version": "v3",
        "originator": cms.OriginatorIdentifierOrKey({"originator_key": originator}),
        "key_encryption_algorithm": {"algorithm": kari_oid, "parameters": wrap},
        "recipient_encrypted_keys": [{
            "rid": {"issuer_and_serial_number": issuer_and_serial(cert)},
            "encrypted_key": aes_key_wrap(kek, content_key),
        }],
    })


def _require_key_agreement(cert: x509.Certificate) -> None:
    """A recipient certificate with a key usage extension must allow keyAgreement."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_agreement:
        raise CmsError(f"recipient certificate '{cert.subject.rfc4514_string()}' does not allow keyAgreement "
                       f"(is it the participant's encryption certificate?)")


def _key_encryption_key(shared_secret: bytes, wrap: cms.KeyEncryptionAlgorithm, ukm: bytes | None) -> bytes:
    """X9.63 KDF (SHA-256) over the ECDH secret with RFC 5753 ECC-CMS-SharedInfo."""
    length = _WRAP_KEY_BYTES[wrap["algorithm"].native]
    shared_info = EccCmsSharedInfo({"key_info": wrap, "supp_pub_info": (8 * length).to_bytes(4, "big")})
    if ukm is not None:
        shared_info["entity_u_info"] = ukm
    return X963KDF(algorithm=hashes.SHA256(), length=length, sharedinfo=shared_info.dump()).derive(shared_secret)


@dataclass(frozen=True)
class _Recipient:
    """Our KeyAgreeRecipientInfo, read out of the message."""

    scheme: str  # key agreement OID
    wrap: cms.KeyEncryptionAlgorithm
    curve: str | None  # named curve OID of the originator key, None when absent or NULL
    point: bytes
    ukm: bytes | None
    wrapped_key: bytes


@dataclass(frozen=True)
class _Envelope:
    content_type: str
    algorithm: str
    nonce: bytes
    tag_length: int
    ciphertext: bytes
    mac: bytes
    aad: bytes | None
    recipient: _Recipient | None


def decrypt(data: bytes, recipient_key: ec.EllipticCurvePrivateKey, recipient_cert: x509.Certificate) -> Decrypted:
    """Open the DER AuthEnvelopedData ``data`` with our encryption key; raises a :class:`CmsError`."""
    require_key_pair(recipient_key, recipient_cert, "recipient")
    with malformed_on_error("AuthEnvelopedData"):
        envelope = _parse(data, recipient_cert)
    if envelope.recipient is None:
        name, serial = recipient_cert.subject.rfc4514_string(), recipient_cert.serial_number
        raise NotForRecipientError(f"not for this recipient: no recipient info names '{name}' (serial {serial:x})")
    content_key = _unwrap_content_key(envelope.recipient, recipient_key, recipient_cert)
    return Decrypted(_decrypt_content(envelope, content_key), envelope.content_type, envelope.recipient.scheme)


def _parse(data: bytes, recipient_cert: x509.Certificate) -> _Envelope:
    """Everything decrypt needs, as plain values (asn1crypto parses lazily: all access happens here)."""
    aed = cms.AuthEnvelopedData.load(data, strict=True)
    if aed["version"].native != "v0":
        raise MalformedError(f"AuthEnvelopedData version {aed['version'].native}, expected v0")
    info = aed["auth_encrypted_content_info"]
    algorithm = info["content_encryption_algorithm"]
    name = algorithm["algorithm"].native
    if name not in _GCM_KEY_BYTES:
        raise UnsupportedError(f"content encryption {name} is not supported: only AES-GCM (RFC 5084); "
                               f"AES-CBC with CMAC (TR-03116-3 Tab. 20 b) needs TR-03109-1's encoding")
    params = GcmParameters.load(algorithm["parameters"].dump(), strict=True)
    ciphertext = info["encrypted_content"].native
    if ciphertext is None:
        raise MalformedError("AuthEnvelopedData without encrypted content (detached content is not supported)")
    auth_attrs = aed["auth_attrs"]
    return _Envelope(
        content_type=info["content_type"].dotted,
        algorithm=name,
        nonce=params["aes_nonce"].native,
        tag_length=params["aes_icvlen"].native,
        ciphertext=ciphertext,
        mac=aed["mac"].native,
        aad=None if isinstance(auth_attrs, core.Void) else b"\x31" + auth_attrs.dump()[1:],
        recipient=_find_recipient(aed["recipient_infos"], recipient_cert),
    )


def _find_recipient(infos: cms.RecipientInfos, recipient_cert: x509.Certificate) -> _Recipient | None:
    for info in infos:
        if info.name != "kari":
            continue
        kari = info.chosen
        for encrypted in kari["recipient_encrypted_keys"]:
            if identifies(encrypted["rid"], recipient_cert):
                return _read_kari(kari, encrypted["encrypted_key"].native)
    return None


def _read_kari(kari: cms.KeyAgreeRecipientInfo, wrapped_key: bytes) -> _Recipient:
    if kari["version"].native != "v3":
        raise MalformedError(f"KeyAgreeRecipientInfo version {kari['version'].native}, expected v3")
    originator = kari["originator"]
    if originator.name != "originator_key":
        raise UnsupportedError(f"originator identified by {originator.name}: only ephemeral-static ECDH "
                               f"(originatorKey) is supported")
    key_info = originator.chosen
    if key_info["algorithm"]["algorithm"].native != "ec":
        raise UnsupportedError(f"originator key of type {key_info['algorithm']['algorithm'].native}, expected EC")
    params = key_info["algorithm"]["parameters"]
    curve = None if isinstance(params, core.Void) or params.name == "implicit_ca" else params
    if curve is not None and curve.name != "named":
        raise UnsupportedError("originator key with explicit curve parameters: only named curves are supported")
    scheme = kari["key_encryption_algorithm"]["algorithm"].dotted
    if scheme not in KARI_SCHEMES:
        accepted = ", ".join(f"{oid} {name}" for oid, name in KARI_SCHEMES.items())
        raise UnsupportedError(f"key agreement {scheme} is not accepted: TR-03116-3 needs ephemeral-static ECDH "
                               f"with the X9.63 KDF over SHA-256 ({accepted})")
    wrap = cms.KeyEncryptionAlgorithm.load(kari["key_encryption_algorithm"]["parameters"].dump(), strict=True)
    if wrap["algorithm"].native not in _WRAP_KEY_BYTES:
        raise UnsupportedError(f"key wrap {wrap['algorithm'].native} is not supported (expected id-aes128-wrap)")
    ukm = kari["ukm"]
    return _Recipient(
        scheme=scheme,
        wrap=wrap,
        curve=None if curve is None else curve.chosen.dotted,
        point=key_info["public_key"].native,
        ukm=None if isinstance(ukm, core.Void) else ukm.native,
        wrapped_key=wrapped_key,
    )


def _curve_oid(cert: x509.Certificate) -> str | None:
    params = asn1_certificate(cert)["tbs_certificate"]["subject_public_key_info"]["algorithm"]["parameters"]
    return str(params.chosen.dotted) if params.name == "named" else None


def _unwrap_content_key(recipient: _Recipient, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> bytes:
    with malformed_on_error("recipient certificate"):
        own_curve = _curve_oid(cert)
    if recipient.curve is not None and recipient.curve != own_curve:
        raise MalformedError(f"originator key on curve {recipient.curve}, "
                             f"not on the recipient's curve {key.curve.name}")
    try:
        originator = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, recipient.point)
    except ValueError:
        raise MalformedError(f"originator key is not a point on {key.curve.name}") from None
    kek = _key_encryption_key(key.exchange(ec.ECDH(), originator), recipient.wrap, recipient.ukm)
    try:
        return aes_key_unwrap(kek, recipient.wrapped_key)
    except InvalidUnwrap:
        raise DecryptionError("key unwrap failed: the wrapped content key or the originator key was "
                              "altered, or the message was made for another key") from None
    except ValueError as error:
        raise MalformedError(f"malformed wrapped content key: {error}") from None


def _decrypt_content(envelope: _Envelope, content_key: bytes) -> bytes:
    if len(content_key) != _GCM_KEY_BYTES[envelope.algorithm]:
        raise DecryptionError(f"content key of {len(content_key)} bytes does not fit {envelope.algorithm}")
    if len(envelope.nonce) != NONCE_BYTES or envelope.tag_length != TAG_BYTES:
        raise UnsupportedError(f"AES-GCM with a {len(envelope.nonce)}-byte nonce and {envelope.tag_length}-byte tag: "
                               f"TR-03116-3 prescribes {NONCE_BYTES} and {TAG_BYTES}")
    if len(envelope.mac) != TAG_BYTES:
        raise MalformedError(f"authentication tag of {len(envelope.mac)} bytes, the parameters say {TAG_BYTES}")
    try:
        return AESGCM(content_key).decrypt(envelope.nonce, envelope.ciphertext + envelope.mac, envelope.aad)
    except InvalidTag:
        raise DecryptionError("authentication tag mismatch: the ciphertext, the tag or the "
                              "authenticated attributes were altered") from None
