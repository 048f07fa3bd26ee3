"""Certificate chain verification in our own code, for SM-PKI (brainpool) chains.

How this works: the ``cryptography`` x509 verifier refuses brainpool curves, so
:func:`verify_chain` checks a chain itself, the RFC 5280 way but kept to what
the Smart-Metering PKI uses (ECDSA only, no CRLs, no policies or name
constraints). It first builds candidate paths from the leaf upwards: a
certificate's issuer is any supplied certificate whose subject equals its
issuer name and, when both carry them, whose subject key identifier equals
its authority key identifier; a path ends at a trusted root. Then it checks
each path from the leaf up: validity at ``at``, unhandled critical
extensions, the issuer's basic constraints (CA, path length) and key usage
(keyCertSign), and the ECDSA signature with the issuer's public key and the
hash the signature algorithm names. The leaf must carry the key usages of the
intended ``purpose`` (:data:`PURPOSES`). The first path that passes is
returned; otherwise :class:`ChainError` says why, in words an operator can act
on. Trusted roots are trust anchors: their own signature is not checked, but
their validity, CA flag, key usage and path length are.

Works with ``cryptography`` 38 (Debian 12) and later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

__all__ = ["PURPOSES", "ChainError", "Purpose", "load_certs", "validity", "verify_chain"]

_Ext = TypeVar("_Ext", bound=x509.ExtensionType)
_Loaded = TypeVar("_Loaded")

MAX_DEPTH = 8  # certificates in a path, leaf and root included


class ChainError(Exception):
    """A chain that does not verify; ``reason`` says why, naming the certificate."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Purpose:
    """What a leaf certificate must allow: key usage bits, and one of ``eku`` when not empty."""

    key_usage: tuple[str, ...]
    eku: tuple[x509.ObjectIdentifier, ...] = ()


#: purpose name -> what the leaf must carry (TLS: either side of a mutual TLS connection)
PURPOSES: dict[str, Purpose] = {
    "tls": Purpose(("digital_signature",), (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)),
    "signature": Purpose(("digital_signature", "content_commitment")),
    "encryption": Purpose(("key_agreement",)),
}

_KU_NAMES = {"digital_signature": "digitalSignature", "content_commitment": "nonRepudiation",
             "key_agreement": "keyAgreement", "key_cert_sign": "keyCertSign"}
_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
_HANDLED_CRITICAL = {
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
}


def load_pem_or_der(data: bytes, label: str, pem: Callable[[bytes], _Loaded],
                    der: Callable[[bytes], _Loaded]) -> list[_Loaded]:
    """Every PEM block ``-----BEGIN <label>-----`` of ``data`` loaded with ``pem`` (others skipped), or, without
    PEM, ``data`` as one DER object loaded with ``der``. ValueError when there is none or one does not parse."""
    if b"-----BEGIN" in data:
        begin, end = f"-----BEGIN {label}-----".encode(), f"-----END {label}-----".encode()
        found = [pem(block) for block in re.findall(re.escape(begin) + rb".+?" + re.escape(end), data, re.DOTALL)]
        if not found:
            raise ValueError(f"no PEM {label.lower()} in input")
        return found
    return [der(data)]


def load_certs(data: bytes) -> list[x509.Certificate]:
    """All certificates in ``data``: PEM (any number, other PEM blocks skipped) or one DER certificate.

    Raises ValueError when there is none or one does not parse.
    """
    return load_pem_or_der(data, "CERTIFICATE", x509.load_pem_x509_certificate, x509.load_der_x509_certificate)


