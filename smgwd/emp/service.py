"""What the lab EMP does with a POSTed message, without any HTTP: check, open, validate, store.

How this works: :meth:`EmpService.meterdata` takes the message id, the body
and the TLS client's name, and answers (HTTP status, JSON object). In order:
size limit, message id syntax, CMS (signature, signer chain to the trusted
SM-PKI root, decryption with the EMP's encryption key and GCM tag), who may
speak (:mod:`smgwd.wan.roles`: the signer is a gateway's signature
certificate, and the TLS client is that same gateway's TLS certificate), COSEM/XML
validation against our XSD (jOSEF shape, or a DKE K461 load profile), the
meters (with ``gateways`` set, the signing gateway may report only its own),
the signed message identity if the message has one (it must name this EMP when
``name`` is set, its message id must be the header's, its creation time not
older than ``max_age``, its sequence number after the gateway's last), then
idempotent storage. Every refusal has a status, a reason and a counter;
nothing half-checked is ever stored. A ``taf6`` message whose signed identity
names a request marks that request of its gateway answered, in the same
transaction.

TAF6 requests (:mod:`smgwd.wan.taf6_requests`): :meth:`EmpService.pending_for`
hands a gateway its own pending requests, and :meth:`EmpService.decline` takes
its refusal of one; both only for a TLS client that is a gateway's TLS
certificate (and, with ``gateways`` set, one listed there), which sees and
declines only its own requests.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.cosem.classes import Data, ExtendedRegister, LogicalDevice, Register, from_structure
from smgwd.cosem.cosemtime import clock_status, cosem_to_datetime
from smgwd.cosem.datatypes import DataType, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.xml_values import XML_NAMES
from smgwd.emp.store import EmpStore, ReplayError, Row
from smgwd.meters.value_status import marks_of_fnn, meter_status_of_fnn, quality_of_clock_status, quality_of_fnn
from smgwd.safexml import XmlError
from smgwd.wan.cms import (CmsError, DecryptionError, NotForRecipientError, SignatureError, UntrustedSignerError,
                           open_, signer_chain_with, verify_signer_chain)
from smgwd.wan.roles import GATEWAY, participant, participant_of_names
from smgwd.wan.taf6_requests import parse_decline

__all__ = ["EmpService", "MESSAGE_ID"]

log = logging.getLogger("smgw-emp")

MESSAGE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID = re.compile(r"0|[1-9][0-9]{0,17}")  # below 2**63, as request ids are


class _Refusal(ValueError):
    """A request refused before any work: its kind (the counter) and reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def _raw(value: DlmsValue) -> str:
    return value.value.hex() if isinstance(value.value, bytes) else str(value.value)


def _int_or_none(value: DlmsValue) -> int | None:
    return value.value if isinstance(value.value, int) and not isinstance(value.value, bool) else None


def _captured(register: ExtendedRegister, fnn: bool) -> tuple[int | None, str | None, str | None, tuple[str, ...]]:
    """(meter status, capture time ISO 8601 UTC, time quality, the gateway's marks) of an Extended Register.

    ``fnn``: the status is the FNN combined word (K461), whose upper half says the quality;
    else it is the meter's word and the capture time's clock status says it.
    """
    status = _int_or_none(register.status)
    try:
        when = cosem_to_datetime(register.capture_time).isoformat()
    except CosemError:  # an unspecified capture time: the value has no time
        return status, None, None, ()
    if fnn and status is not None:
        quality = quality_of_fnn(status)
        if quality is not None:
            return meter_status_of_fnn(status) or None, when, quality.value, marks_of_fnn(status)
    return status, when, quality_of_clock_status(clock_status(register.capture_time)).value, ()


def _object_row(meter: str, obj: Data | Register, fnn: bool = False) -> Row:
    row = Row(meter, str(obj.logical_name), obj.class_id, XML_NAMES[obj.value.type], _raw(obj.value))
    if isinstance(obj, ExtendedRegister):
        status, when, quality, marks = _captured(obj, fnn)
        return replace(row, scaler=obj.scaler, unit=obj.unit, status=status, gateway_time=when, time_quality=quality,
                       marks=marks)
    if isinstance(obj, Register):
        return replace(row, scaler=obj.scaler, unit=obj.unit)
    return row


