"""Revocation in the lab PKI: revoking certificates, the sub-CA's CRL, and checking a chain against CRLs.

How this works: ``revoked.json`` in the PKI directory lists every revoked
certificate (serial, subject, role, name, kind, when, reason).
:func:`publish_crl` writes ``crl.pem``: a version 2 CRL signed by the sub-CA
with SHA-256, thisUpdate now, nextUpdate CRL_DAYS later, a CRL number one
more than the last one's, and every revoked serial with its date.
:func:`revoke` marks a participant's certificates revoked (all three kinds,
or the ones named) and publishes at once; a CRL must be published again
before its nextUpdate (``smgwctl pki crl``), or whoever checks it refuses it
as expired. Both need the sub-CA key, so its passphrase where it is
encrypted.

Whoever relies on the PKI names the CRL file in its configuration. For TLS
peers OpenSSL checks it (:func:`smgwd.wan.tls.server_context` and
``client_context`` with ``crl``: the peer's certificate must not be on its
issuer's CRL, and that CRL must be there and current). For CMS signers and an
EMP's encryption certificate :func:`check_revoked` does, inside
:func:`smgwd.wan.chain.verify_chain`: for every certificate of the path whose
issuer has a CRL among those given, the CRL's signature must verify under
that issuer, it must not be past its nextUpdate, and the serial must not be
on it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from smgwd.wan.chain import ChainError, load_pem_or_der

__all__ = ["CRL_DAYS", "REVOKED", "check_revoked", "load_crls", "publish_crl", "revoke"]

CRL_DAYS = 30
REVOKED = "revoked.json"


def load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL in ``data`` (PEM, any number) or the one DER CRL it is; ValueError when there is none."""
    return load_pem_or_der(data, "X509 CRL", x509.load_pem_x509_crl, x509.load_der_x509_crl)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _next_update(crl: x509.CertificateRevocationList) -> datetime | None:
    return _utc(crl.next_update_utc if hasattr(crl, "next_update_utc") else crl.next_update)  # cryptography >= 42


def _revoked_on(entry: x509.RevokedCertificate) -> datetime | None:
    return _utc(entry.revocation_date_utc if hasattr(entry, "revocation_date_utc") else entry.revocation_date)


def check_revoked(path: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList],
                  when: datetime) -> None:
    """ChainError when a certificate of ``path`` (leaf first) is on its issuer's CRL, or that CRL is unusable."""
    for child, issuer in zip(path, path[1:]):
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            name = issuer.subject.rfc4514_string()
            if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                raise ChainError(f"bad CRL: the CRL of '{name}' does not verify with its key")
            next_update = _next_update(crl)
            if next_update is not None and when > next_update:
                raise ChainError(f"expired CRL: the CRL of '{name}' was due for renewal on "
                                 f"{next_update:%Y-%m-%d %H:%M} UTC (publish a new one: smgwctl pki crl)")
            entry = crl.get_revoked_certificate_by_serial_number(child.serial_number)
            if entry is not None:
                since = _revoked_on(entry)
                when_text = "" if since is None else f" on {since:%Y-%m-%d %H:%M} UTC"
                raise ChainError(f"revoked: '{child.subject.rfc4514_string()}' (serial {child.serial_number:x}) "
                                 f"was revoked{when_text}")


def _revoked(directory: Path) -> list[dict[str, object]]:
    try:
        rows = json.loads((directory / REVOKED).read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as error:
        from smgwd.wan.pki import PkiError

        raise PkiError(f"{directory / REVOKED}: unreadable ({error})") from None
    return rows if isinstance(rows, list) else []


def publish_crl(directory: Path, passphrase: bytes | None = None, *, now: datetime | None = None,
                days: int = CRL_DAYS) -> Path:
    """Sign and write ``crl.pem`` with every revoked serial (see the module comment); its path."""
    from smgwd.wan.pki import CRL, _write, load_index, sub_ca

    directory = Path(directory)
    issuer = sub_ca(directory, load_index(directory), passphrase)
    now = now or datetime.now(timezone.utc)
    number = 1
    try:
        old = load_crls((directory / CRL).read_bytes())[0]
        number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    except (OSError, ValueError, x509.ExtensionNotFound):
        pass
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
               .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False))
    for row in _revoked(directory):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(str(row["serial"]), 16))
            .revocation_date(datetime.fromisoformat(str(row["at"]))).build())
    crl = builder.sign(issuer.key, hashes.SHA256())
    _write(directory / CRL, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return directory / CRL


def revoke(directory: Path, role: str, name: str, kinds: Sequence[str] = ("tls", "sig", "enc"), *,
           passphrase: bytes | None = None, reason: str = "", now: datetime | None = None) -> list[str]:
    """Revoke ``name``'s certificates of ``kinds`` and publish the CRL; the subjects revoked (PkiError if none)."""
    from smgwd.wan.pki import PkiError, _read_cert, _write, load_index, sub_ca

    directory = Path(directory)
    now = now or datetime.now(timezone.utc)
    index = load_index(directory)
    sub_ca(directory, index, passphrase)  # a wrong passphrase stops here, before anything is written
    entries = [e for e in index if e.role == role and e.name == name and e.kind in kinds]
    if not entries:
        raise PkiError(f"no participant {role} {name!r} with certificates {', '.join(kinds)} in {directory}")
    rows = _revoked(directory)
    known = {str(row["serial"]) for row in rows}
    made = []
    for entry in entries:
        serial = f"{_read_cert(directory, entry.cert).serial_number:x}"
        if serial not in known:
            rows.append({"serial": serial, "subject": entry.subject, "role": role, "name": name, "kind": entry.kind,
                         "at": now.isoformat(timespec="seconds"), "reason": reason})
            made.append(entry.subject)
    _write(directory / REVOKED, (json.dumps(rows, indent=2) + "\n").encode(), 0o644)
    publish_crl(directory, passphrase, now=now)
    return made
