"""Certificates for keys made elsewhere: the lab PKI's sub-CA signs a participant's certificate signing request.

How this works: a gateway that rotates a key (:mod:`smgwd.wan.key_rotation`)
makes the new key itself and sends only a PKCS#10 request. :func:`sign_request`
checks the request's own signature (proof that its maker holds the key), that
its key is on the sub-CA's curve, and that its subject is exactly the
participant's certificate subject for that kind (``O=smgwd lab, OU=<role>,
CN=<name> <TLS|SIG|ENC>``, as :func:`smgwd.wan.pki.issue` makes it); then the
sub-CA signs a certificate with the kind's extensions, never valid beyond the
sub-CA. Nothing else of the request (extensions, attributes) is taken over:
the CA decides what the certificate may do.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["sign_request"]


def sign_request(directory: Path, request_pem: bytes, role: str, name: str, kind: str, *,
                 passphrase: bytes | None = None, days: int = 730, now: datetime | None = None) -> bytes:
    """The PEM certificate the sub-CA of ``directory`` issues for a request of participant ``name``'s ``kind``."""
    from smgwd.wan.chain import validity
    from smgwd.wan.pki import (KINDS, ROLES, PkiError, _authority, _builder, _check_days,
                               _check_participant, _leaf_extensions, _name, load_index, sub_ca)

    _check_participant(role, name)
    _check_days(days)
    if kind not in KINDS:
        raise PkiError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        request = x509.load_pem_x509_csr(request_pem)
        valid, key = request.is_signature_valid, request.public_key()
    except (ValueError, InternalError, UnsupportedAlgorithm) as error:  # a key that does not parse: ValueError,
        # or with cryptography 38 (Debian 12) an InternalError from OpenSSL's decoder
        raise PkiError(f"not a usable PEM certificate signing request: {str(error)[:200]}") from None
    if not valid:
        raise PkiError("the request's signature does not verify: its maker does not hold its key")
    issuer = sub_ca(Path(directory), load_index(Path(directory)), passphrase)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, type(issuer.key.curve)):
        raise PkiError(f"the request's key is not on the sub-CA's curve {issuer.key.curve.name}")
    wanted = _name(f"{name} {KINDS[kind][0]}", ROLES[role])
    if request.subject != wanted:
        raise PkiError(f"the request names {request.subject.rfc4514_string()}, expected {wanted.rfc4514_string()}")
    builder = _builder(wanted, issuer.cert.subject, key, now or datetime.now(timezone.utc), days,
                       validity(issuer.cert)[1])
    cert = _leaf_extensions(_authority(builder, issuer.cert), kind).sign(issuer.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)