def rows_of(document: bytes) -> list[Row]:
    """The readings of a COSEM/XML document (jOSEF shape or K461 load profile); XmlError if invalid."""
    if document.lstrip().startswith(b"<?xml") and b"urn:k461-dke-de:profile_generic-1" in document[:2000]:
        from smgwd.cosem import xml_k461

        meter, profile = xml_k461.decode(document)
        cells = (from_structure(4, cell) for line in profile.buffer for cell in line
                 if cell.type is not DataType.NULL_DATA)
        return [_object_row(meter, register, fnn=True) for register in cells if isinstance(register, Register)]
    from smgwd.cosem import xml_josef

    devices: list[LogicalDevice] = xml_josef.decode(document)
    return [_object_row(device.id, obj) for device in devices for obj in device.objects
            if isinstance(obj, (Data, Register))]


def sender_of(signer: str, gateway: str, emp: str) -> str:
    """Whose sequence a message continues: the signing participant's, for the gateway id and EMP it signed.

    Keyed by the certificate too, so no gateway can move another's sequence by naming its id; and by the
    EMP id, as a gateway counts per ``[[emps]]`` entry: two entries delivering to one EMP (``[cms] name``
    unset) are two sequences.
    """
    return f"{signer}/{gateway}/{emp}"


@dataclass
class EmpService:
    """The checks and storage of the lab EMP."""

    recipient_key: ec.EllipticCurvePrivateKey
    recipient_cert: x509.Certificate
    trust: Sequence[x509.Certificate]
    untrusted: Sequence[x509.Certificate]
    store: EmpStore
    max_body: int = 4 * 1024 * 1024
    max_age: timedelta = timedelta(days=31)  # oldest creation time of a message accepted (a backlog drains)
    counters: Counter[str] = field(default_factory=Counter)
    #: the EMP's name a signed identity must name (None: not checked)
    name: str | None = None
    #: gateway -> the meters it may report ("*": any); None: any gateway, any meter
    gateways: dict[str, frozenset[str]] | None = None
    #: CRLs a signer's path is checked against (a revoked signer is refused as bad_signature)
    crls: Sequence[x509.CertificateRevocationList] = ()

    def _unbound(self, gateway: str, rows: Sequence[Row]) -> tuple[str, str] | None:
        """(kind, reason) when ``gateway`` reports a meter it is not bound to; None when all are its own."""
        if self.gateways is None:
            return None
        allowed = self.gateways.get(gateway)
        if allowed is None:
            return "unknown_gateway", f"gateway {gateway} is not in this EMP's [gateways]"
        if "*" in allowed:
            return None
        foreign = sorted({row.meter for row in rows} - allowed)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            return "meter_not_bound", f"gateway {gateway} may not report meter(s) {shown}"
        return None

    @staticmethod
    def _who_may_speak(signer_cert: x509.Certificate, client: str, client_role: str | None) -> tuple[str, str] | None:
        """(kind, reason) when the signer or the TLS client may not deliver; None when they may."""
        signer = participant(signer_cert)
        if signer.role != GATEWAY or signer.kind != "SIG":
            return "not_a_gateway", f"the signer is {signer.describe()}: only a gateway's signature certificate may"
        peer = participant_of_names(client, client_role)
        if peer.role != GATEWAY or peer.kind != "TLS":
            return "not_a_gateway", f"the TLS client is {peer.describe()}: only a gateway may deliver"
        if peer.name != signer.name:
            return "signer_not_client", f"signed by gateway {signer.name}, sent by gateway {peer.name}"
        return None

    def _requesting_gateway(self, client: str, client_role: str | None) -> str:
        """The TLS client's gateway participant name; _Refusal when it is no gateway (or one not listed)."""
        peer = participant_of_names(client, client_role)
        if peer.role != GATEWAY or peer.kind != "TLS":
            raise _Refusal("not_a_gateway", f"the TLS client is {peer.describe()}: only a gateway has requests")
        if self.gateways is not None and peer.name not in self.gateways:
            raise _Refusal("unknown_gateway", f"gateway {peer.name} is not in this EMP's [gateways]")
        return peer.name

    def pending_for(self, client: str, client_role: str | None, after: str | None) -> tuple[int, dict[str, Any]]:
        """``GET /v1/requests?after=N``: the TLS client's pending TAF6 requests after id N."""
        try:
            gateway = self._requesting_gateway(client, client_role)
        except _Refusal as refusal:
            return self.refuse(403, refusal.kind, str(refusal), "requests", client)
        if after is not None and not _REQUEST_ID.fullmatch(after):
            return self.refuse(400, "bad_request", f"after={after[:24]!r} is not a request id", "requests", client)
        found = self.store.pending(gateway, int(after or 0))
        self.counters["requests_handed"] += len(found)
        return 200, {"requests": [request.record() for request in found]}

    def decline(self, client: str, client_role: str | None, request_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """``POST /v1/requests/<id>/decline``: the gateway will not answer its request ``id``."""
        what = f"request {request_id[:24]}"
        try:
            gateway = self._requesting_gateway(client, client_role)
            reason = parse_decline(body)
        except _Refusal as refusal:
            return self.refuse(403, refusal.kind, str(refusal), what, client)
        except ValueError as error:
            return self.refuse(400, "bad_request", str(error), what, client)
        if not (_REQUEST_ID.fullmatch(request_id) and self.store.decline(gateway, int(request_id), reason)):
            return self.refuse(404, "unknown_request", f"gateway {gateway} has no pending {what}", what, client)
        self.counters["declined"] += 1
        log.warning("gateway %s declined request %s: %s", gateway, request_id, reason)
        return 200, {"declined": int(request_id)}

    def refuse(self, status: int, kind: str, reason: str, message_id: str, client: str) -> tuple[int, dict[str, Any]]:
        self.counters[kind] += 1
        log.warning("refused message %s from %s: %s: %s", message_id, client, kind, reason)
        return status, {"error": kind, "reason": reason, "message_id": message_id}

    def meterdata(self, message_id: str, body: bytes, client: str, *,
                  client_role: str | None) -> tuple[int, dict[str, Any]]:
        """Check and store one POSTed message; returns (HTTP status, JSON answer).

        ``client`` and ``client_role``: the TLS client certificate's common name and organizational unit.
        """
        if len(body) > self.max_body:
            return self.refuse(413, "oversized", f"{len(body)} bytes > {self.max_body}", message_id, client)
        if not MESSAGE_ID.fullmatch(message_id):
            return self.refuse(400, "bad_message_id", "expected 1..128 of A-Z a-z 0-9 . _ -", message_id[:40], client)
        try:
            opened = open_(body, recipient_key=self.recipient_key, recipient_cert=self.recipient_cert,
                           trust=self.trust, untrusted=self.untrusted,
                           verify_chain=signer_chain_with(self.crls) if self.crls else verify_signer_chain)
        except (SignatureError, UntrustedSignerError) as error:
            return self.refuse(403, "bad_signature", str(error), message_id, client)
        except NotForRecipientError as error:
            return self.refuse(403, "not_for_us", str(error), message_id, client)
        except DecryptionError as error:
            return self.refuse(400, "tampered", str(error), message_id, client)
        except CmsError as error:
            return self.refuse(400, "malformed_cms", str(error), message_id, client)
        speaker = self._who_may_speak(opened.signer_cert, client, client_role)
        if speaker is not None:
            return self.refuse(403, speaker[0], speaker[1], message_id, client)
        try:
            rows = rows_of(opened.content)
        except XmlError as error:
            return self.refuse(422, "malformed_xml", str(error), message_id, client)
        speaker_name = participant(opened.signer_cert).name
        unbound = self._unbound(speaker_name, rows)
        if unbound is not None:
            return self.refuse(403, unbound[0], unbound[1], message_id, client)
        identity = opened.identity
        if identity is not None:
            if self.name is not None and identity.emp != self.name:
                return self.refuse(403, "not_for_this_emp", f"the message is signed for EMP {identity.emp}, "
                                   f"this is {self.name}", message_id, client)
            if identity.message != message_id:
                return self.refuse(400, "id_mismatch", f"the signed message id is {identity.message}, "
                                   f"the header says {message_id}", message_id, client)
            age = datetime.now(timezone.utc) - identity.created
            if age > self.max_age:
                return self.refuse(409, "stale", f"created {identity.created.isoformat()}, more than "
                                   f"{self.max_age.days} days ago", message_id, client)
        signer = opened.signer_cert.subject.rfc4514_string()
        digest = hashlib.sha256(body).hexdigest()
        answers = None
        if identity is not None and identity.taf == "taf6" and identity.request is not None:
            answers = (speaker_name, identity.request)
        try:
            stored = self.store.accept(message_id, digest, signer, client, rows,
                                       None if identity is None else (sender_of(speaker_name, identity.gateway, identity.emp),
                                                                      identity.sequence), answers)
        except ReplayError as error:
            return self.refuse(409, error.kind, str(error), message_id, client)
        self.counters["stored" if stored else "duplicate"] += 1
        log.info("%s message %s from %s (signer %s): %d readings", "stored" if stored else "duplicate",
                 message_id, client, signer, len(rows))
        return 200, {"ack": message_id, "duplicate": not stored, "readings": len(rows)}
