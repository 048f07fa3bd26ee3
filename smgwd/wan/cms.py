"""CMS for the WAN as TR-03116-3 §8 prescribes: encrypt for the recipients, then sign.

How this works: :func:`seal` builds an AuthEnvelopedData (AES-128-GCM content,
one ECDH KeyAgreeRecipientInfo per recipient encryption certificate: see
:mod:`smgwd.wan.cms_envelope`) and signs its DER as the eContent of a
SignedData whose eContentType is id-ct-authEnvelopedData (ECDSA/SHA-256 with
the sender's signature certificate: :mod:`smgwd.wan.cms_signed`).
:func:`open_` undoes it in the safe order: verify the signature and signed
attributes, check that the signer certificate chains to a trusted root, and
only then decrypt and check the GCM tag. Every refusal is a
:class:`~smgwd.wan.cms_errors.CmsError` subclass naming the reason.

The chain check is a parameter, ``verify_chain(cert, untrusted, roots)``: by
default :func:`verify_signer_chain`, i.e. :func:`smgwd.wan.chain.verify_chain`
for the ``signature`` purpose (validity, issuer, basic constraints, key
usage). Any callable with that signature can replace it; it refuses by
raising :class:`~smgwd.wan.chain.ChainError`, ``ValueError`` or a ``CmsError``
and may return the path it verified. The certificates a message carries are
parsed in full before (keys, extensions), so a verifier sees no malformed one.

Both sides prove interoperability with ``openssl cms`` in tests/wan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.wan.chain import ChainError
from smgwd.wan.chain import verify_chain as _verify_chain
from smgwd.wan.cms_asn1 import ID_AUTH_ENVELOPED_DATA, ID_DATA, KARI_BSI, KARI_RFC5753, KARI_SCHEMES
from smgwd.wan.cms_envelope import decrypt, encrypt
from smgwd.wan.cms_errors import (CmsError, ContentTypeError, DecryptionError, DigestMismatchError, MalformedError,
                                  NotForRecipientError, SignatureError, UnsupportedError, UntrustedSignerError)
from smgwd.wan.cms_signed import sign, verify
from smgwd.wan.message_identity import IDENTITY_OID, MessageIdentity

__all__ = [
    "ID_AUTH_ENVELOPED_DATA", "ID_DATA", "KARI_BSI", "KARI_RFC5753", "KARI_SCHEMES",
    "ChainVerifier", "CmsError", "ContentTypeError", "DecryptionError", "DigestMismatchError", "MalformedError",
    "NotForRecipientError", "Opened", "SignatureError", "UnsupportedError", "UntrustedSignerError", "signer_chain_with",
    "open_", "seal", "verify_signer_chain",
]

#: ``(signer_cert, untrusted, roots) -> path or None``; raises to refuse the signer
ChainVerifier = Callable[[x509.Certificate, Sequence[x509.Certificate], Sequence[x509.Certificate]],
                         "Sequence[x509.Certificate] | None"]


@dataclass(frozen=True)
class Opened:
    """A message that verified and decrypted."""

    content: bytes
    content_type: str  # dotted OID of the encrypted content (id-data for COSEM/XML)
    signer_cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # the verified path, signer first (as the verifier returned it)
    signing_time: datetime | None
    key_agreement: str  # dotted OID the sender used (KARI_RFC5753 or KARI_BSI)
    identity: MessageIdentity | None = None  # the signed message identity, if the sender gave one


def seal(content: bytes, *, signer_cert: x509.Certificate, signer_key: ec.EllipticCurvePrivateKey,
         recipient_certs: Sequence[x509.Certificate], chain: Sequence[x509.Certificate] = (),
         content_type: str = ID_DATA, kari_oid: str = KARI_RFC5753, signing_time: datetime | None = None,
         identity: MessageIdentity | None = None) -> bytes:
    """DER ContentInfo(SignedData(AuthEnvelopedData(content))) for ``recipient_certs`` (encryption certificates).

    ``chain`` certificates (e.g. the sub-CA) travel in the SignedData next to the
    signer's; ``kari_oid`` is :data:`KARI_RFC5753` (default, what OpenSSL and
    BouncyCastle read) or :data:`KARI_BSI`. ``identity`` goes into the signed
    attributes (:mod:`smgwd.wan.message_identity`).
    """
    envelope = encrypt(content, list(recipient_certs), content_type=content_type, kari_oid=kari_oid)
    attributes = [] if identity is None else [(IDENTITY_OID, identity.to_der())]
    return sign(envelope, ID_AUTH_ENVELOPED_DATA, signer_cert, signer_key, chain=chain, signing_time=signing_time,
                attributes=attributes)


def verify_signer_chain(cert: x509.Certificate, untrusted: Sequence[x509.Certificate],
                        roots: Sequence[x509.Certificate], *, at: datetime | None = None,
                        crls: Sequence[x509.CertificateRevocationList] = ()) -> list[x509.Certificate]:
    """The default chain check: ``cert`` is a valid signature certificate under one of ``roots`` (not on ``crls``)."""
    return _verify_chain(cert, untrusted, roots, purpose="signature", at=at, crls=crls)


def signer_chain_with(crls: Sequence[x509.CertificateRevocationList]) -> ChainVerifier:
    """:func:`verify_signer_chain` that also checks the path against ``crls``."""
    def check(cert: x509.Certificate, untrusted: Sequence[x509.Certificate],
              roots: Sequence[x509.Certificate]) -> list[x509.Certificate]:
        return verify_signer_chain(cert, untrusted, roots, crls=crls)

    return check


def open_(data: bytes, *, recipient_key: ec.EllipticCurvePrivateKey, recipient_cert: x509.Certificate,
          trust: Sequence[x509.Certificate], untrusted: Sequence[x509.Certificate] = (),
          verify_chain: ChainVerifier = verify_signer_chain, content_type: str | None = ID_DATA) -> Opened:
    """Verify, check the signer against the ``trust`` roots, then decrypt; raises a :class:`CmsError`.

    ``data`` is DER or PEM. ``untrusted`` are extra intermediates (the message's
    own certificates are used too). ``content_type`` is the expected type of the
    encrypted content (None: any).
    """
    verified = verify(data, untrusted)
    if verified.econtent_type != ID_AUTH_ENVELOPED_DATA:
        raise ContentTypeError(f"the signed content is {verified.econtent_type}, expected id-ct-authEnvelopedData "
                               f"({ID_AUTH_ENVELOPED_DATA}): TR-03116-3 §8 encrypts, then signs")
    pool = [cert for cert in (*verified.certificates, *untrusted) if cert != verified.signer_cert]
    try:
        path = verify_chain(verified.signer_cert, pool, list(trust))
    except (ChainError, ValueError) as error:
        raise UntrustedSignerError(f"untrusted signer: {error}") from None

    identity = verified.attributes.get(IDENTITY_OID)
    decrypted = decrypt(verified.econtent, recipient_key, recipient_cert)
    if content_type is not None and decrypted.content_type != content_type:
        raise ContentTypeError(f"the encrypted content is {decrypted.content_type}, expected {content_type}")
    return Opened(decrypted.content, decrypted.content_type, verified.signer_cert,
                  tuple(path) if path else (verified.signer_cert,), verified.signing_time, decrypted.key_agreement,
                  None if identity is None else MessageIdentity.from_der(identity))
