"""Mutual TLS for the WAN (TR-03116-3 §4): contexts for the gateway and the EMP.

How this works: both sides require a certificate from the configured CA
(the client pins its EMP's CA: no system trust store is loaded), allow TLS 1.2
with the ECDHE-ECDSA AES-GCM suites (and the SHA-2 CBC ones TR-03116-3 lists),
offer the TR-03116-3 ECDHE groups with their own certificate's curve first
(brainpoolP256r1 in the SM-PKI; in TLS 1.2 a client must advertise it or a
brainpool server cannot pick an ECDSA suite; :mod:`smgwd.wan.tls_groups`, and
where that cannot be done, that one curve alone, with a warning), and refuse
renegotiation, session tickets and compression. With a CRL file (the lab
PKI's ``crl.pem``) OpenSSL refuses a peer whose certificate is on it
(``VERIFY_CRL_CHECK_LEAF``; the CRL must be current). TLS 1.3 is allowed only when the OpenSSL at run time knows the
brainpool TLS 1.3 groups (3.2 and later); OpenSSL 3.0 (Debian 12) has none,
so there the maximum stays TLS 1.2. The gateway posts with
:mod:`smgwd.wan.https`; :mod:`smgwd.wan.tls_requests` lets ``requests`` use such
a context (the lab tools and tests).
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from smgwd.wan.tls_groups import groups_for, offer_groups

__all__ = ["CIPHERS", "client_context", "server_context", "tls13_with_brainpool"]

#: TR-03116-3 Tab. 7 suites for TLS 1.2, strongest first as OpenSSL names them.
CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
))
_OPTIONS = ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET | ssl.OP_NO_COMPRESSION
log = logging.getLogger("smgwd.tls")
_warned: set[str] = set()


def tls13_with_brainpool() -> bool:
    """Whether this OpenSSL offers TLS 1.3 with brainpool groups (RFC 8734; OpenSSL >= 3.2)."""
    return ssl.OPENSSL_VERSION_INFO >= (3, 2)


def _context(purpose: int, cert: Path, key: Path, ca: Path, curve: str, crl: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13_with_brainpool() else ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.set_ecdh_curve(curve)
    context.options |= _OPTIONS
    trouble = offer_groups(context, groups_for(curve, tls13_with_brainpool()))
    if trouble is not None and trouble not in _warned:
        _warned.add(trouble)
        log.warning("TLS offers only the group %s: %s", curve, trouble)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cafile=str(ca))
    if crl is not None:  # the peer's certificate must not be on its issuer's CRL, which must be there and current
        context.load_verify_locations(cafile=str(crl))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def server_context(cert: Path, key: Path, client_ca: Path, curve: str = "brainpoolP256r1",
                   crl: Path | None = None) -> ssl.SSLContext:
    """The EMP side: its TLS certificate, and clients must present one from ``client_ca`` (not on ``crl``)."""
    return _context(ssl.PROTOCOL_TLS_SERVER, cert, key, client_ca, curve, crl)


def client_context(cert: Path, key: Path, server_ca: Path, curve: str = "brainpoolP256r1",
                   crl: Path | None = None) -> ssl.SSLContext:
    """The gateway side: its TLS certificate, and the server must chain to ``server_ca`` (pinned; not on ``crl``)."""
    context = _context(ssl.PROTOCOL_TLS_CLIENT, cert, key, server_ca, curve, crl)
    context.check_hostname = True
    return context
