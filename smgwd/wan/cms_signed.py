"""SignedData (RFC 5652 §5) with one ECDSA signer, over any encapsulated content type.

How this works (TR-03116-3 §8.2):

* sign: the eContent is embedded (not detached); the signed attributes are
  content-type (= eContentType), signing-time and message-digest (SHA-256 of
  the eContent octets), then any further attributes the caller gives (type OID
  and DER value); ECDSA with SHA-256 signs the DER of that SET OF with
  the signer's signature key. The signer is named by issuer and serial number;
  its certificate and the given chain certificates travel in ``certificates``.
  SHA-256 AlgorithmIdentifiers are written with absent parameters (RFC 5754).
* verify: exactly one SignerInfo; its certificate is found among the message's
  certificates and the caller's extra ones; the signature is checked over the
  signed attributes exactly as the sender encoded them (SET OF tag restored),
  then the message-digest attribute against the eContent and the content-type
  attribute against eContentType; further attributes come back as their DER
  value by type OID. Whether the signer is trusted is not decided here (see
  :mod:`smgwd.wan.cms`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from asn1crypto import algos, cms, core  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.wan.cms_asn1 import (DIGESTS, ID_DATA, SIGNED_DATA, asn1_certificate, der_of, ec_public_key, identifies,
                                issuer_and_serial, require_key_pair)
from smgwd.wan.cms_errors import (ContentTypeError, DigestMismatchError, MalformedError, SignatureError,
                                  UnsupportedError, malformed_on_error)

__all__ = ["Verified", "sign", "verify"]

_STANDARD = ("content_type", "message_digest", "signing_time")

#: DER of AlgorithmIdentifier{sha256} with absent parameters (asn1crypto would write NULL)
_SHA256 = bytes.fromhex("300b0609608648016503040201")


@dataclass(frozen=True)
class Verified:
    """A SignedData whose signature and signed attributes verified (signer not yet trusted)."""

    econtent_type: str  # dotted OID
    econtent: bytes
    signer_cert: x509.Certificate
    certificates: tuple[x509.Certificate, ...]  # all certificates the message carried
    signing_time: datetime | None
    attributes: dict[str, bytes]  # further signed attributes: dotted type OID -> DER of the one value


def sign(econtent: bytes, econtent_type: str, signer_cert: x509.Certificate, signer_key: ec.EllipticCurvePrivateKey,
         *, chain: Sequence[x509.Certificate] = (), signing_time: datetime | None = None,
         attributes: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """DER ContentInfo(SignedData) over ``econtent``, signed with ECDSA/SHA-256 by ``signer_key``."""
    require_key_pair(signer_key, signer_cert, "signer")
    when = (signing_time or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(econtent)
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": {"issuer_and_serial_number": issuer_and_serial(signer_cert)},
        "digest_algorithm": algos.DigestAlgorithm.load(_SHA256),
        "signed_attrs": [
            {"type": "content_type", "values": [econtent_type]},
            {"type": "signing_time",
             "values": [cms.Time({"utc_time" if 1950 <= when.year < 2050 else "generalized_time": when})]},
            {"type": "message_digest", "values": [digest.finalize()]},
            *({"type": oid, "values": [core.Any.load(value)]} for oid, value in attributes),
        ],
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": b"",
    })
    signer_info["signature"] = signer_key.sign(_signed_bytes(signer_info), ec.ECDSA(hashes.SHA256()))
    signed_data = cms.SignedData({
        "version": "v1" if econtent_type == ID_DATA else "v3",
        "digest_algorithms": [algos.DigestAlgorithm.load(_SHA256)],
        "encap_content_info": {"content_type": econtent_type, "content": (
            core.OctetString(econtent) if econtent_type == ID_DATA else core.ParsableOctetString(econtent))},
        "certificates": [asn1_certificate(cert) for cert in (signer_cert, *chain)],
        "signer_infos": [signer_info],
    })
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def _signed_bytes(signer_info: cms.SignerInfo) -> bytes:
    """What the signature covers: the signed attributes as a DER SET OF (the [0] tag replaced)."""
    return b"\x31" + bytes(signer_info["signed_attrs"].dump()[1:])


@dataclass(frozen=True)
class _Signed:
    """The SignedData's parts that verify needs, as plain values."""

    econtent_type: str
    econtent: bytes
    certificates: tuple[x509.Certificate, ...]
    signer_cert: x509.Certificate | None
    digest: type[hashes.HashAlgorithm]
    signature_hash: type[hashes.HashAlgorithm]
    signed_bytes: bytes
    signature: bytes
    content_type_attr: str
    message_digest: bytes
    signing_time: datetime | None
    attributes: dict[str, bytes]


