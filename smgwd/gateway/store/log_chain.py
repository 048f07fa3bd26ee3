"""The hash chain of the three TR-03109 logs: every entry commits to the one before it.

How this works: each entry of ``log_<kind>`` has ``hash`` = SHA-256 over

    b"smgwd log 1\\0" + kind + b"\\0" + previous hash (32 bytes)
    + id (8 bytes) + at (8 bytes, microseconds since 1970 UTC)
    + event, meter_id, obis, message, data (each a 4-byte length and its UTF-8, 0xFFFFFFFF for NULL)

(integers big-endian, ``at`` signed). The previous hash of the first entry is
32 zero bytes; once retention has cut older entries it is the hash of the
last entry cut, kept in ``log_anchors`` with its id. So an edited entry no
longer matches its hash, and a removed, inserted or reordered one breaks the
next entry's link; ids go up by one from the anchor, so a removed last entry
shows as a missing id once a later one is written, and a signed checkpoint
(:mod:`smgwd.gateway.log_seal`) covers the head.

The writer computes the hash in SQL through ``smgw_log_hash``, a function
registered on its connection only (:func:`register`): :data:`INSERT` names
the new id (the highest + 1; ids are never reused, as pruning keeps the newest
entry) and reads the previous hash in the same statement, inside the writer's
transaction, so the chain follows the order of ids whatever the clock does.
A connection without the function cannot add log entries at all. Entries of
a store from before the chain (schema 2) are chained when the writer opens it
(:func:`chain_unhashed`), in id order; where older ones were cut before, the
chain starts from zeros at an anchor just before the first entry kept.

:func:`cut_prefix` is retention, by age and by count: it deletes the oldest
entries up to an id and moves the anchor there, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from smgwd.gateway.store.schema import LOG_KINDS

__all__ = ["CHECKPOINT", "Checkpoint", "GENESIS", "INSERT", "MAGIC", "chain_unhashed", "cut_prefix", "entry_hash",
           "register"]

MAGIC = b"smgwd log 1\0"
GENESIS = bytes(32)
_NULL = b"\xff\xff\xff\xff"


def _field(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode("utf-8", "surrogatepass")
    return len(data).to_bytes(4, "big") + data


def entry_hash(kind: str, previous: bytes, entry_id: int, at: int, event: str, meter_id: str | None,
               obis: str | None, message: str, data: str | None) -> bytes:
    """The hash of one log entry (see the module comment)."""
    digest = hashlib.sha256(MAGIC + kind.encode() + b"\0" + bytes(previous))
    digest.update(entry_id.to_bytes(8, "big") + at.to_bytes(8, "big", signed=True))
    for value in (event, meter_id, obis, message, data):
        digest.update(_field(value))
    return digest.digest()


def _sql_hash(kind: Any, previous: Any, entry_id: Any, at: Any, event: Any, meter_id: Any, obis: Any,
              message: Any, data: Any) -> bytes:
    if not isinstance(previous, bytes) or len(previous) != 32:
        raise ValueError("previous hash is not 32 bytes")
    return entry_hash(kind, previous, entry_id, at, event, meter_id, obis, message, data)


def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the ``smgw_log_hash`` function :data:`INSERT` needs (the writer's connection)."""
    conn.create_function("smgw_log_hash", 9, _sql_hash, deterministic=True)


def _insert(kind: str) -> str:
    anchor = f"(SELECT {{}} FROM log_anchors WHERE kind = '{kind}')"
    return (
        f"INSERT INTO log_{kind} (id, at, event, meter_id, obis, message, data, hash) "
        f"SELECT n, ?1, ?2, ?3, ?4, ?5, ?6, smgw_log_hash('{kind}', previous, n, ?1, ?2, ?3, ?4, ?5, ?6) FROM ("
        f"SELECT coalesce((SELECT max(id) FROM log_{kind}), {anchor.format('id')}, 0) + 1 AS n, "
        f"coalesce((SELECT hash FROM log_{kind} ORDER BY id DESC LIMIT 1), {anchor.format('hash')}, zeroblob(32)) "
        f"AS previous)"
    )


#: kind -> the statement that appends one entry; parameters (at, event, meter_id, obis, message, data)
INSERT = {kind: _insert(kind) for kind in LOG_KINDS}
CHECKPOINT = "INSERT INTO log_checkpoints (kind, upto, hash, at, signature, cert) VALUES (?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of one log's chain: the entry ``upto`` had ``hash`` at ``at`` (microseconds)."""

    id: int
    kind: str
    upto: int
    hash: bytes
    at: int
    signature: bytes  # DER ECDSA
    cert: bytes  # the signer's certificate, DER


def chain_unhashed(conn: sqlite3.Connection) -> int:
    """Chain the entries that have no hash yet (a store from before the chain), in id order; how many."""
    done = 0
    for kind in LOG_KINDS:
        rows = conn.execute(f"SELECT id, at, event, meter_id, obis, message, data FROM log_{kind} "
                            "WHERE hash IS NULL ORDER BY id").fetchall()
        if not rows:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            chained = conn.execute(f"SELECT 1 FROM log_{kind} WHERE hash IS NOT NULL LIMIT 1").fetchone()
            if chained is None and rows[0][0] > 1:  # an old retention cut: the chain starts here, from zeros
                _move_anchor(conn, kind, rows[0][0] - 1, GENESIS)
            for row in rows:
                before = conn.execute(f"SELECT hash FROM log_{kind} WHERE id < ? AND hash IS NOT NULL "
                                      "ORDER BY id DESC LIMIT 1", (row[0],)).fetchone()
                previous = GENESIS if before is None else before[0]
                conn.execute(f"UPDATE log_{kind} SET hash = ? WHERE id = ?", (entry_hash(kind, previous, *row), row[0]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done += len(rows)
    return done


def cut_prefix(conn: sqlite3.Connection, kind: str, cutoff_us: int, limit: int, keep: int = 0) -> int:
    """Delete at most ``limit`` of the oldest entries: those before the first one at or after ``cutoff_us``,
    and (``keep`` > 0) all but the newest ``keep``; never the newest. The anchor moves to the last one deleted.
    Run inside a transaction; how many were deleted."""
    row = conn.execute(
        f"SELECT min(id), (SELECT min(id) FROM log_{kind} WHERE at >= ?), max(id) FROM log_{kind}",
        (cutoff_us,)).fetchone()
    lowest, young, newest = row
    if lowest is None:
        return 0
    by_age = (young if young is not None else newest) - 1
    by_count = newest - keep if keep > 0 else lowest - 1
    last = min(max(by_age, by_count), newest - 1, lowest + limit - 1)
    if last < lowest:
        return 0
    (anchor,) = conn.execute(f"SELECT hash FROM log_{kind} WHERE id = ?", (last,)).fetchone()
    deleted = conn.execute(f"DELETE FROM log_{kind} WHERE id <= ?", (last,)).rowcount
    _move_anchor(conn, kind, last, anchor)
    return int(deleted)


def _move_anchor(conn: sqlite3.Connection, kind: str, entry_id: int, hash_: bytes) -> None:
    conn.execute("INSERT INTO log_anchors (kind, id, hash, cut_at) VALUES (?, ?, ?, strftime('%s') * 1000000) "
                 "ON CONFLICT (kind) DO UPDATE SET id = excluded.id, hash = excluded.hash, cut_at = excluded.cut_at",
                 (kind, entry_id, hash_))
