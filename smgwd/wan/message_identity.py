"""Who sent a delivery message, which one it is and when it was made, inside what the gateway signs.

How this works: the identity travels as one signed attribute of the CMS
SignedData (RFC 5652 §5.3), so it is covered by the gateway's signature and
cannot be changed or moved to another message without breaking it; the HTTP
header ``X-Message-Id`` is only a hint that must agree. The attribute type is
a UUID OID (ITU-T X.667, ``2.25.<uuid>``: usable without registering an arc);
its one value is a UTF8String holding a JSON object with exactly the keys
``gateway``, ``emp``, ``message``, ``sequence`` (the gateway's count of
messages to that EMP, from 1) and ``created`` (ISO 8601 UTC), and optionally
``taf``, the tariff use case the message serves (``taf1``, ``taf6``, ...),
and ``request``, the id of the EMP's TAF6 request a ``taf6`` message answers
(:mod:`smgwd.wan.taf6_requests`), checked on the way in with their types and
ranges.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import core  # type: ignore[import-untyped, unused-ignore]

from smgwd.wan.cms_errors import MalformedError

__all__ = ["IDENTITY_OID", "MAX_SEQUENCE", "MessageIdentity"]

#: the signed attribute type of a message identity
IDENTITY_OID = "2.25.57078294139257918000709552531867280028"
MAX_SEQUENCE = 2**63 - 1
_KEYS = ("gateway", "emp", "message", "sequence", "created")
_OPTIONAL = ("taf", "request")
_TAF = re.compile(r"taf\d{1,2}")
_MAX_TEXT = 128


@dataclass(frozen=True)
class MessageIdentity:
    """gateway id, EMP id, message id, the sequence number of the message to that EMP, creation time (UTC)."""

    gateway: str
    emp: str
    message: str
    sequence: int
    created: datetime
    taf: str | None = None  # the tariff use case, e.g. "taf7"; None: readings as they came
    request: int | None = None  # taf6: the EMP's request this message answers; None: asked on the gateway

    def to_der(self) -> bytes:
        """The DER UTF8String value of the attribute."""
        document: dict[str, object] = {
            "gateway": self.gateway, "emp": self.emp, "message": self.message, "sequence": self.sequence,
            "created": self.created.astimezone(timezone.utc).isoformat(timespec="seconds")}
        if self.taf is not None:
            document["taf"] = self.taf
        if self.request is not None:
            document["request"] = self.request
        return bytes(core.UTF8String(json.dumps(document, separators=(",", ":"))).dump())

    @classmethod
    def from_der(cls, der: bytes) -> MessageIdentity:
        """Read the attribute value; MalformedError (one line) if it is not an identity."""
        try:
            text = core.UTF8String.load(der, strict=True).native
            document = json.loads(text)
        except (ValueError, TypeError) as error:
            raise MalformedError(f"message identity attribute is not a UTF8String of JSON: {error}") from None
        if not isinstance(document, dict) or sorted(set(document) - set(_OPTIONAL)) != sorted(_KEYS):
            raise MalformedError(f"message identity must have exactly the keys {', '.join(_KEYS)} "
                                 f"(and maybe {' and '.join(_OPTIONAL)})")
        taf = document.get("taf")
        if taf is not None and not (isinstance(taf, str) and _TAF.fullmatch(taf)):
            raise MalformedError("message identity: taf must be a use case such as \"taf7\"")
        request = document.get("request")
        if request is not None and (taf != "taf6" or type(request) is not int or not 1 <= request <= MAX_SEQUENCE):
            raise MalformedError(f"message identity: request must be an integer 1..{MAX_SEQUENCE}, "
                                 "in a taf6 message only")
        for key in ("gateway", "emp", "message", "created"):
            value = document[key]
            if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
                raise MalformedError(f"message identity: {key} must be text of 1..{_MAX_TEXT} characters")
        sequence = document["sequence"]
        if type(sequence) is not int or not 1 <= sequence <= MAX_SEQUENCE:
            raise MalformedError(f"message identity: sequence must be an integer 1..{MAX_SEQUENCE}")
        try:
            created = datetime.fromisoformat(document["created"])
        except ValueError:
            raise MalformedError(f"message identity: created {document['created']!r} is not ISO 8601") from None
        if created.tzinfo is None:
            raise MalformedError("message identity: created has no UTC offset")
        return cls(document["gateway"], document["emp"], document["message"], sequence,
                   created.astimezone(timezone.utc), taf, request)