def verify(data: bytes, extra_certs: Sequence[x509.Certificate] = ()) -> Verified:
    """Check the signature of the ContentInfo(SignedData) ``data`` (DER, or PEM); raises a :class:`CmsError`.

    ``extra_certs`` may hold the signer certificate when the message does not carry it.
    """
    der = der_of(data, "CMS message")
    with malformed_on_error("SignedData"):
        signed = _parse(der, extra_certs)
    if signed.signer_cert is None:
        raise SignatureError("the signer certificate is neither in the message nor among the given certificates")
    key = ec_public_key(signed.signer_cert, "signer")
    try:
        key.verify(signed.signature, signed.signed_bytes, ec.ECDSA(signed.signature_hash()))
    except InvalidSignature:
        raise SignatureError(f"bad signature: the signed attributes do not verify with the key of "
                             f"'{signed.signer_cert.subject.rfc4514_string()}'") from None
    digest = hashes.Hash(signed.digest())
    digest.update(signed.econtent)
    if not hmac.compare_digest(digest.finalize(), signed.message_digest):
        raise DigestMismatchError("message digest mismatch: the signed content was replaced or altered")
    if signed.content_type_attr != signed.econtent_type:
        raise ContentTypeError(f"content-type attribute {signed.content_type_attr} differs from the "
                               f"eContentType {signed.econtent_type}")
    return Verified(signed.econtent_type, signed.econtent, signed.signer_cert, signed.certificates,
                    signed.signing_time, signed.attributes)


def _parse(der: bytes, extra_certs: Sequence[x509.Certificate]) -> _Signed:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != SIGNED_DATA:
        raise ContentTypeError(f"expected SignedData, got content type {info['content_type'].dotted} "
                               f"({info['content_type'].native})")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    econtent = encap["content"]  # a version 1 SignedData is read with the PKCS #7 spec: a plain OctetString
    if not isinstance(econtent, (core.ParsableOctetString, core.OctetString)):
        raise MalformedError("SignedData without embedded content (detached signatures are not supported)"
                             if isinstance(econtent, core.Void) else "eContent is not an OCTET STRING")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise MalformedError(f"SignedData with {len(signer_infos)} signer infos, expected exactly one")
    signer_info = signer_infos[0]
    certificates = tuple(_certificate(choice.chosen) for choice in signed_data["certificates"]
                         if choice.name == "certificate")
    signer_cert = next((cert for cert in (*certificates, *extra_certs) if identifies(signer_info["sid"], cert)), None)
    attributes = _attributes(signer_info["signed_attrs"])
    digest = _hash(signer_info["digest_algorithm"]["algorithm"].native, "digest")
    signature_algorithm = signer_info["signature_algorithm"]
    if signature_algorithm.signature_algo != "ecdsa":
        raise UnsupportedError(f"signature algorithm {signature_algorithm['algorithm'].native}: expected ECDSA")
    signature_hash = digest if signature_algorithm["algorithm"].native == "ecdsa" else \
        _hash(signature_algorithm.hash_algo, "signature hash")
    signing_time = attributes.get("signing_time")
    return _Signed(
        econtent_type=encap["content_type"].dotted,
        econtent=bytes(econtent) if isinstance(econtent, core.ParsableOctetString) else econtent.native,
        certificates=certificates,
        signer_cert=signer_cert,
        digest=digest,
        signature_hash=signature_hash,
        signed_bytes=_signed_bytes(signer_info),
        signature=signer_info["signature"].native,
        content_type_attr=attributes["content_type"].dotted,
        message_digest=attributes["message_digest"].native,
        signing_time=None if signing_time is None else signing_time.native,
        attributes={name: bytes(value.dump()) for name, value in attributes.items() if name not in _STANDARD},
    )


def _certificate(cert: asn1_x509.Certificate) -> x509.Certificate:
    """A certificate the message carries, parsed in full here, so that a hostile one is malformed input."""
    if cert.serial_number <= 0:  # cryptography only warns (and will refuse) on these
        raise MalformedError("certificate with a serial number that is not positive (RFC 5280 §4.1.2.2)")
    loaded = x509.load_der_x509_certificate(cert.dump())
    _ = loaded.subject, loaded.issuer, loaded.extensions, loaded.public_key()  # parsed lazily by cryptography
    return loaded


def _attributes(signed_attrs: cms.CMSAttributes) -> dict[str, core.Asn1Value]:
    """Signed attribute name -> its one value; content-type and message-digest must be there (RFC 5652 §5.3)."""
    if isinstance(signed_attrs, core.Void):
        raise MalformedError("SignerInfo without signed attributes (needed when eContentType is not id-data)")
    found: dict[str, core.Asn1Value] = {}
    for attribute in signed_attrs:
        name = attribute["type"].native
        if name in found or len(attribute["values"]) != 1:
            raise MalformedError(f"signed attribute {name} must occur once with one value")
        found[name] = attribute["values"][0]
    for needed in ("content_type", "message_digest"):
        if needed not in found:
            raise MalformedError(f"signed attribute {needed} missing")
    return found


def _hash(name: str, role: str) -> type[hashes.HashAlgorithm]:
    if name not in DIGESTS:
        raise UnsupportedError(f"{role} algorithm {name} is not supported (SHA-256, SHA-384, SHA-512)")
    return DIGESTS[name]