def verify_chain(
    leaf: x509.Certificate,
    untrusted: Iterable[x509.Certificate],
    roots: Iterable[x509.Certificate],
    *,
    purpose: str,
    at: datetime | None = None,
    crls: Sequence[x509.CertificateRevocationList] = (),
) -> list[x509.Certificate]:
    """Verify ``leaf`` for ``purpose`` up to one of ``roots``; returns the path, leaf first, root last.

    ``untrusted`` are intermediates that may be used to build the path (e.g. the
    sub-CA sent along); ``at`` is the time of the check (default now; a naive
    datetime is taken as UTC); with ``crls``, no certificate of the path may be on its issuer's CRL
    (:func:`smgwd.wan.pki_revocation.check_revoked`). Raises :class:`ChainError` with the reason.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r} (known: {', '.join(PURPOSES)})")
    when = datetime.now(timezone.utc) if at is None else at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    try:
        path = _verify(leaf, untrusted, roots, purpose, when)
        if crls:
            from smgwd.wan.pki_revocation import check_revoked

            check_revoked(path, crls, when)
        return path
    except ChainError:
        raise
    except Exception as error:  # noqa: BLE001 - hostile certificates (unknown curves, duplicate extensions)
        raise ChainError(f"unreadable certificate: {type(error).__name__}: {error}") from None


def _verify(
    leaf: x509.Certificate, untrusted: Iterable[x509.Certificate], roots: Iterable[x509.Certificate],
    purpose: str, when: datetime,
) -> list[x509.Certificate]:
    trusted = {_der(root): root for root in roots}
    pool = [*trusted.values(), *untrusted]
    paths = _paths([leaf], pool, trusted)
    if not paths:
        raise ChainError(_no_path_reason(leaf, pool))
    failures: list[ChainError] = []
    for path in paths:
        try:
            _check_path(path, when)
            _check_purpose(leaf, purpose)
            return path
        except ChainError as error:
            failures.append(error)
    raise failures[0]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _name(cert: x509.Certificate) -> str:
    return f"'{cert.subject.rfc4514_string()}'"


def _extension(cert: x509.Certificate, kind: type[_Ext]) -> _Ext | None:
    """The value of ``cert``'s extension of type ``kind``, None when absent."""
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as error:  # duplicate or malformed extensions
        raise ChainError(f"malformed certificate {_name(cert)}: {error}") from None


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Names chain, and key identifiers agree where both certificates carry them."""
    if child.issuer != issuer.subject:
        return False
    authority = _extension(child, x509.AuthorityKeyIdentifier)
    wanted = authority.key_identifier if authority is not None else None
    subject = _extension(issuer, x509.SubjectKeyIdentifier)
    have = subject.digest if subject is not None else None
    return wanted is None or have is None or wanted == have


def _self_issued(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)


def _paths(
    path: list[x509.Certificate], pool: Sequence[x509.Certificate], trusted: dict[bytes, x509.Certificate],
) -> list[list[x509.Certificate]]:
    """Every path from ``path[-1]`` up to a trusted root through ``pool``, shortest first."""
    last = path[-1]
    if _der(last) in trusted:
        return [path]
    if len(path) >= MAX_DEPTH or _self_issued(last):
        return []
    seen = {_der(cert) for cert in path}
    found: list[list[x509.Certificate]] = []
    for issuer in pool:
        if _der(issuer) not in seen and _issued_by(last, issuer):
            seen.add(_der(issuer))  # a certificate given twice is tried once
            found.extend(_paths([*path, issuer], pool, trusted))
    return sorted(found, key=len)


def _no_path_reason(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> str:
    """Why no path from ``leaf`` reaches a trusted root."""
    if _self_issued(leaf):
        return f"self-signed certificate {_name(leaf)} is not trusted"
    cert = leaf
    for _ in range(MAX_DEPTH):  # follow the untrusted part as far as it goes, to name the missing CA
        step = next((c for c in pool if _issued_by(cert, c) and c is not cert), None)
        if step is None:
            break
        if _self_issued(step):
            return f"unknown CA: the chain ends at the self-signed {_name(step)}, which is not trusted"
        cert = step
    issuer = f"'{cert.issuer.rfc4514_string()}'"
    if any(c.subject == cert.issuer for c in pool):
        return (f"wrong issuer / unknown CA: {_name(cert)} was issued by a CA named {issuer} "
                "whose key is not among the trusted and supplied certificates")
    return f"unknown CA: no trusted or supplied certificate for issuer {issuer} of {_name(cert)}"


def _check_path(path: list[x509.Certificate], when: datetime) -> None:
    """Validity, critical extensions, issuer constraints and signatures along ``path`` (leaf first)."""
    for cert in path:
        _check_validity(cert, when)
        _check_critical(cert)
    for depth, (child, issuer) in enumerate(zip(path, path[1:])):
        _check_issuer(issuer, cas_below=depth)
        _check_signature(child, issuer)


def validity(cert: x509.Certificate) -> tuple[datetime, datetime]:
    """``cert``'s notBefore and notAfter as aware UTC datetimes (any cryptography version)."""
    if hasattr(cert, "not_valid_before_utc"):  # cryptography >= 42
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    return (cert.not_valid_before.replace(tzinfo=timezone.utc),  # cryptography < 42
            cert.not_valid_after.replace(tzinfo=timezone.utc))


