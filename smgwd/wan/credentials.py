"""Do an EMP profile's keys and certificates work? The check ``smgwctl config check`` makes.

How this works: for each enabled ``[[emps]]`` entry, every file is loaded with
the loaders delivery itself uses (:func:`~smgwd.wan.delivery.read_cert`,
:func:`~smgwd.wan.delivery.read_certs`, :func:`~smgwd.wan.delivery.read_key`);
each private key must belong to its certificate (the public key derived from
the private key equals the certificate's, compared as DER SubjectPublicKeyInfo);
no certificate may have expired; and the TLS client context is built with
:func:`~smgwd.wan.tls.client_context`, exactly as delivery builds it, so what
OpenSSL would refuse at the first connection is refused here. The first problem
raises :class:`CredentialError` naming the configuration key (``emps[0].sig_key``)
and the file; a certificate that expires within ``warn_within`` or is not valid
yet (a clock not set yet, or a certificate from the future) is a warning. With
a ``crl``, the EMP's encryption certificate and the gateway's TLS and
signature certificates must chain to ``server_ca`` and not be on it (an
unusable or expired CRL is refused too): a revoked EMP gets nothing, and the
reason is in the status line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smgwd.gateway.config import EmpConfig
from smgwd.wan.chain import validity
from smgwd.wan.delivery import DeliveryError, read_cert, read_certs, read_key
from smgwd.wan.tls import client_context

__all__ = ["EXPIRY_WARNING", "CredentialError", "check_credentials", "check_emp"]

#: Warn when a certificate expires within this time.
EXPIRY_WARNING = timedelta(days=30)


class CredentialError(Exception):
    """A key or certificate delivery cannot use: the configuration ``key`` and the ``problem``, one line."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _cert(key: str, path: Path) -> x509.Certificate:
    try:
        return read_cert(path)
    except DeliveryError as error:
        raise CredentialError(key, str(error)) from None


def _certs(key: str, path: Path) -> list[x509.Certificate]:
    try:
        return read_certs(path)
    except DeliveryError as error:
        raise CredentialError(key, str(error)) from None


def _key(key: str, path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        return read_key(path)
    except DeliveryError as error:
        raise CredentialError(key, str(error)) from None


def _pair(at: str, kind: str, key_path: Path, cert_path: Path) -> x509.Certificate:
    """The ``<kind>_cert`` certificate, checked to belong to the ``<kind>_key`` private key."""
    cert = _cert(f"{at}.{kind}_cert", cert_path)
    private = _key(f"{at}.{kind}_key", key_path)
    ours = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise CredentialError(f"{at}.{kind}_key", f"{key_path} does not belong to the certificate {cert_path} "
                                                  f"(their public keys differ; expected that certificate's key)")
    return cert


def _validity(key: str, path: Path, cert: x509.Certificate, now: datetime, warn_within: timedelta,
              warnings: list[str]) -> None:
    since, until = validity(cert)
    if until < now:
        raise CredentialError(key, f"{path}: the certificate expired on {until:%Y-%m-%d %H:%M} UTC "
                                   f"(expected a valid one: issue a new one)")
    if since > now:
        warnings.append(f"{key}: {path}: the certificate is not valid before {since:%Y-%m-%d %H:%M} UTC "
                        f"(is this machine's clock set?)")
    elif until - now < warn_within:
        warnings.append(f"{key}: {path}: the certificate expires on {until:%Y-%m-%d %H:%M} UTC, in "
                        f"{(until - now).days} days: issue a new one")


def check_credentials(emps: Sequence[EmpConfig], *, now: datetime | None = None,
                      warn_within: timedelta = EXPIRY_WARNING) -> list[str]:
    """Check every enabled EMP's keys and certificates; warnings as ``<key>: <text>`` lines.

    Raises :class:`CredentialError` for the first problem (key path such as ``emps[1].tls_key``).
    """
    warnings: list[str] = []
    for index, emp in enumerate(emps):
        if emp.enabled:
            warnings.extend(check_emp(emp, f"emps[{index}]", now=now, warn_within=warn_within))
    return warnings


def check_emp(emp: EmpConfig, at: str, *, now: datetime | None = None,
              warn_within: timedelta = EXPIRY_WARNING) -> list[str]:
    """Check one EMP's keys and certificates (``at``: its key path); warnings, or CredentialError."""
    now = now or datetime.now(timezone.utc)
    warnings: list[str] = []
    certs: list[tuple[str, Path, x509.Certificate]] = [
        (f"{at}.tls_cert", emp.tls_cert, _pair(at, "tls", emp.tls_key, emp.tls_cert)),
        (f"{at}.sig_cert", emp.sig_cert, _pair(at, "sig", emp.sig_key, emp.sig_cert)),
        (f"{at}.recipient", emp.recipient, _cert(f"{at}.recipient", emp.recipient)),
    ]
    for name, path in (("server_ca", emp.server_ca), ("chain", emp.chain)):
        if path is not None:
            certs.extend((f"{at}.{name}", path, cert) for cert in _certs(f"{at}.{name}", path))
    for key, path, cert in certs:
        _validity(key, path, cert, now, warn_within, warnings)
    if emp.crl is not None:
        _not_revoked(emp, at, [cert for key, _, cert in certs if key.endswith((".server_ca", ".chain"))],
                     {name: cert for key, _, cert in certs for name in [key.rsplit(".", 1)[1]]})
    try:
        client_context(emp.tls_cert, emp.tls_key, emp.server_ca, crl=emp.crl)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise CredentialError(f"{at}.tls_cert", f"TLS certificate, key or CA not usable: {error}") from None
    return warnings


#: the certificates checked against the CRL: configuration key -> chain purpose
_REVOCABLE = {"recipient": "encryption", "tls_cert": "tls", "sig_cert": "signature"}


def _not_revoked(emp: EmpConfig, at: str, cas: list[x509.Certificate], certs: dict[str, x509.Certificate]) -> None:
    """CredentialError when the EMP's encryption certificate, or the gateway's own, is revoked (or the CRL unusable)."""
    from smgwd.wan.chain import ChainError, verify_chain
    from smgwd.wan.pki_revocation import load_crls

    assert emp.crl is not None
    try:
        crls = load_crls(emp.crl.read_bytes())
    except (OSError, ValueError) as error:
        raise CredentialError(f"{at}.crl", f"{emp.crl}: not a usable CRL: {error}") from None
    roots = [cert for cert in cas if cert.issuer == cert.subject]
    for name, purpose in _REVOCABLE.items():
        try:
            verify_chain(certs[name], cas, roots, purpose=purpose, crls=crls)
        except ChainError as error:
            raise CredentialError(f"{at}.{name}", f"{getattr(emp, name)}: {error}") from None
