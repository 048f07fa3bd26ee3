"""Who may have signed a gateway's log checkpoints: its signature certificate, or an earlier one of its own.

How this works: :func:`gateway_signers` gives :func:`smgwd.gateway.log_verify.verify`
its check. The configured ``[gateway] sig_cert`` may sign. Any other
certificate must name the same subject (the same gateway's signature
certificate) and chain, at the time it signed, to a root of the gateway's
PKI: the admin API's ``trust`` and ``untrusted``, else each EMP's
``server_ca`` and ``chain`` (the lab PKI's ``ca-chain.pem`` holds both CAs).
So the checkpoints signed before a key rotation (:mod:`smgwd.wan.key_rotation`)
still verify, and a self-made certificate with the gateway's name does not.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509

from smgwd.gateway.config import GatewayConfig
from smgwd.gateway.log_verify import Acceptor
from smgwd.wan.chain import ChainError, load_certs, verify_chain

__all__ = ["gateway_signers"]


def _cas(config: GatewayConfig) -> list[x509.Certificate]:
    named: list[Path | None] = [config.admin.trust, config.admin.untrusted]
    if config.admin.trust is None:
        named = [path for emp in config.emps for path in (emp.server_ca, emp.chain)]
    found: list[x509.Certificate] = []
    for path in named:
        if path is not None and path.is_file():
            found.extend(cert for cert in load_certs(path.read_bytes()) if cert not in found)
    return found


def gateway_signers(config: GatewayConfig) -> Acceptor | None:
    """The check of a checkpoint's signer (None: no ``sig_cert`` configured, any valid signature is named)."""
    if config.gateway.sig_cert is None:
        return None
    configured = load_certs(config.gateway.sig_cert.read_bytes())[0]
    cas = _cas(config)
    roots = [cert for cert in cas if cert.issuer == cert.subject]
    untrusted = [cert for cert in cas if cert not in roots]

    def accept(cert: x509.Certificate, when: datetime) -> str | None:
        if cert == configured:
            return None
        name = cert.subject.rfc4514_string()
        if cert.subject != configured.subject:
            return f"signed by {name}, not by this gateway ({configured.subject.rfc4514_string()})"
        if not roots:
            return f"signed by another certificate of {name}, and no CA of the gateway's to check it against"
        try:
            verify_chain(cert, untrusted, roots, purpose="signature", at=when)
        except ChainError as error:
            return f"signed by a certificate of {name} that does not chain to the gateway's CA: {error}"
        return None

    return accept
