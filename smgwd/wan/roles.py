"""Who a certificate of the SM-PKI belongs to: its role and participant, as a real SM-PKI marks them.

How this works: the lab PKI (:mod:`smgwd.wan.pki`) marks the role in the
subject's organizational unit (``SMGW``, ``EMT``, ``GWA``: the SM-PKI role
names) and names each of a participant's three certificates
``<participant> TLS``, ``<participant> SIG`` and ``<participant> ENC``. Chain
verification has already checked the key usage for the purpose; this module
reads the marker, so that a receiver can ask "is this a gateway's signature
certificate, and does the TLS client belong to the same gateway?".
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["GATEWAY", "Participant", "participant", "participant_of_names"]

GATEWAY = "SMGW"  # the organizational unit of a smart meter gateway's certificates
_KINDS = ("TLS", "SIG", "ENC")


@dataclass(frozen=True)
class Participant:
    """A participant's role (organizational unit), name, and which of its certificates this is."""

    role: str | None
    name: str
    kind: str | None  # "TLS", "SIG", "ENC", or None when the common name has no such suffix

    def describe(self) -> str:
        return f"{self.name} ({self.role or 'no role'}, {self.kind or 'unknown'} certificate)"


def participant_of_names(common_name: str, unit: str | None) -> Participant:
    """The participant that a common name and organizational unit name."""
    name, _, kind = common_name.rpartition(" ")
    if kind in _KINDS and name:
        return Participant(unit, name, kind)
    return Participant(unit, common_name, None)


def participant(cert: x509.Certificate) -> Participant:
    """The participant ``cert`` belongs to (the first common name and organizational unit of its subject)."""
    def first(oid: x509.ObjectIdentifier) -> str | None:
        found = cert.subject.get_attributes_for_oid(oid)
        return None if not found else str(found[0].value)

    return participant_of_names(first(NameOID.COMMON_NAME) or "", first(NameOID.ORGANIZATIONAL_UNIT_NAME))
