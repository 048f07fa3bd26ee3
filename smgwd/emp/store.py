"""The lab EMP's storage: accepted messages and the readings they carried, in SQLite.

How this works: every accepted message is one row keyed by the gateway's
message id, with the SHA-256 of the CMS bytes; its readings (one per COSEM
register or data object of each logical device) are inserted in the same
transaction. Storage is idempotent on the message id: the same id with the
same bytes again is a duplicate (acknowledged, not stored twice); the same id
with other bytes is a replay attempt and refused, and so are the same bytes
under another id. A message that carries a signed identity
(:mod:`smgwd.wan.message_identity`) must also come after the last one of its
gateway: ``senders`` keeps each sender's highest sequence number (the service names a
sender by signing participant and gateway id), moved in the
same transaction, so an old message sealed anew under a new id is refused as
an old sequence. Values keep the raw integer and scaler, as everywhere in
smgwd, with the DLMS type they came in, the meter's status word, the gateway's
capture time and its time quality (an older store gains those columns when it
is opened for writing; its old rows have them empty).

``requests`` holds the EMP's TAF6 requests (:mod:`smgwd.wan.taf6_requests`),
one row per request to one gateway (named by its certificates' participant
name, as in ``[gateways]``): ``pending`` until a signed ``taf6`` message of that
gateway names it (``answered``, with the first answering message and the
count of answers; stored in the transaction that stores the message) or the
gateway declines it (``declined``, with its reason). Ids only grow
(AUTOINCREMENT): a gateway asks for those after the last it handled.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from smgwd.cosem.datatypes import INTEGER_TYPES
from smgwd.cosem.xml_values import XML_NAMES
from smgwd.wan.taf6_requests import MAX_REQUESTS, OnDemandRequest

__all__ = ["EmpStore", "ReplayError", "RequestRecord", "Row", "StoredReading"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    received_at TEXT NOT NULL,
    signer TEXT NOT NULL,
    client TEXT NOT NULL,
    readings INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    message_id TEXT NOT NULL REFERENCES messages(message_id),
    meter TEXT NOT NULL,
    obis TEXT NOT NULL,
    class_id INTEGER NOT NULL,
    raw TEXT NOT NULL,
    scaler INTEGER,
    unit INTEGER,
    received_at TEXT NOT NULL,
    value_type TEXT,
    status TEXT,
    gateway_time TEXT,
    time_quality TEXT,
    marks TEXT
);
CREATE INDEX IF NOT EXISTS readings_meter ON readings (meter, obis, received_at);
CREATE INDEX IF NOT EXISTS messages_digest ON messages (digest);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
    meters TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    state TEXT NOT NULL,
    message_id TEXT,
    answers INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS requests_pending ON requests (gateway, state, id);
CREATE TABLE IF NOT EXISTS senders (
    gateway TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


#: Columns added to ``readings`` after the first release, with their types (see :meth:`EmpStore._migrate`).
_ADDED_COLUMNS = (("value_type", "TEXT"), ("status", "TEXT"), ("gateway_time", "TEXT"), ("time_quality", "TEXT"),
                  ("marks", "TEXT"))
_READING_COLUMNS = ("message_id", "meter", "obis", "class_id", "raw", "scaler", "unit", "received_at",
                    *(name for name, _ in _ADDED_COLUMNS))
#: The XML names of the DLMS integer types: their raw text is an integer.
_INTEGER_TYPES = frozenset(XML_NAMES[kind] for kind in INTEGER_TYPES)


@dataclass(frozen=True, slots=True)
class Row:
    """One reading of an accepted message, as :meth:`EmpStore.accept` stores it."""

    meter: str
    obis: str
    class_id: int
    value_type: str  # the DLMS type's XML name: "ulong64", "octet-string", "boolean", ...
    raw: str  # the value as text (integers exactly; octet strings as hex)
    scaler: int | None = None
    unit: int | None = None
    status: int | None = None  # the meter's status word
    gateway_time: str | None = None  # ISO 8601 UTC: when the gateway took the value
    time_quality: str | None = None  # synchronised | drifting | unsynchronised
    marks: tuple[str, ...] = ()  # the gateway's marks of a derived value: gap, interpolated


class ReplayError(ValueError):
    """A message id seen before with different content, a message seen before under another id (``kind``
    "replay"), or a sequence number not after its gateway's last one ("old_sequence")."""

    def __init__(self, reason: str, kind: str = "replay") -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A stored reading, in the column order of the ``readings`` table."""

    message_id: str
    meter: str
    obis: str
    class_id: int
    raw: str  # the value as text (integers exactly; octet strings as hex)
    scaler: int | None
    unit: int | None
    received_at: str
    value_type: str | None = None
    status: str | None = None
    gateway_time: str | None = None
    time_quality: str | None = None
    marks: str | None = None  # what the gateway derived: "gap", "interpolated" (comma-separated)

    def typed_raw(self) -> int | bool | str:
        """The raw value as JSON gives it: an integer, a boolean, or text (octet strings as hex)."""
        if self.value_type in _INTEGER_TYPES:
            return int(self.raw)
        if self.value_type == "boolean":
            return self.raw == "True"
        return self.raw

    def record(self) -> dict[str, Any]:
        """The JSON object of ``smgw-emp readings --format json`` and ``GET /v1/readings``."""
        from smgwd.cosem.units import unit_symbol

        return {
            "message_id": self.message_id, "meter": self.meter, "obis": self.obis, "class_id": self.class_id,
            "raw": self.typed_raw(), "value_type": self.value_type, "scaler": self.scaler,
            "unit": None if self.unit is None else unit_symbol(self.unit), "unit_code": self.unit,
            "status": None if self.status is None else int(self.status),
            "gateway_time": self.gateway_time, "time_quality": self.time_quality,
            "marks": [] if not self.marks else self.marks.split(","), "received_at": self.received_at,
        }


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A TAF6 request as the EMP keeps it."""

    request: OnDemandRequest
    gateway: str
    state: str  # pending | answered | declined
    message_id: str | None  # the first message that answered it
    answers: int  # messages that named it
    closed_at: str | None  # when it was answered or declined
    reason: str | None  # the gateway's, when it declined

    def record(self) -> dict[str, Any]:
        """The JSON object of ``smgw-emp requests --format json``."""
        return {**self.request.record(), "gateway": self.gateway, "state": self.state,
                "message_id": self.message_id, "answers": self.answers, "closed_at": self.closed_at,
                "reason": self.reason}


