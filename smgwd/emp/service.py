"""What the lab EMP does with a POSTed message, without any HTTP: check, open, validate, store.

How this works: :meth:`EmpService.meterdata` takes the message id, the body
and the TLS client's name, and answers (HTTP status, JSON object). In order:
size limit, message id syntax, CMS (signature, signer chain to the trusted
SM-PKI root, decryption with the EMP's encryption key and GCM tag), who may
speak (:mod:`smgwd.wan.roles`: the signer is a gateway's signature
certificate, and the TLS client is that same gateway's TLS certificate), COSEM/XML
validation against our XSD (jOSEF shape, or a DKE K461 load profile), the
signed message identity if the message has one (its message id must be the
header's, its creation time not older than ``max_age``, its sequence number
after the gateway's last), then idempotent storage. Every refusal has a status, a reason and a counter;
nothing half-checked is ever stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.cosem.classes import CosemObject, Data, ExtendedRegister, LogicalDevice, Register, from_structure
from smgwd.cosem.datatypes import DataType
from smgwd.emp.store import EmpStore, ReplayError
from smgwd.safexml import XmlError
from smgwd.wan.cms import (CmsError, DecryptionError, NotForRecipientError, SignatureError, UntrustedSignerError,
                           open_)
from smgwd.wan.roles import GATEWAY, participant, participant_of_names

__all__ = ["EmpService", "MESSAGE_ID"]

log = logging.getLogger("smgw-emp")

MESSAGE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
Row = tuple[str, str, int, str, "int | None", "int | None"]


def _raw(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _object_rows(meter: str, obj: CosemObject) -> Iterator[Row]:
    if isinstance(obj, (Register, ExtendedRegister)):
        yield meter, str(obj.logical_name), obj.class_id, _raw(obj.value.value), obj.scaler, obj.unit
    elif isinstance(obj, Data):
        yield meter, str(obj.logical_name), obj.class_id, _raw(obj.value.value), None, None


def rows_of(document: bytes) -> list[Row]:
    """The readings of a COSEM/XML document (jOSEF shape or K461 load profile); XmlError if invalid."""
    if document.lstrip().startswith(b"<?xml") and b"urn:k461-dke-de:profile_generic-1" in document[:2000]:
        from smgwd.cosem import xml_k461

        meter, profile = xml_k461.decode(document)
        return [
            row for line in profile.buffer for cell in line if cell.type is not DataType.NULL_DATA
            for row in _object_rows(meter, from_structure(4, cell))
        ]
    from smgwd.cosem import xml_josef

    devices: list[LogicalDevice] = xml_josef.decode(document)
    return [row for device in devices for obj in device.objects for row in _object_rows(device.id, obj)]


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
                           trust=self.trust, untrusted=self.untrusted)
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
        identity = opened.identity
        if identity is not None:
            if identity.message != message_id:
                return self.refuse(400, "id_mismatch", f"the signed message id is {identity.message}, "
                                   f"the header says {message_id}", message_id, client)
            age = datetime.now(timezone.utc) - identity.created
            if age > self.max_age:
                return self.refuse(409, "stale", f"created {identity.created.isoformat()}, more than "
                                   f"{self.max_age.days} days ago", message_id, client)
        signer = opened.signer_cert.subject.rfc4514_string()
        digest = hashlib.sha256(body).hexdigest()
        try:
            stored = self.store.accept(message_id, digest, signer, client, rows,
                                       None if identity is None else (identity.gateway, identity.sequence))
        except ReplayError as error:
            return self.refuse(409, error.kind, str(error), message_id, client)
        self.counters["stored" if stored else "duplicate"] += 1
        log.info("%s message %s from %s (signer %s): %d readings", "stored" if stored else "duplicate",
                 message_id, client, signer, len(rows))
        return 200, {"ack": message_id, "duplicate": not stored, "readings": len(rows)}
