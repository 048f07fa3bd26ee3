"""The store's SQLite schema, its forward migrations, and how connections are opened.

How this works: :data:`MIGRATIONS` is an append-only list; step ``n`` (1-based)
turns a database of version ``n - 1`` into version ``n``, and the
``schema_version`` table records every step applied. :func:`migrate` runs the
missing steps, each in its own ``BEGIN IMMEDIATE`` transaction (so two
processes opening one file cannot both apply a step), and refuses a database
newer than this code, or a file that holds tables but is not an smgwd store.
Never edit a released step: append a new one.

An smgwd store is marked twice: ``PRAGMA application_id`` is "SMGW" and a
``schema_version`` table exists; a file with tables but not both marks is
foreign and refused. Opening for writing (:func:`connect_writer`) first
checks the file read-only (:func:`inspect`: path, header, quick_check,
marks, version; see :mod:`~smgwd.gateway.store.health`) and writes nothing
(no WAL switch, no migration) to a file that fails; a lock held by another
process is waited for ``OPEN_BUSY_TIMEOUT_MS``, then refused.

Tables are STRICT, so a value keeps the storage class it was written with:
columns typed ``ANY`` hold INTEGER, TEXT (an integer beyond int64, in decimal)
or BLOB exactly as given. Times are integer microseconds since 1970 UTC.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from smgwd.gateway.store.errors import SchemaError, StoreError
from smgwd.gateway.store.health import (
    OPEN_BUSY_TIMEOUT_MS, START_CHECK_BUDGET, check_file, check_integrity, explain, read_only_uri,
)
from smgwd.gateway.store.rows import now_us

__all__ = [
    "APPLICATION_ID", "LOG_KINDS", "MIGRATIONS", "SchemaError", "StoreCheck", "StoreError",
    "check_version", "connect_reader", "connect_writer", "inspect", "migrate", "schema_version",
]

log = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of an smgwd store ("SMGW").
APPLICATION_ID = 0x534D4757
#: The three TR-03109 logs, each a table ``log_<kind>``.
LOG_KINDS = ("system", "calibration", "consumer")
BUSY_TIMEOUT_MS = 5000
#: page cache of a reader connection (SQLite's default is 2 MiB a connection; readers scan a range once)
READER_CACHE_KIB = 256
WAL_LIMIT_BYTES = 64 * 1024 * 1024  # truncate the WAL file back to this after a checkpoint


def _log_table(kind: str) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE log_{kind} (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            event TEXT NOT NULL,
            meter_id TEXT,
            obis TEXT,
            message TEXT NOT NULL,
            data TEXT              -- JSON, or NULL
        ) STRICT""",
        f"CREATE INDEX log_{kind}_at ON log_{kind}(at)",
    )


_V1_CORE = (
    """CREATE TABLE schema_version (
        version INTEGER PRIMARY KEY,
        applied_at INTEGER NOT NULL
    ) STRICT""",
    f"PRAGMA application_id = {APPLICATION_ID}",
    """CREATE TABLE meters (
        id TEXT PRIMARY KEY,
        protocol TEXT,
        mode TEXT,
        link TEXT,
        server_id TEXT,            -- hex
        state TEXT,                -- up / down / connecting
        state_reason TEXT,
        state_since INTEGER,
        last_reading_at INTEGER,
        readings INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    ) STRICT""",
    """CREATE TABLE readings (
        id INTEGER PRIMARY KEY,
        meter_id TEXT NOT NULL REFERENCES meters(id) DEFERRABLE INITIALLY DEFERRED,
        obis TEXT NOT NULL,        -- 1-0:1.8.0*255
        raw_kind INTEGER NOT NULL, -- 0 integer, 1 boolean, 2 octet string
        raw ANY NOT NULL,          -- INTEGER; TEXT decimal beyond int64; 0/1; BLOB
        scaler INTEGER NOT NULL,
        unit INTEGER,
        status ANY,                -- INTEGER, or TEXT decimal beyond int64
        meter_time_kind TEXT,      -- sec_index / utc / local
        meter_time ANY,
        meter_time_offset INTEGER, -- minutes (local)
        gateway_time INTEGER,
        time_quality TEXT,
        quirks TEXT,               -- JSON array, NULL when none
        wire_raw_kind INTEGER,
        wire_raw ANY
    ) STRICT""",
    "CREATE INDEX readings_meter_obis_time ON readings(meter_id, obis, gateway_time)",
    "CREATE INDEX readings_time ON readings(gateway_time)",
    *(statement for kind in LOG_KINDS for statement in _log_table(kind)),
    """CREATE TABLE gateway_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT""",
)

