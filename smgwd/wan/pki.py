"""A lab PKI shaped like the German Smart-Metering PKI (TR-03109-4, TR-03116-3 §3).

How this works: :func:`init_pki` makes a root CA (brainpoolP384r1, self-signed
with ecdsa-with-SHA384, CA with path length 1), a sub-CA (brainpoolP256r1,
signed by the root with SHA-384, path length 0) and, for every participant
(gateway ``smgw``, market participant ``emp``, gateway administrator ``gwa``),
three certificates with keys of their own, signed by the sub-CA with SHA-256:
TLS (digitalSignature, serverAuth+clientAuth, loopback names), signature
(digitalSignature, nonRepudiation) and encryption (keyAgreement). With
``curve="p256"`` the same hierarchy is made on NIST curves (root P-384,
everything else P-256) for peers without brainpool. :func:`issue` adds a
participant under the existing sub-CA; :func:`describe` lists what is there
and checks each participant's chain with :mod:`smgwd.wan.chain`.

Every file is written through a temporary file created with its final mode
(private keys 0600, never wider) and renamed into place. ``index.json``
(:class:`Entry` rows, paths relative to the directory) and a ``README`` say
what is where. With a ``passphrase`` the two CA keys are encrypted at rest
(PKCS#8 as OpenSSL writes it with cryptography's best available encryption:
PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC), and every later use of the
sub-CA (:func:`issue`, revocation) needs the passphrase; the participants'
keys stay unencrypted, since their daemons start unattended: their custody is
mode 0600 and the service user. Revocation and the CRL: :mod:`smgwd.wan.pki_revocation`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smgwd.wan.chain import ChainError, load_certs, validity, verify_chain

__all__ = [
    "CRL", "CURVES", "KINDS", "MIN_PASSPHRASE", "ROLES", "CertInfo", "Entry", "PkiError", "ca_keys_encrypted",
    "describe", "init_pki", "issue", "load_index", "sub_ca",
]

FORMAT = "smgwd-lab-pki/1"
ORGANIZATION = "smgwd lab"
INDEX, README, CA_CHAIN, CRL = "index.json", "README", "ca-chain.pem", "crl.pem"
DEFAULT_DAYS = 730  # participant certificates; the SM-PKI renews an EMT's set every two years
ROOT_DAYS, SUBCA_DAYS = 3650, 1825  # at least; never shorter than the participants'
BACKDATE = timedelta(minutes=5)  # notBefore slightly in the past, for peers with a clock a little behind

#: role -> organizational unit (SM-PKI role name)
ROLES = {"smgw": "SMGW", "emp": "EMT", "gwa": "GWA"}
#: certificate kind -> (CN suffix, chain.verify_chain purpose)
KINDS = {"tls": ("TLS", "tls"), "sig": ("SIG", "signature"), "enc": ("ENC", "encryption")}
#: curve option -> (root curve, sub-CA and participant curve)
CURVES: dict[str, tuple[type[ec.EllipticCurve], type[ec.EllipticCurve]]] = {
    "brainpool": (ec.BrainpoolP384R1, ec.BrainpoolP256R1),
    "p256": (ec.SECP384R1, ec.SECP256R1),
}
MIN_PASSPHRASE = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class PkiError(Exception):
    """A PKI that cannot be made, extended or read as asked (one line for the operator)."""


@dataclass(frozen=True)
class Entry:
    """One certificate of the PKI as ``index.json`` lists it (paths relative to the directory)."""

    role: str  # "root", "subca" or one of ROLES
    name: str
    kind: str  # "ca" or one of KINDS
    subject: str
    cert: str
    key: str


@dataclass(frozen=True)
class CertInfo:
    """One certificate as :func:`describe` reports it; ``check`` is "ok", "trust anchor", "CA" or the reason."""

    entry: Entry
    curve: str
    not_before: datetime
    not_after: datetime
    check: str


@dataclass(frozen=True)
class _Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


# ---------------------------------------------------------------- public API


def init_pki(
    directory: Path, *, curve: str = "brainpool", participants: Sequence[tuple[str, str]] | None = None,
    days: int = DEFAULT_DAYS, force: bool = False, now: datetime | None = None, passphrase: bytes | None = None,
) -> list[Entry]:
    """Make a new lab PKI in ``directory``; returns its index.

    ``participants`` are (role, name) pairs, by default one of each role named
    like the role. Refuses (PkiError) when ``directory`` already holds a PKI or
    any file it would write, unless ``force``, which first removes the files of
    the PKI that was there. ``passphrase`` encrypts the CA keys (at least
    MIN_PASSPHRASE bytes). An empty CRL of the sub-CA is published with it.
    """
    _check_passphrase(passphrase)
    if curve not in CURVES:
        raise PkiError(f"unknown curve {curve!r} (known: {', '.join(CURVES)})")
    people = list(participants) if participants is not None else [(role, role) for role in ROLES]
    for role, name in people:
        _check_participant(role, name)
    if len(set(people)) != len(people):
        raise PkiError("a participant is named twice")
    _check_days(days)
    now = now or datetime.now(timezone.utc)
    root_curve, curve_class = CURVES[curve]

    root_key = ec.generate_private_key(root_curve())
    root = _ca(_name(f"{ORGANIZATION} Root CA"), root_key, None, path_length=1, now=now, days=max(ROOT_DAYS, days))
    subca_key = ec.generate_private_key(curve_class())
    subca = _ca(_name(f"{ORGANIZATION} Sub-CA"), subca_key, _Issuer(root, root_key), path_length=0, now=now,
                days=max(SUBCA_DAYS, days))

    made = [
        (Entry("root", "root", "ca", root.subject.rfc4514_string(), "root.pem", "private/root.key"), root, root_key),
        (Entry("subca", "subca", "ca", subca.subject.rfc4514_string(), "subca.pem", "private/subca.key"),
         subca, subca_key),
    ]
    for role, name in people:
        made.extend(_participant(_Issuer(subca, subca_key), role, name, now, days))

    directory = Path(directory)
    old = _existing(directory, [path for entry, _, _ in made for path in (entry.cert, entry.key)])
    if old is not None and not force:
        raise PkiError(f"{directory} already holds a PKI ({old} exists); use --force to replace it")
    if force and (directory / INDEX).exists():
        try:
            _remove(directory, load_index(directory))
        except PkiError:
            pass  # an unreadable index: its files are overwritten where the new PKI has the same ones
    (directory / "private").mkdir(mode=0o700, parents=True, exist_ok=True)
    index = _write_all(directory, made, passphrase)
    _write(directory / CA_CHAIN, _pem(subca) + _pem(root), 0o644)
    _save(directory, curve, index, encrypted=passphrase is not None)
    from smgwd.wan.pki_revocation import publish_crl

    publish_crl(directory, passphrase, now=now)
    return index


def issue(
    directory: Path, role: str, name: str, *, days: int = DEFAULT_DAYS, force: bool = False,
    now: datetime | None = None, passphrase: bytes | None = None,
) -> list[Entry]:
    """Add participant ``name`` in ``role`` to the PKI in ``directory``, signed by its sub-CA.

    Returns the participant's three entries. Their validity ends with the
    sub-CA's at the latest. Refuses a participant that exists unless ``force``
    (which re-issues it with new keys).
    """
    directory = Path(directory)
    _check_participant(role, name)
    _check_days(days)
    index = load_index(directory)
    if any(e.role == role and e.name == name for e in index) and not force:
        raise PkiError(f"participant {role} {name!r} exists in {directory}; use --force to re-issue it")
    issuer = sub_ca(directory, index, passphrase)
    curve = next((option for option, (_, sub) in CURVES.items() if isinstance(issuer.key.curve, sub)), None)
    if curve is None:
        raise PkiError(f"{directory}: the sub-CA's key is on {issuer.key.curve.name}, not a lab PKI curve")
    made = _participant(issuer, role, name, now or datetime.now(timezone.utc), days)
    entries = _write_all(directory, made)
    kept = [e for e in index if not (e.role == role and e.name == name)]
    _save(directory, curve, kept + entries, encrypted=ca_keys_encrypted(directory))
    return entries


def sub_ca(directory: Path, index: list[Entry], passphrase: bytes | None) -> _Issuer:
    """The sub-CA's certificate and key (decrypted with ``passphrase`` where encrypted); PkiError if unusable."""
    subca = next(e for e in index if e.role == "subca")
    return _Issuer(_read_cert(directory, subca.cert), _read_key(directory, subca.key, passphrase))


