"""The ASN.1 pieces asn1crypto lacks for TR-03116-3 CMS, the OIDs, and certificate helpers.

How this works: asn1crypto 1.5.1 knows CMS but not GCMParameters (RFC 5084),
ECC-CMS-SharedInfo (RFC 5753 §7.2) nor the key agreement OIDs; they are
declared here. Certificates live as ``cryptography`` objects in the public API
and are converted to asn1crypto only where a CMS structure embeds or names
them (issuer and serial number, subject key identifier). PEM input of any
label is unarmored to DER by :func:`der_of`.
"""

from __future__ import annotations

import hmac

from asn1crypto import cms, core, pem  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from smgwd.wan.cms_errors import CmsError, MalformedError, UnsupportedError, malformed_on_error

__all__ = [
    "DIGESTS", "EccCmsSharedInfo", "GcmParameters", "ID_AUTH_ENVELOPED_DATA", "ID_DATA", "KARI_BSI",
    "KARI_RFC5753", "KARI_SCHEMES", "SIGNED_DATA", "asn1_certificate", "der_of", "ec_public_key",
    "identifies", "issuer_and_serial", "require_key_pair",
]

ID_DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
#: RFC 5753 dhSinglePass-stdDH-sha256kdf-scheme: ephemeral-static ECDH, X9.63 KDF with SHA-256
KARI_RFC5753 = "1.3.132.1.11.1"
#: BSI TR-03111 §5.3.1 ecka-eg-X963KDF-SHA256: the same computation under the BSI OID
#: (ECC-CMS-SharedInfo assumed as for RFC 5753; TR-03109-1 was not available to check)
KARI_BSI = "0.4.0.127.0.7.1.1.5.1.1.3"
#: key agreement OIDs accepted on receipt -> their name; both use X9.63 KDF with SHA-256
KARI_SCHEMES = {KARI_RFC5753: "dhSinglePass-stdDH-sha256kdf-scheme", KARI_BSI: "ecka-eg-X963KDF-SHA256"}
#: digest algorithm names (as asn1crypto spells them) accepted in SignerInfos
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


class GcmParameters(core.Sequence):
    """RFC 5084 GCMParameters: nonce, and the tag length in bytes (default 12)."""

    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


class EccCmsSharedInfo(core.Sequence):
    """RFC 5753 §7.2 ECC-CMS-SharedInfo, the X9.63 KDF's SharedInfo."""

    _fields = [
        ("key_info", cms.KeyEncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def der_of(data: bytes, what: str) -> bytes:
    """``data`` as DER: PEM (any label, e.g. CMS or PKCS7) is unarmored, anything else passed on."""
    if data.lstrip()[:11] != b"-----BEGIN ":
        return data
    with malformed_on_error(f"PEM {what}"):
        _label, _headers, der = pem.unarmor(data.strip())
    if not isinstance(der, bytes) or not der:
        raise MalformedError(f"malformed PEM {what}: no content")
    return der


def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    """``cert`` as an asn1crypto certificate (to embed it or name it in CMS)."""
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return bytes(cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest)
    except x509.ExtensionNotFound:
        return None


def identifies(identifier: core.Choice, cert: x509.Certificate) -> bool:
    """Whether a CMS signer or recipient identifier names ``cert``.

    ``identifier`` is an IssuerAndSerialNumber, a subject key identifier, or an
    RFC 5652 RecipientKeyIdentifier (``r_key_id``) choice.
    """
    kind, value = identifier.name, identifier.chosen
    if kind == "issuer_and_serial_number":
        ours = asn1_certificate(cert)["tbs_certificate"]
        return bool(value["serial_number"].native == cert.serial_number and value["issuer"] == ours["issuer"])
    key_id = value["subject_key_identifier"].native if kind == "r_key_id" else value.native
    own = _subject_key_id(cert)
    return own is not None and isinstance(key_id, bytes) and hmac.compare_digest(key_id, own)


def ec_public_key(cert: x509.Certificate, role: str) -> ec.EllipticCurvePublicKey:
    """The EC public key of ``cert``; an :class:`UnsupportedError` for any other key type."""
    with malformed_on_error(f"{role} certificate"):
        key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnsupportedError(f"{role} certificate '{cert.subject.rfc4514_string()}' has no EC key "
                               f"(TR-03116-3 uses ECDSA and ECDH only)")
    return key


def require_key_pair(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, role: str) -> None:
    """``key`` is the private key of ``cert``'s EC public key, else a :class:`CmsError`."""
    public = ec_public_key(cert, role)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key().public_numbers() != public.public_numbers():
        raise CmsError(f"the {role} key does not belong to the {role} certificate")


def issuer_and_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    """The IssuerAndSerialNumber that names ``cert`` as signer or recipient."""
    tbs = asn1_certificate(cert)["tbs_certificate"]
    return cms.IssuerAndSerialNumber({"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]})