_V2_OUTBOX = (
    """CREATE TABLE outbox (
        message_id TEXT PRIMARY KEY,
        emp TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        payload BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'sent', 'acked', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT,
        acked_at INTEGER
    ) STRICT""",
    "CREATE INDEX outbox_due ON outbox(state, next_attempt_at)",
)

_V3_LOG_CHAIN = (
    *(f"ALTER TABLE log_{kind} ADD COLUMN hash BLOB" for kind in LOG_KINDS),
    """CREATE TABLE log_anchors (
        kind TEXT PRIMARY KEY,
        id INTEGER NOT NULL,       -- the last entry retention cut
        hash BLOB NOT NULL,        -- its hash: the previous hash of the first entry kept
        cut_at INTEGER NOT NULL
    ) STRICT""",
    """CREATE TABLE log_checkpoints (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        upto INTEGER NOT NULL,     -- the id of the entry whose hash this signs
        hash BLOB NOT NULL,
        at INTEGER NOT NULL,
        signature BLOB NOT NULL,   -- ECDSA-SHA256 of the gateway's signature key
        cert BLOB NOT NULL         -- its certificate, DER
    ) STRICT""",
    "CREATE INDEX log_checkpoints_kind ON log_checkpoints(kind, upto)",
    "ALTER TABLE outbox ADD COLUMN summary TEXT",  # JSON: what a message holds per meter, for the consumer log
)

