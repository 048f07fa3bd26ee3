"""The gateway's own keys, renewed on the GWA's command: a new key made here, a CSR out, the certificate back.

How this works, for ``kind`` ``sig`` (the signature key: CMS and the logs'
checkpoints) or ``tls`` (the TLS client key of every delivery):

1. :func:`new_key` makes a key on the curve of the certificate in use, writes
   it to ``keys/<kind>-<time>.key`` beside the store (mode 0600, never
   overwritten), remembers it as pending (gateway_state
   ``admin.pending.<kind>``) and returns a PKCS#10 request with the subject of
   the certificate in use. The private key never leaves the gateway.
2. The PKI signs the request (``smgwctl pki sign``, :mod:`smgwd.wan.pki_requests`).
3. :func:`install_certificate` takes the certificate only if its key is the
   pending key, its subject the one in use, and it chains to the admin API's
   ``trust`` (not revoked, valid for its purpose). It writes it beside the key
   and switches, through the administrator's overlay
   (:mod:`smgwd.gateway.admin_overlay`), every ``[[emps]]`` entry that used the
   old pair (and ``[gateway] sig_cert``/``sig_key`` for ``sig``) to the new
   one, checked as a whole configuration; the caller reloads. The old files
   stay where they were: the logs' older checkpoints name the old certificate.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.wan.admin_command import AdminRefused
from smgwd.wan.chain import ChainError, load_certs, verify_chain

if TYPE_CHECKING:
    from smgwd.gateway.config import GatewayConfig

__all__ = ["KINDS", "current_pair", "install_certificate", "new_key", "pending_key"]

KINDS = {"sig": "signature", "tls": "tls"}


def pending_key(kind: str) -> str:
    """The gateway_state key naming the new key of ``kind`` that waits for its certificate."""
    return f"admin.pending.{kind}"


def current_pair(config: GatewayConfig, kind: str) -> tuple[Path, Path]:
    """The certificate and key of ``kind`` in use (the gateway's for sig, else the first EMP's)."""
    if kind == "sig" and config.gateway.sig_cert is not None and config.gateway.sig_key is not None:
        return config.gateway.sig_cert, config.gateway.sig_key
    if not config.emps:
        raise AdminRefused("bad_args", f"no {kind} key in use: no [[emps]] entry and no [gateway] sig_cert", 409)
    emp = config.emps[0]
    return (emp.sig_cert, emp.sig_key) if kind == "sig" else (emp.tls_cert, emp.tls_key)


def _kind(kind: object) -> str:
    if kind not in KINDS:
        raise AdminRefused("bad_args", f"kind must be one of {', '.join(KINDS)}", 400)
    return str(kind)


def new_key(config: GatewayConfig, kind: object, now: datetime | None = None) -> tuple[Path, bytes]:
    """Make the pending key of ``kind``; its path, and the PEM request to have it certified. Blocking."""
    kind = _kind(kind)
    cert_path, _ = current_pair(config, kind)
    cert = load_certs(cert_path.read_bytes())[0]
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise AdminRefused("bad_args", f"{cert_path}: not an EC certificate", 409)
    key = ec.generate_private_key(type(public.curve)())
    folder = config.store.path.parent / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{kind}-{stamp}.key"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
        file.flush()
        os.fsync(file.fileno())
    request = x509.CertificateSigningRequestBuilder().subject_name(cert.subject).sign(key, hashes.SHA256())
    return path, request.public_bytes(serialization.Encoding.PEM)


def install_certificate(config: GatewayConfig, kind: object, cert_pem: object, key_path: Path,
                        trust: Sequence[x509.Certificate], untrusted: Sequence[x509.Certificate],
                        crls: Sequence[x509.CertificateRevocationList], tables: dict[str, Any]) -> Path:
    """Check the certificate for the pending key and switch ``tables`` (the overlaid ones) to the new pair."""
    kind = _kind(kind)
    if not isinstance(cert_pem, str):
        raise AdminRefused("bad_args", "cert must be the certificate as PEM text", 400)
    try:
        cert = load_certs(cert_pem.encode())[0]
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    except (OSError, ValueError) as error:
        raise AdminRefused("bad_args", f"not a usable certificate or pending key: {error}", 400) from None
    old_cert_path, old_key_path = current_pair(config, kind)
    old = load_certs(old_cert_path.read_bytes())[0]
    ours = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise AdminRefused("wrong_certificate", "the certificate is not for the pending key", 400)
    if cert.subject != old.subject:
        raise AdminRefused("wrong_certificate", f"the certificate names {cert.subject.rfc4514_string()}, "
                           f"the gateway is {old.subject.rfc4514_string()}", 400)
    try:
        verify_chain(cert, untrusted, trust, purpose=KINDS[kind], crls=crls)
    except ChainError as error:
        raise AdminRefused("wrong_certificate", f"the certificate does not chain: {error}", 400) from None
    cert_path = key_path.with_suffix(".pem")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    base = Path(config.source).resolve().parent
    switched = 0
    for emp in tables.get("emps", []):
        if isinstance(emp, dict) and _same(base, emp.get(f"{kind}_key"), old_key_path):
            emp[f"{kind}_cert"], emp[f"{kind}_key"] = str(cert_path), str(key_path)
            switched += 1
    if kind == "sig":
        gateway = tables.setdefault("gateway", {})
        gateway["sig_cert"], gateway["sig_key"] = str(cert_path), str(key_path)
        switched += 1
    if not switched:
        raise AdminRefused("bad_args", f"no entry uses the {kind} key {old_key_path}", 409)
    return cert_path


def _same(base: Path, named: object, path: Path) -> bool:
    return isinstance(named, str) and (base / named).resolve() == path.resolve()