def _request_of(number: int, meters: str, asked: str) -> OnDemandRequest:
    return OnDemandRequest(number, tuple(json.loads(meters)), datetime.fromisoformat(asked))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class EmpStore:
    """One SQLite file; safe to use from the server's handler threads."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
            self._migrate()
        have = self._reading_columns()
        self._select = ", ".join(name if name in have else f"NULL AS {name}" for name in _READING_COLUMNS)
        self._lock = threading.Lock()

    def _reading_columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute("PRAGMA table_info(readings)")}

    def _migrate(self) -> None:
        """Add the columns a store of an older release lacks (appended, as in ``_SCHEMA``)."""
        have = self._reading_columns()
        for name, kind in _ADDED_COLUMNS:
            if name not in have:
                self._conn.execute(f"ALTER TABLE readings ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self._conn.close()

    def accept(self, message_id: str, digest: str, signer: str, client: str,
               rows: Iterable[Row], sender: tuple[str, int] | None = None,
               answers: tuple[str, int] | None = None) -> bool:
        """Store a message and its readings; False when it was a duplicate.

        ``sender`` is the (gateway, sequence number) of its signed identity, if it has one; ``answers``
        the (gateway participant, request id) of the TAF6 request it answers.
        """
        now = _now()
        with self._lock:
            known = self._conn.execute("SELECT digest FROM messages WHERE message_id = ?", (message_id,)).fetchone()
            if known is not None:
                if known[0] != digest:
                    raise ReplayError(f"message id {message_id} was already used for other content")
                return False
            copy = self._conn.execute("SELECT message_id FROM messages WHERE digest = ?", (digest,)).fetchone()
            if copy is not None:  # the same sealed bytes under another id: a replay, not a new message
                raise ReplayError(f"this message was already stored as {copy[0]}")
            if sender is not None:
                last = self._conn.execute("SELECT sequence, message_id FROM senders WHERE gateway = ?",
                                          (sender[0],)).fetchone()
                if last is not None and sender[1] <= last[0]:
                    raise ReplayError(f"sequence {sender[1]} of gateway {sender[0]} is not after its last one, "
                                      f"{last[0]} ({last[1]})", "old_sequence")
            rows = list(rows)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if sender is not None:
                    self._conn.execute(
                        "INSERT INTO senders VALUES (?, ?, ?, ?) ON CONFLICT (gateway) DO UPDATE SET "
                        "sequence = excluded.sequence, message_id = excluded.message_id, updated_at = excluded.updated_at",
                        (sender[0], sender[1], message_id, now))
                if answers is not None:
                    self._conn.execute(
                        "UPDATE requests SET state = 'answered', message_id = coalesce(message_id, ?), "
                        "answers = answers + 1, closed_at = coalesce(closed_at, ?) "
                        "WHERE id = ? AND gateway = ? AND state != 'declined'", (message_id, now, answers[1], answers[0]))
                self._conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                                   (message_id, digest, now, signer, client, len(rows)))
                self._conn.executemany(
                    f"INSERT INTO readings ({', '.join(_READING_COLUMNS)}) VALUES ({', '.join('?' * len(_READING_COLUMNS))})",
                    [(message_id, r.meter, r.obis, r.class_id, r.raw, r.scaler, r.unit, now, r.value_type,
                      None if r.status is None else str(r.status), r.gateway_time, r.time_quality,
                      ",".join(r.marks) or None) for r in rows])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return True

    def ask(self, gateway: str, meters: Iterable[str] = ()) -> OnDemandRequest:
        """A new pending TAF6 request to ``gateway`` for ``meters`` (empty: all it gives this EMP)."""
        now = _now()
        chosen = list(dict.fromkeys(meters))
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO requests (gateway, meters, asked_at, state) VALUES (?, ?, ?, 'pending')",
                (gateway, json.dumps(chosen), now))
        assert cursor.lastrowid is not None
        return _request_of(cursor.lastrowid, json.dumps(chosen), now)

    def pending(self, gateway: str, after: int = 0, limit: int = MAX_REQUESTS) -> list[OnDemandRequest]:
        """``gateway``'s pending requests after id ``after``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, meters, asked_at FROM requests WHERE gateway = ? AND state = 'pending' AND id > ? "
                "ORDER BY id LIMIT ?", (gateway, after, limit)).fetchall()
        return [_request_of(*row) for row in rows]

    def decline(self, gateway: str, request_id: int, reason: str) -> bool:
        """Mark ``gateway``'s pending request declined; False if it has no such pending request."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE requests SET state = 'declined', closed_at = ?, reason = ? "
                "WHERE id = ? AND gateway = ? AND state = 'pending'", (_now(), reason, request_id, gateway))
        return cursor.rowcount == 1

    def requests(self, gateway: str | None = None, limit: int = 10_000) -> list[RequestRecord]:
        """The requests (of ``gateway``, or all), oldest first."""
        where, params = ("WHERE gateway = ?", (gateway,)) if gateway is not None else ("", ())
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, meters, asked_at, gateway, state, message_id, answers, closed_at, reason "
                f"FROM requests {where} ORDER BY id LIMIT ?", (*params, limit)).fetchall()
        return [RequestRecord(_request_of(*row[:3]), *row[3:]) for row in rows]

    def sender(self, gateway: str) -> tuple[int, str] | None:
        """The highest sequence number stored from ``gateway``, and that message's id."""
        with self._lock:
            row = self._conn.execute("SELECT sequence, message_id FROM senders WHERE gateway = ?",
                                     (gateway,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def message(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        keys = ("message_id", "digest", "received_at", "signer", "client", "readings")
        return dict(zip(keys, row))

    def readings(self, meter: str | None = None, obis: str | None = None, since: str | None = None,
                 limit: int = 10_000) -> list[StoredReading]:
        clauses, params = [], []
        for column, value, op in (("meter", meter, "="), ("obis", obis, "="), ("received_at", since, ">=")):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._select} FROM readings {where} ORDER BY received_at, rowid LIMIT ?",
                (*params, limit)
            ).fetchall()
        return [StoredReading(*row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """(messages, readings) stored."""
        with self._lock:
            messages = self._conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            readings = self._conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        return int(messages), int(readings)
