"""A command of the gateway administrator (GWA): signed by the GWA, checked by the gateway before anything runs.

How this works: a command is a JSON object with exactly the keys ``gateway``
(the gateway's id it is for), ``command`` (its name), ``args`` (an object),
``id`` (1..64 of A-Z a-z 0-9 . _ -), ``sequence`` (1..2**63-1, each command
of the GWA to this gateway higher than the last) and ``not_before`` /
``not_after`` (ISO 8601 with offset; at most MAX_WINDOW apart). The GWA signs
it as CMS SignedData (:mod:`smgwd.wan.cms_signed`, id-data, ECDSA/SHA-256)
with its signature key; so the identity, the sequence and the validity
window are inside what is signed, and nothing in the HTTP request counts.

:func:`open_command` is the gateway's check, in this order, the first
failure refusing the command with a kind and a reason (:class:`AdminRefused`):
the SignedData and its signature (``malformed``, ``bad_signature``); the
signer's chain to the trusted roots, not revoked (``untrusted_signer``); the
signer is a GWA's signature certificate and the TLS client that same GWA's
TLS certificate (``not_the_gwa``, ``signer_not_client``); the command itself
(``malformed``); for this gateway (``not_for_this_gateway``); now within its
window (``not_yet_valid``, ``expired``); its sequence above the last one
accepted (``replay``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.wan.chain import ChainError, verify_chain
from smgwd.wan.cms_asn1 import ID_DATA
from smgwd.wan.cms_errors import CmsError, SignatureError
from smgwd.wan.cms_signed import sign, verify
from smgwd.wan.roles import participant, participant_of_names

__all__ = ["AdminCommand", "AdminRefused", "GWA", "MAX_WINDOW", "open_command", "sign_command"]

GWA = "GWA"  # the organizational unit of a gateway administrator's certificates
MAX_WINDOW = timedelta(days=1)
MAX_SEQUENCE = 2**63 - 1
_KEYS = {"gateway", "command", "args", "id", "sequence", "not_before", "not_after"}
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class AdminRefused(Exception):
    """A command the gateway will not run: ``kind`` (the counter), the reason, and the HTTP status."""

    def __init__(self, kind: str, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class AdminCommand:
    """One GWA command (see the module comment)."""

    gateway: str
    command: str
    id: str
    sequence: int
    not_before: datetime
    not_after: datetime
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps({"gateway": self.gateway, "command": self.command, "args": self.args, "id": self.id,
                           "sequence": self.sequence, "not_before": self.not_before.isoformat(),
                           "not_after": self.not_after.isoformat()}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AdminCommand:
        """The command in ``data``; AdminRefused("malformed") naming what is wrong."""
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            raise AdminRefused("malformed", "the signed content is not JSON", 400) from None
        if not isinstance(document, dict) or set(document) != _KEYS:
            raise AdminRefused("malformed", f"a command has exactly the keys {', '.join(sorted(_KEYS))}", 400)
        problems = []
        if not isinstance(document["gateway"], str) or not 0 < len(document["gateway"]) <= 64:
            problems.append("gateway must be text of 1..64 characters")
        if not isinstance(document["command"], str) or not _NAME.fullmatch(document["command"]):
            problems.append("command must be a name such as \"status\"")
        if not isinstance(document["args"], dict):
            problems.append("args must be an object")
        if not isinstance(document["id"], str) or not _ID.fullmatch(document["id"]):
            problems.append("id must be 1..64 of A-Z a-z 0-9 . _ -")
        if type(document["sequence"]) is not int or not 1 <= document["sequence"] <= MAX_SEQUENCE:
            problems.append(f"sequence must be an integer 1..{MAX_SEQUENCE}")
        window = [_instant(document[key]) for key in ("not_before", "not_after")]
        if None in window:
            problems.append("not_before and not_after must be ISO 8601 times with an offset")
        elif not timedelta(0) < window[1] - window[0] <= MAX_WINDOW:  # type: ignore[operator]
            problems.append(f"the window from not_before to not_after must be positive and at most {MAX_WINDOW}")
        if problems:
            raise AdminRefused("malformed", "; ".join(problems), 400)
        return cls(document["gateway"], document["command"], document["id"], document["sequence"],
                   window[0], window[1], document["args"])  # type: ignore[arg-type]


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.astimezone(timezone.utc) if when.tzinfo is not None else None


def sign_command(command: AdminCommand, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
                 chain: Sequence[x509.Certificate] = ()) -> bytes:
    """The DER SignedData the GWA sends for ``command``."""
    return sign(command.to_json(), ID_DATA, cert, key, chain=chain)


def open_command(body: bytes, *, gateway_id: str, trust: Sequence[x509.Certificate],
                 untrusted: Sequence[x509.Certificate] = (), crls: Sequence[x509.CertificateRevocationList] = (),
                 client: str, client_role: str | None, last_sequence: int, now: datetime) -> AdminCommand:
    """The checked command of ``body``, sent by the TLS client ``client`` (see the module comment)."""
    try:
        verified = verify(body, untrusted)
    except SignatureError as error:
        raise AdminRefused("bad_signature", str(error)) from None
    except CmsError as error:
        raise AdminRefused("malformed", f"not a CMS SignedData: {error}", 400) from None
    pool = [cert for cert in (*verified.certificates, *untrusted) if cert != verified.signer_cert]
    try:
        verify_chain(verified.signer_cert, pool, trust, purpose="signature", at=now, crls=crls)
    except ChainError as error:
        raise AdminRefused("untrusted_signer", f"untrusted signer: {error}") from None
    signer = participant(verified.signer_cert)
    if signer.role != GWA or signer.kind != "SIG":
        raise AdminRefused("not_the_gwa", f"the signer is {signer.describe()}: only a GWA's signature certificate")
    peer = participant_of_names(client, client_role)
    if peer.role != GWA or peer.kind != "TLS":
        raise AdminRefused("not_the_gwa", f"the TLS client is {peer.describe()}: only the GWA administers")
    if peer.name != signer.name:
        raise AdminRefused("signer_not_client", f"signed by GWA {signer.name}, sent by GWA {peer.name}")
    if verified.econtent_type != ID_DATA:
        raise AdminRefused("malformed", f"the signed content is {verified.econtent_type}, expected id-data", 400)
    command = AdminCommand.from_json(verified.econtent)
    if command.gateway != gateway_id:
        raise AdminRefused("not_for_this_gateway", f"the command is for gateway {command.gateway}, this is {gateway_id}")
    if now < command.not_before:
        raise AdminRefused("not_yet_valid", f"valid from {command.not_before.isoformat()}", 409)
    if now > command.not_after:
        raise AdminRefused("expired", f"valid until {command.not_after.isoformat()}", 409)
    if command.sequence <= last_sequence:
        raise AdminRefused("replay", f"sequence {command.sequence} is not after the last one, {last_sequence}", 409)
    return command