def ca_keys_encrypted(directory: Path) -> bool:
    """Whether the PKI in ``directory`` keeps its CA keys encrypted (index.json says so)."""
    try:
        return bool(json.loads((Path(directory) / INDEX).read_text()).get("ca_keys") == "encrypted")
    except (OSError, ValueError, AttributeError):
        return False


def _check_passphrase(passphrase: bytes | None) -> None:
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise PkiError(f"the passphrase is shorter than {MIN_PASSPHRASE} bytes")


def load_index(directory: Path) -> list[Entry]:
    """The entries of ``directory``'s ``index.json``; PkiError when it is no lab PKI."""
    path = Path(directory) / INDEX
    try:
        document = json.loads(path.read_text())
        if document.get("format") != FORMAT:
            raise PkiError(f"{path}: not a smgwd lab PKI index (format {document.get('format')!r})")
        entries = [Entry(**row) for row in document["certificates"]]
    except FileNotFoundError:
        raise PkiError(f"{directory} holds no lab PKI ({INDEX} is missing)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PkiError(f"{path}: unreadable ({error})") from None
    if not any(e.role == "root" for e in entries) or not any(e.role == "subca" for e in entries):
        raise PkiError(f"{path}: lists no root CA or no sub-CA")
    return entries


def describe(directory: Path, *, at: datetime | None = None) -> list[CertInfo]:
    """Every certificate of the PKI with curve and validity; participants' chains checked at ``at``."""
    directory = Path(directory)
    index = load_index(directory)
    certs = {e: _read_cert(directory, e.cert) for e in index}
    roots = [c for e, c in certs.items() if e.role == "root"]
    cas = [c for e, c in certs.items() if e.role == "subca"]
    found = []
    for entry, cert in certs.items():
        if entry.kind == "ca":
            check = "trust anchor" if entry.role == "root" else "CA"
        else:
            try:
                verify_chain(cert, cas, roots, purpose=KINDS[entry.kind][1], at=at)
                check = "ok"
            except ChainError as error:
                check = error.reason
        key = cert.public_key()
        curve = key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
        found.append(CertInfo(entry, curve, *validity(cert), check))
    return found


# ---------------------------------------------------------------- certificates


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    """O=smgwd lab[, OU=unit], CN=common_name (most significant first, as openssl prints it)."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    if unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: datetime, days: int,
    not_after: datetime | None = None,
) -> x509.CertificateBuilder:
    """Subject, issuer, key, random serial, validity and subject key identifier."""
    end = now + timedelta(days=days)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(end, not_after) if not_after is not None else end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    )


def _authority(builder: x509.CertificateBuilder, issuer: x509.Certificate) -> x509.CertificateBuilder:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False, key_agreement: bool = False,
               ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment, key_encipherment=False,
        data_encipherment=False, key_agreement=key_agreement, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def _ca(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: _Issuer | None, *, path_length: int,
        now: datetime, days: int) -> x509.Certificate:
    """A CA certificate signed with SHA-384, by ``issuer`` or (None) by itself."""
    builder = (_builder(subject, issuer.cert.subject if issuer else subject, key.public_key(), now, days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(_key_usage(ca=True), critical=True))
    if issuer is None:
        return builder.sign(key, hashes.SHA384())
    return _authority(builder, issuer.cert).sign(issuer.key, hashes.SHA384())


def _leaf_extensions(builder: x509.CertificateBuilder, kind: str) -> x509.CertificateBuilder:
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if kind == "tls":
        return (builder.add_extension(_key_usage(digital_signature=True), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(_loopback_names()), critical=False))
    if kind == "sig":
        return builder.add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
    return builder.add_extension(_key_usage(key_agreement=True), critical=True)


def _loopback_names() -> list[x509.GeneralName]:
    return [x509.DNSName(_LOOPBACK[0]), *(x509.IPAddress(ipaddress.ip_address(a)) for a in _LOOPBACK[1:])]


def _participant(
    issuer: _Issuer, role: str, name: str, now: datetime, days: int,
) -> list[tuple[Entry, x509.Certificate, ec.EllipticCurvePrivateKey]]:
    """The TLS, signature and encryption certificates of one participant, each with a key of its own."""
    made = []
    curve = type(issuer.key.curve)
    for kind, (label, _) in KINDS.items():
        key = ec.generate_private_key(curve())
        subject = _name(f"{name} {label}", ROLES[role])
        builder = _builder(subject, issuer.cert.subject, key.public_key(), now, days, validity(issuer.cert)[1])
        cert = _leaf_extensions(_authority(builder, issuer.cert), kind).sign(issuer.key, hashes.SHA256())
        folder = f"{role}/{name}"
        made.append((Entry(role, name, kind, subject.rfc4514_string(), f"{folder}/{kind}.pem",
                           f"{folder}/{kind}.key"), cert, key))
    return made


def _check_participant(role: str, name: str) -> None:
    if role not in ROLES:
        raise PkiError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not _NAME.match(name):
        raise PkiError(f"bad participant name {name!r}: 1-64 letters, digits, '.', '_' or '-', not starting with "
                       "a punctuation mark")


def _check_days(days: int) -> None:
    if days < 1:
        raise PkiError(f"validity must be at least one day, not {days}")


# ---------------------------------------------------------------- files


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file created with ``mode``, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_all(
    directory: Path, made: Iterable[tuple[Entry, x509.Certificate, ec.EllipticCurvePrivateKey]],
    passphrase: bytes | None = None,
) -> list[Entry]:
    """Keys (0600; CA keys encrypted with ``passphrase`` if given) and certificates of ``made``; their entries."""
    entries = []
    for entry, cert, key in made:
        protection: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if passphrase is not None and entry.kind == "ca":
            protection = serialization.BestAvailableEncryption(passphrase)
        secret = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection)
        _write(directory / entry.key, secret, 0o600)
        _write(directory / entry.cert, _pem(cert), 0o644)
        entries.append(entry)
    return entries


def _existing(directory: Path, paths: Iterable[str]) -> str | None:
    """The first file of a PKI (its index or one of ``paths``) already in ``directory``."""
    for path in (INDEX, CA_CHAIN, *paths):
        if (directory / path).exists():
            return path
    return None


def _remove(directory: Path, index: list[Entry]) -> None:
    """Delete the files ``index`` lists, and participant folders left empty."""
    for entry in index:
        for path in (entry.cert, entry.key):
            (directory / path).unlink(missing_ok=True)
        if entry.kind != "ca":
            for folder in (directory / entry.role / entry.name, directory / entry.role):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()


def _read_cert(directory: Path, path: str) -> x509.Certificate:
    try:
        return load_certs((directory / path).read_bytes())[0]
    except (OSError, ValueError) as error:
        raise PkiError(f"{directory / path}: {error}") from None


def _read_key(directory: Path, path: str, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    try:
        data = (directory / path).read_bytes()
    except OSError as error:
        raise PkiError(f"{directory / path}: {error}") from None
    encrypted = b"ENCRYPTED" in data[:64]
    if encrypted and passphrase is None:
        raise PkiError(f"{directory / path} is encrypted: give its passphrase (--passphrase-file FILE or "
                       "--ask-passphrase)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as error:
        if encrypted:
            raise PkiError(f"{directory / path}: wrong passphrase (or a damaged key file)") from None
        raise PkiError(f"{directory / path}: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{directory / path}: not an EC private key")
    return key


def _save(directory: Path, curve: str, index: list[Entry], *, encrypted: bool) -> None:
    """``index.json`` and the ``README`` that explains the directory."""
    document = {"format": FORMAT, "curve": curve, "trust": "root.pem", "ca_chain": CA_CHAIN,
                "ca_keys": "encrypted" if encrypted else "plain", "crl": CRL,
                "certificates": [asdict(entry) for entry in index]}
    _write(directory / INDEX, (json.dumps(document, indent=2) + "\n").encode(), 0o644)
    _write(directory / README, _readme(curve, index, encrypted).encode(), 0o644)


def _readme(curve: str, index: list[Entry], encrypted: bool) -> str:
    rows = "\n".join(f"  {e.cert:<24} {e.key:<26} {e.role:<6} {e.kind:<4} {e.subject}" for e in index)
    example = next((e.cert for e in index if e.kind != "ca"), "smgw/smgw/tls.pem")
    return f"""smgwd lab PKI ({curve}), shaped like the Smart-Metering PKI: made by `smgwctl pki init`.
NOT FOR PRODUCTION. {"The CA keys are encrypted with a passphrase (PKCS#8, PBES2); the" if encrypted else
"Private keys are not encrypted (mode 0600); `pki init --passphrase-file` encrypts the CA keys. The"}
participants' keys are mode 0600, unencrypted: their daemons start unattended.
Revoked certificates: {CRL} (signed by the sub-CA; `smgwctl pki revoke`, `smgwctl pki crl`).

Trust anchor: root.pem. Sub-CA: subca.pem. Both CAs, sub-CA first: {CA_CHAIN}.
Every participant has three certificates with keys of their own:
  tls.pem  TLS (digitalSignature, serverAuth + clientAuth, names localhost, 127.0.0.1, ::1)
  sig.pem  signature, e.g. CMS SignedData (digitalSignature, nonRepudiation)
  enc.pem  encryption, e.g. CMS key agreement (keyAgreement)

  {"certificate":<24} {"private key":<26} {"role":<6} {"kind":<4} subject
{rows}

Check a chain:  openssl verify -CAfile root.pem -untrusted subca.pem {example}
Add a participant:  smgwctl pki issue DIR --role emp|smgw|gwa NAME
List with validity and chain checks:  smgwctl pki show DIR
Machine-readable listing: {INDEX}
"""