def _check_validity(cert: x509.Certificate, when: datetime) -> None:
    start, end = validity(cert)
    if when < start:
        raise ChainError(f"not yet valid: {_name(cert)} is valid from {start.isoformat()}")
    if when > end:
        raise ChainError(f"expired: {_name(cert)} was valid until {end.isoformat()}")


def _check_critical(cert: x509.Certificate) -> None:
    try:
        extensions = list(cert.extensions)
    except ValueError as error:
        raise ChainError(f"malformed certificate {_name(cert)}: {error}") from None
    for extension in extensions:
        if extension.critical and extension.oid not in _HANDLED_CRITICAL:
            raise ChainError(f"unhandled critical extension {extension.oid.dotted_string} in {_name(cert)}")


def _check_issuer(issuer: x509.Certificate, cas_below: int) -> None:
    """``issuer`` may sign certificates, with ``cas_below`` CA certificates between it and the leaf."""
    constraints = _extension(issuer, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise ChainError(f"CA:false used as issuer: {_name(issuer)} is not a CA certificate")
    if constraints.path_length is not None and cas_below > constraints.path_length:
        raise ChainError(f"path too long: {_name(issuer)} allows {constraints.path_length} CA certificate(s) "
                         f"below it, the chain has {cas_below}")
    _require_key_usage(issuer, ("key_cert_sign",), "as issuer")


def _key_usage_set(cert: x509.Certificate) -> set[str] | None:
    """The names of the key usage bits ``cert`` asserts (None: no key usage extension)."""
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        return None
    return {name for name in _KU_NAMES if getattr(usage, name)}


def _require_key_usage(cert: x509.Certificate, needed: tuple[str, ...], role: str) -> None:
    usage = _key_usage_set(cert)
    missing = [] if usage is None else [_KU_NAMES[name] for name in needed if name not in usage]
    if missing:
        raise ChainError(f"wrong key usage: {_name(cert)} lacks {', '.join(missing)} {role}")


def _check_purpose(leaf: x509.Certificate, purpose: str) -> None:
    """The leaf carries a key usage extension with the bits, and the extended key usage, ``purpose`` needs."""
    wanted = PURPOSES[purpose]
    if _key_usage_set(leaf) is None:
        raise ChainError(f"wrong key usage: {_name(leaf)} has no key usage extension (needed for {purpose})")
    _require_key_usage(leaf, wanted.key_usage, f"for {purpose}")
    if wanted.eku:
        found = _extension(leaf, x509.ExtendedKeyUsage)
        if found is None or not set(found) & set(wanted.eku):
            names = " or ".join(_EKU_NAMES[oid] for oid in wanted.eku)
            raise ChainError(f"wrong key usage: {_name(leaf)} has no extended key usage {names} for {purpose}")


def _check_signature(child: x509.Certificate, issuer: x509.Certificate) -> None:
    key = issuer.public_key()
    try:
        digest = child.signature_hash_algorithm
    except UnsupportedAlgorithm:
        digest = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(digest, hashes.HashAlgorithm) or \
            not child.signature_algorithm_oid.dotted_string.startswith("1.2.840.10045.4.3."):
        raise ChainError(f"unsupported signature: {_name(child)} is not signed with ECDSA by an EC key")
    try:
        key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(digest))
    except InvalidSignature:
        raise ChainError(f"bad signature: {_name(child)} does not verify with the key of {_name(issuer)}") from None
