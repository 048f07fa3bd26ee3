"""TAF6 requests an EMP hands its gateways: the wire form both ends share.

How this works: an EMP that wants the current values of meters (TAF6,
readings on demand) keeps a request for that gateway until it is answered.
The gateway asks for its pending requests with ``GET <requests path>?after=N``
over the same mutual TLS it delivers on (the requests path is the sibling
``requests`` of the meterdata path: ``/v1/meterdata`` -> ``/v1/requests``; N
is the id of the last request the gateway handled). The EMP answers with a
JSON object ``{"requests": [...]}``, at most MAX_REQUESTS entries in
ascending id order (the gateway takes the MAX_REQUESTS lowest ids of a longer
answer, whatever its order: the answer's size is bounded by the HTTPS client), each ``{"id": 1..2**63-1, "meters": [meter ids],
"asked": ISO 8601 UTC}``; an empty ``meters`` means every meter the EMP is
given. The gateway answers a request with signed TAF6 messages whose signed
identity names the request (``request``), and declines one it may not answer
with ``POST <requests path>/<id>/decline`` carrying ``{"reason": text}``.

:func:`parse_requests` reads an answer without trusting it: each entry is
checked on its own (types, ranges, meter ids of 1..64 of A-Z a-z 0-9 _ . -,
at most MAX_METERS of them), and a bad entry becomes a problem naming its
index, never a reason to drop the good entries around it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["MAX_METERS", "MAX_REASON", "MAX_REQUESTS", "MAX_REQUEST_ID", "OnDemandRequest", "Problem", "decline_path",
           "parse_decline", "parse_requests", "requests_path"]

MAX_REQUESTS = 16  # entries in one answer
MAX_METERS = 256  # meters in one request
MAX_REASON = 500  # characters of a decline's reason
MAX_REQUEST_ID = 2**63 - 1
METER_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Problem:
    """Why an entry of an answer (``index``), or the whole answer (None), is not a valid request."""

    index: int | None
    reason: str

    def __str__(self) -> str:
        return self.reason if self.index is None else f"requests[{self.index}]: {self.reason}"


@dataclass(frozen=True)
class OnDemandRequest:
    """One pending TAF6 request: its id at the EMP, the meters asked for (empty: all), when it was asked."""

    id: int
    meters: tuple[str, ...]
    asked: datetime

    def record(self) -> dict[str, Any]:
        """The request as its JSON object on the wire."""
        return {"id": self.id, "meters": list(self.meters),
                "asked": self.asked.astimezone(timezone.utc).isoformat(timespec="seconds")}


def requests_path(meterdata_path: str) -> str:
    """The requests path beside a meterdata path (``/v1/meterdata`` -> ``/v1/requests``)."""
    head = meterdata_path.split("?", 1)[0].rstrip("/").rpartition("/")[0]
    return f"{head}/requests"


def decline_path(meterdata_path: str, request_id: int) -> str:
    """Where the gateway declines request ``request_id``."""
    return f"{requests_path(meterdata_path)}/{request_id}/decline"


def _request(entry: object) -> OnDemandRequest:
    if not isinstance(entry, dict) or set(entry) != {"id", "meters", "asked"}:
        raise ValueError("expected an object with exactly id, meters and asked")
    number, meters, asked = entry["id"], entry["meters"], entry["asked"]
    if type(number) is not int or not 1 <= number <= MAX_REQUEST_ID:
        raise ValueError(f"id must be an integer 1..{MAX_REQUEST_ID}")
    if not isinstance(meters, list) or len(meters) > MAX_METERS:
        raise ValueError(f"meters must be a list of at most {MAX_METERS} meter ids")
    for meter in meters:
        if not isinstance(meter, str) or not METER_ID.fullmatch(meter):
            raise ValueError(f"request {number}: meter {str(meter)[:70]!r} is not a meter id")
    try:
        when = datetime.fromisoformat(asked) if isinstance(asked, str) and len(asked) <= 40 else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(f"request {number}: asked must be ISO 8601 with a UTC offset")
    return OnDemandRequest(number, tuple(dict.fromkeys(meters)), when.astimezone(timezone.utc))


def parse_requests(body: bytes) -> tuple[list[OnDemandRequest], list[Problem]]:
    """The valid requests of an EMP's answer (by id), and one problem per entry (or answer) refused."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        return [], [Problem(None, f"the answer is not JSON: {str(error)[:100]}")]
    entries = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return [], [Problem(None, "the answer is not an object with a list \"requests\"")]
    found: dict[int, OnDemandRequest] = {}
    problems = []
    for index, entry in enumerate(entries):
        try:
            request = _request(entry)
        except ValueError as error:
            problems.append(Problem(index, str(error)))
            continue
        found.setdefault(request.id, request)
    if len(found) > MAX_REQUESTS:
        problems.append(Problem(None, f"{len(found)} requests, more than {MAX_REQUESTS}: "
                                      "the later ones are taken next time"))
    return [found[number] for number in sorted(found)[:MAX_REQUESTS]], problems


def parse_decline(body: bytes) -> str:
    """The reason of a decline's body; ValueError (one line) unless it is ``{"reason": text}``."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(document, dict) or set(document) != {"reason"} or not isinstance(document["reason"], str):
        raise ValueError("expected {\"reason\": text}")
    reason = document["reason"].strip()
    if not 0 < len(reason) <= MAX_REASON:
        raise ValueError(f"the reason must be 1..{MAX_REASON} characters")
    return reason
