"""Reading the store from another process (smgwctl, the web UI) while the daemon writes.

How this works: :class:`StoreReader` opens the file read-only (``mode=ro``);
in WAL mode a reader sees the last committed state and never blocks the
writer nor waits for it. Each query runs in its own implicit read
transaction. Readings come back as the same :class:`Reading` objects the
store was given (see :mod:`.rows`); meters, log entries and outbox rows as
small frozen records. The latest reading per OBIS code of a meter is found
with index seeks only (next code after the previous one), never a scan.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from smgwd.cosem.obis import Obis
from smgwd.gateway.store.log_chain import Checkpoint
from smgwd.gateway.store.rows import READING_COLUMNS, decode_reading, from_us, to_us
from smgwd.gateway.store.schema import LOG_KINDS, connect_reader
from smgwd.reading import Reading

__all__ = ["LogEntry", "MeterInfo", "OutboxEntry", "StoreReader"]

_SELECT_READINGS = f"SELECT {', '.join(READING_COLUMNS)} FROM readings"


def _time(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


@dataclass(frozen=True)
class MeterInfo:
    """One row of ``meters``."""

    id: str
    protocol: str | None
    mode: str | None
    link: str | None
    server_id: str | None
    state: str | None
    state_reason: str | None
    state_since: datetime | None
    last_reading_at: datetime | None
    readings: int
    errors: int
    updated_at: datetime


@dataclass(frozen=True)
class LogEntry:
    """One entry of a TR-03109 log."""

    id: int
    at: datetime
    event: str
    meter_id: str | None
    obis: str | None
    message: str
    data: Any


@dataclass(frozen=True)
class OutboxEntry:
    """One message to one EMP in the delivery outbox."""

    message_id: str
    emp: str
    created_at: datetime
    payload: bytes
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    acked_at: datetime | None
    summary: Any = None  # what the message holds per meter (JSON; None: not recorded)


def _outbox_entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(row[0], row[1], from_us(row[2]), row[3], row[4], row[5], _time(row[6]), row[7], _time(row[8]),
                       None if row[9] is None else json.loads(row[9]))


class StoreReader:
    """A read-only view of a store; StoreError (one line) if the file is missing or unusable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn, self.schema_version = connect_reader(self.path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readings(
        self,
        meter: str | None = None,
        obis: Obis | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] = "asc",
    ) -> Iterator[Reading]:
        """Readings by gateway time (``since`` inclusive, ``until`` exclusive), oldest first or newest first.

        With ``since`` or ``until``, readings without a gateway time are left out.
        """
        if order not in ("asc", "desc"):
            raise ValueError(f"order is asc or desc, got {order!r}")
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("meter_id = ?", meter),
            ("obis = ?", None if obis is None else str(Obis.parse(str(obis)))),
            ("gateway_time >= ?", None if since is None else to_us(since)),
            ("gateway_time < ?", None if until is None else to_us(until)),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = _SELECT_READINGS + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += f" ORDER BY gateway_time {order}, id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return map(decode_reading, self._conn.execute(sql, params))

    def last_reading_id(self) -> int:
        """The highest reading id committed (0 for none): ids only grow, so ids up to it are all visible."""
        (found,) = self._conn.execute("SELECT max(id) FROM readings").fetchone()
        return int(found or 0)

    def id_before_time(self, moment: datetime) -> int:
        """The id before the first reading stamped after ``moment`` (the last id if none is)."""
        (found,) = self._conn.execute("SELECT min(id) FROM readings WHERE gateway_time > ?", (to_us(moment),)).fetchone()
        return self.last_reading_id() if found is None else int(found) - 1

    def readings_after(
        self, after: int, upto: int, meters: Sequence[str] = (), obis: Sequence[str] = (), limit: int | None = None,
    ) -> list[tuple[int, Reading]]:
        """(id, reading) in id order, ``after`` < id <= ``upto``, of ``meters`` and ``obis`` codes (all if empty).

        The store's order: the order the writer committed them, whatever their clocks said.
        """
        where: list[str] = ["id > ?", "id <= ?"]
        params: list[int | str] = [after, upto]
        for column, values in (("meter_id", list(meters)), ("obis", [str(Obis.parse(str(o))) for o in obis])):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        sql = f"SELECT id, {', '.join(READING_COLUMNS)} FROM readings WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [(row[0], decode_reading(row[1:])) for row in self._conn.execute(sql, params)]

    def number_near(
        self, meter: str, obis: Obis | str, moment: datetime, within: float, side: Literal["before", "after"],
        trusted: bool = True,
    ) -> Reading | None:
        """The integer reading of ``meter``/``obis`` stamped nearest ``moment`` on one side, at most ``within`` s away.

        ``before``: stamped in [moment - within, moment]; ``after``: in [moment, moment + within].
        ``trusted``: only readings whose gateway time was synchronised or drifting (not unsynchronised).
        Index seeks on (meter, obis, gateway time).
        """
        at, span = to_us(moment), round(within * 1e6)
        low, high = (at - span, at) if side == "before" else (at, at + span)
        order = "DESC" if side == "before" else "ASC"
        quality = " AND time_quality IN ('synchronised', 'drifting')" if trusted else ""
        row = self._conn.execute(
            _SELECT_READINGS + " WHERE meter_id = ? AND obis = ? AND gateway_time BETWEEN ? AND ? AND raw_kind = 0"
            + quality + f" ORDER BY gateway_time {order}, id {order} LIMIT 1",
            (meter, str(obis) if isinstance(obis, Obis) else str(Obis.parse(obis)), low, high),
        ).fetchone()
        return None if row is None else decode_reading(row)

    def first_trusted_time(self, meters: Sequence[str] = ()) -> datetime | None:
        """The earliest gateway time of a reading of ``meters`` (all if empty) whose time was trusted.

        Walks the gateway-time index from the oldest reading and stops at the first that counts (an
        aggregate over the meters' rows would read every reading they have); meters without any
        reading are left out first (one index probe each), so they never make it walk the whole store.
        """
        sql = ("SELECT gateway_time FROM readings INDEXED BY readings_time WHERE gateway_time IS NOT NULL"
               " AND time_quality IN ('synchronised', 'drifting')")
        if meters:
            probe = "SELECT 1 FROM readings WHERE meter_id = ? LIMIT 1"
            meters = [meter for meter in meters if self._conn.execute(probe, (meter,)).fetchone() is not None]
            if not meters:
                return None
            sql += f" AND meter_id IN ({', '.join('?' * len(meters))})"
        row = self._conn.execute(sql + " ORDER BY gateway_time LIMIT 1", list(meters)).fetchone()
        return None if row is None else _time(row[0])

    def last_readings(self, meter: str) -> list[Reading]:
        """The newest reading of each OBIS code of ``meter``, by OBIS code."""
        result = []
        code = self._conn.execute("SELECT min(obis) FROM readings WHERE meter_id = ?", (meter,)).fetchone()[0]
        while code is not None:
            row = self._conn.execute(
                _SELECT_READINGS + " WHERE meter_id = ? AND obis = ? ORDER BY gateway_time DESC, id DESC LIMIT 1",
                (meter, code),
            ).fetchone()
            result.append(decode_reading(row))
            code = self._conn.execute(
                "SELECT min(obis) FROM readings WHERE meter_id = ? AND obis > ?", (meter, code)
            ).fetchone()[0]
        return result

    def meters(self) -> list[MeterInfo]:
        """Every meter the store knows, by id."""
        rows = self._conn.execute(
            "SELECT id, protocol, mode, link, server_id, state, state_reason, state_since, "
            "last_reading_at, readings, errors, updated_at FROM meters ORDER BY id"
        )
        return [
            MeterInfo(meter_id, protocol, mode, link, server_id, state, reason, _time(since), _time(last),
                      readings, errors, from_us(updated))
            for (meter_id, protocol, mode, link, server_id, state, reason, since, last, readings, errors,
                 updated) in rows
        ]

    def log(self, kind: str, since: datetime | None = None, limit: int | None = None,
            event: str | None = None) -> list[LogEntry]:
        """Entries of one log at or after ``since`` (of one ``event``), oldest first; with ``limit`` the newest."""
        if kind not in LOG_KINDS:
            raise ValueError(f"log kind must be one of {', '.join(LOG_KINDS)}, got {kind!r}")
        sql = f"SELECT id, at, event, meter_id, obis, message, data FROM log_{kind}"
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("at >= ?")
            params.append(to_us(since))
        if event is not None:
            where.append("event = ?")
            params.append(event)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        entries = [
            LogEntry(row[0], from_us(row[1]), row[2], row[3], row[4], row[5],
                     None if row[6] is None else json.loads(row[6]))
            for row in self._conn.execute(sql, params)
        ]
        return entries[::-1]

    def _kind(self, kind: str) -> str:
        if kind not in LOG_KINDS:
            raise ValueError(f"log kind must be one of {', '.join(LOG_KINDS)}, got {kind!r}")
        return kind

    def chain_rows(self, kind: str) -> Iterator[tuple[Any, ...]]:
        """Every entry of one log as stored, for the chain: (id, at, event, meter_id, obis, message, data, hash)."""
        yield from self._conn.execute(f"SELECT id, at, event, meter_id, obis, message, data, hash "
                                      f"FROM log_{self._kind(kind)} ORDER BY id")

    def log_head(self, kind: str) -> tuple[int, bytes] | None:
        """The newest entry's id and hash of one log (None: empty)."""
        row = self._conn.execute(f"SELECT id, hash FROM log_{self._kind(kind)} ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def log_anchor(self, kind: str) -> tuple[int, bytes] | None:
        """The id and hash of the last entry retention cut from one log (None: nothing cut)."""
        row = self._conn.execute("SELECT id, hash FROM log_anchors WHERE kind = ?", (self._kind(kind),)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoints(self, kind: str) -> list[Checkpoint]:
        """The signed checkpoints of one log, by the entry they sign."""
        return [Checkpoint(*row) for row in self._conn.execute(
            "SELECT id, kind, upto, hash, at, signature, cert FROM log_checkpoints WHERE kind = ? ORDER BY upto, id",
            (self._kind(kind),))]

    def state(self) -> dict[str, str]:
        """The gateway_state entries (time quality, offset, stratum, ...)."""
        return dict(self._conn.execute("SELECT key, value FROM gateway_state ORDER BY key").fetchall())

    def outbox(self, state: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
        """Outbox messages in creation order (oldest first), optionally of one state."""
        if self.schema_version < 2:
            return []
        sql = f"SELECT {self._outbox_columns()} FROM outbox"
        params: list[Any] = []
        if state is not None:
            sql += " WHERE state = ?"
            params.append(state)
        sql += " ORDER BY created_at, rowid"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_outbox_entry(row) for row in self._conn.execute(sql, params)]

    def next_outbox(self, emp: str) -> OutboxEntry | None:
        """The oldest message to ``emp`` not yet done (queued, or sent without an acknowledgement)."""
        if self.schema_version < 2:
            return None
        row = self._conn.execute(
            f"SELECT {self._outbox_columns()} "
            "FROM outbox WHERE emp = ? AND state IN ('queued', 'sent') ORDER BY created_at, rowid LIMIT 1", (emp,),
        ).fetchone()
        return None if row is None else _outbox_entry(row)

    def _outbox_columns(self) -> str:
        summary = "summary" if self.schema_version >= 3 else "NULL"
        return f"message_id, emp, created_at, payload, state, attempts, next_attempt_at, last_error, acked_at, {summary}"

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log, in bytes."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(f"{self.path}{suffix}").st_size
            except FileNotFoundError:
                pass
        return total

    def total_readings(self) -> int:
        """Readings ever stored (the meters' counters: no table scan; prune does not lower them)."""
        (total,) = self._conn.execute("SELECT coalesce(sum(readings), 0) FROM meters").fetchone()
        return int(total)