#: Step n (1-based) makes version n. Append only.
MIGRATIONS: list[tuple[str, ...]] = [
    _V1_CORE,    # 1: meters, readings, the three logs, gateway state
    _V2_OUTBOX,  # 2: the delivery outbox (one row per message to one EMP)
    _V3_LOG_CHAIN,  # 3: the logs' hash chain, anchors and signed checkpoints; the outbox's summaries
]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def schema_version(conn: sqlite3.Connection) -> int:
    """The version of the database (0: empty); SchemaError if it is not an smgwd store."""
    (application_id,) = conn.execute("PRAGMA application_id").fetchone()
    if _has_table(conn, "schema_version"):
        if application_id != APPLICATION_ID:
            raise SchemaError(f"not an smgwd database (it has a schema_version table but application_id "
                              f"{application_id:#010x}, not smgwd's {APPLICATION_ID:#010x}); {_FOREIGN}")
        (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(version)
    (user_version,) = conn.execute("PRAGMA user_version").fetchone()
    names = [name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' LIMIT 4")]
    if names or application_id not in (0, APPLICATION_ID) or user_version:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") if names else "none"
        raise SchemaError(f"not an smgwd database (it has other tables and no schema_version: tables {shown}, "
                          f"application_id {application_id:#010x}, user_version {user_version}); {_FOREIGN}")
    return 0


_FOREIGN = "it may belong to another program: smgwd leaves it untouched; set [store] path to another file"


def check_version(version: int, *, minimum: int = 0) -> None:
    """Refuse a version newer than this code knows, or older than ``minimum``."""
    if version > len(MIGRATIONS):
        raise SchemaError(
            f"database schema version {version} is newer than this smgwd knows "
            f"({len(MIGRATIONS)}); upgrade smgwd, or restore a store of version {len(MIGRATIONS)} or older"
        )
    if version < minimum:
        raise SchemaError(f"database schema version {version} is older than {minimum}; start smgwd once to migrate it")


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply the missing steps up to ``target`` (default: all); returns the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    target = len(MIGRATIONS) if target is None else target
    check_version(schema_version(conn))
    for step in range(1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)  # again, under the write lock
            check_version(current)
            if current < step:
                for statement in MIGRATIONS[step - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (step, now_us()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def _wrap(path: Path, error: sqlite3.Error) -> StoreError:
    return explain(path, error)


@dataclass(frozen=True)
class StoreCheck:
    """What :func:`inspect` found in a store that passed."""

    path: Path
    exists: bool  # False: no file yet (the writer creates one)
    version: int  # schema version (0: empty or missing)
    checked: bool  # False: the integrity check ran out of its time budget
    size: int  # bytes of the database file (without WAL)


def inspect(path: str | Path, *, full: bool = False, budget: float | None = None,
            writable: bool = True) -> StoreCheck:
    """Check ``path`` read-only as smgwd would before writing; StoreError (one line) if it must be refused.

    The checks: the path (directory, FIFO, permissions, SQLite header), ``quick_check``
    (``integrity_check`` with ``full``; at most ``budget`` seconds), the smgwd marks and a
    schema version this code can run. A version older than this code's is fine (smgwd migrates it).
    """
    path = Path(path)
    header = check_file(path, writable=writable)
    if header is None:
        return StoreCheck(path, exists=False, version=0, checked=True, size=0)
    try:
        conn = sqlite3.connect(read_only_uri(path, header), uri=True, isolation_level=None)
    except sqlite3.Error as error:
        raise explain(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {OPEN_BUSY_TIMEOUT_MS}")
        checked = check_integrity(conn, path, full=full, budget=budget)
        version = schema_version(conn)
        check_version(version)
    except sqlite3.Error as error:
        raise explain(path, error) from None
    except StoreError as error:
        if str(error).startswith(f"{path}: "):
            raise
        raise type(error)(f"{path}: {error}") from None
    finally:
        conn.close()
    return StoreCheck(path, exists=True, version=version, checked=checked, size=path.stat().st_size)


def connect_writer(path: str | Path, *, check_budget: float | None = START_CHECK_BUDGET) -> sqlite3.Connection:
    """The writer's connection: WAL, synchronous=FULL, foreign keys; schema migrated.

    Before anything is written, :func:`inspect` checks the file (``quick_check`` for at most
    ``check_budget`` seconds; None: no limit); a file that fails is refused untouched. A lock
    held by another process is waited for ``OPEN_BUSY_TIMEOUT_MS``, then refused. The
    connection may be handed to one other thread (the writer) once opened.
    """
    path = Path(path)
    found = inspect(path, budget=check_budget)
    if not found.checked:
        log.warning("%s: quick_check did not finish within %g s (%d MB); starting anyway, "
                    "run `smgwctl store check` to check it whole", path, check_budget, found.size // 1_000_000)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise _wrap(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {OPEN_BUSY_TIMEOUT_MS}")
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode}); put the store on a local file system")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        migrate(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as error:
        conn.close()
        raise _wrap(path, error) from None
    except StoreError as error:
        conn.close()
        if str(error).startswith(f"{path}: "):
            raise
        raise type(error)(f"{path}: {error}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: str | Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection (``mode=ro``) and the schema version; StoreError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database")
    uri = f"file:{quote(path.resolve().as_posix())}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise _wrap(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
        version = schema_version(conn)
        check_version(version, minimum=1)
    except sqlite3.Error as error:
        conn.close()
        raise _wrap(path, error) from None
    except StoreError as error:
        conn.close()
        raise type(error)(f"{path}: {error}") from None
    return conn, version
