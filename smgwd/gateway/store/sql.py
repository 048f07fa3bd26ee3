"""The writer's SQL: its statements, and the few helpers that run them inside a transaction.

How this works: every write the :class:`~smgwd.gateway.store.writer.Store` queues
is one ``(sql, params)`` pair from here. Readings go in with one ``executemany``;
only when a value of one row is refused (type, size, unencodable text) are the
rows inserted one by one, so one malformed reading costs its batch nothing.
Meter rows are upserted after the readings (the foreign key is checked at
COMMIT), with their reading count and latest gateway time.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from smgwd.gateway.store import log_chain
from smgwd.gateway.store.rows import READING_COLUMNS, encode_reading, now_us
from smgwd.gateway.store.schema import LOG_KINDS
from smgwd.reading import Reading

log = logging.getLogger(__name__)

INSERT_READING = (
    f"INSERT INTO readings ({', '.join(READING_COLUMNS)}) VALUES ({', '.join('?' * len(READING_COLUMNS))})"
)
TOUCH_METER = """INSERT INTO meters (id, readings, last_reading_at, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET readings = readings + excluded.readings,
        last_reading_at = max(coalesce(excluded.last_reading_at, last_reading_at),
                              coalesce(last_reading_at, excluded.last_reading_at)),
        updated_at = excluded.updated_at"""
UPSERT_METER = """INSERT INTO meters (id, protocol, mode, link, server_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET protocol = coalesce(excluded.protocol, protocol),
        mode = coalesce(excluded.mode, mode), link = coalesce(excluded.link, link),
        server_id = coalesce(excluded.server_id, server_id), updated_at = excluded.updated_at"""
METER_STATE = """INSERT INTO meters (id, state, state_reason, state_since, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        state_since = CASE WHEN state IS excluded.state THEN state_since ELSE excluded.state_since END,
        state = excluded.state, state_reason = excluded.state_reason, updated_at = excluded.updated_at"""
METER_ERROR = """INSERT INTO meters (id, errors, updated_at) VALUES (?, 1, ?)
    ON CONFLICT (id) DO UPDATE SET errors = errors + 1, updated_at = excluded.updated_at"""
SET_STATE = """INSERT INTO gateway_state (key, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"""
LOG = log_chain.INSERT  # parameters (at, event, meter_id, obis, message, data); the hash is computed in SQL
OUTBOX = ("INSERT INTO outbox (message_id, emp, created_at, payload, next_attempt_at, summary) "
          "VALUES (?, ?, ?, ?, ?, ?)")
MARK_OUTBOX = """UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, acked_at = ?
    WHERE message_id = ?"""
# (table, time column) pairs prune() empties of old rows, one chunk per transaction
PRUNED = (("readings", "gateway_time"), *((f"log_{kind}", "at") for kind in LOG_KINDS))

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Group:
    """Statements that commit together or not at all (e.g. outbox rows and their watermark)."""

    statements: tuple[Statement, ...]


Queued = Statement | Group
# What one statement's values can cause (constraint, type, size, unencodable text); the
# transaction goes on without that statement. Anything else of sqlite3 fails the transaction.
REFUSED = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.DataError,
           OverflowError, ValueError)


def encode_all(readings: list[Reading]) -> list[tuple[Any, ...]]:
    """Rows of the readings that encode; a malformed one is logged and left out."""
    rows = []
    for reading in readings:
        try:
            rows.append(encode_reading(reading))
        except (TypeError, ValueError, AttributeError) as error:
            log.error("store: reading refused: %s: %r", error, reading)
    return rows


def execute(conn: sqlite3.Connection, statement: str, params: tuple[Any, ...]) -> bool:
    """Run one queued statement; a statement that cannot be stored is logged and skipped."""
    try:
        conn.execute(statement, params)
    except REFUSED as error:
        log.error("store: statement refused: %s: %s %r", error, statement.split("(")[0], params)
        return False
    return True


def run(conn: sqlite3.Connection, item: Queued) -> bool:
    """Run one queued statement, or a group under a savepoint (a refused member undoes the group)."""
    if not isinstance(item, Group):
        return execute(conn, *item)
    conn.execute("SAVEPOINT grp")
    try:
        for statement, params in item.statements:
            conn.execute(statement, params)
    except REFUSED as error:
        conn.execute("ROLLBACK TO grp")
        conn.execute("RELEASE grp")
        log.error("store: statement group refused: %s: %s", error, [s.split("(")[0] for s, _ in item.statements])
        return False
    conn.execute("RELEASE grp")
    return True


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Insert rows (one executemany; row by row only if one is refused); the rows stored."""
    if not rows:
        return rows
    conn.execute("SAVEPOINT rows")
    try:
        conn.executemany(INSERT_READING, rows)
        conn.execute("RELEASE rows")
        return rows
    except REFUSED:
        conn.execute("ROLLBACK TO rows")
        conn.execute("RELEASE rows")
    return [row for row in rows if execute(conn, INSERT_READING, row)]


def meter_totals(rows: list[tuple[Any, ...]]) -> list[tuple[str, int, int | None, int]]:
    """(meter, readings, latest gateway time, now) per meter of the rows."""
    totals: dict[str, list[Any]] = {}
    at = READING_COLUMNS.index("gateway_time")
    for row in rows:
        entry = totals.setdefault(row[0], [0, None])
        entry[0] += 1
        if row[at] is not None and (entry[1] is None or row[at] > entry[1]):
            entry[1] = row[at]
    now = now_us()
    return [(meter, count, last, now) for meter, (count, last) in totals.items()]
