"""The store's one writer: a thread that owns its connection and commits in batches.

How this works: callers (the event loop, drivers, the daemon) only append to
in-memory queues under a short lock; they never wait for the disk. The writer
thread wakes when ``batch_size`` readings are queued, when the oldest queued
item has waited ``flush_interval`` seconds, on :meth:`Store.flush` and on
:meth:`Store.stop`. Each wake-up commits one transaction: every queued
statement (logs, meter and gateway state, outbox rows), the meter counters,
and at most ``batch_size`` readings. With ``synchronous=FULL`` in WAL mode the
commit is on disk when ``COMMIT`` returns; only then does :attr:`Store.acknowledged`
grow and ``on_commit`` run.

Loss bound: on kill -9 or power loss at any moment, what is lost is at most
the readings not yet committed: those queued since the last commit — at most
``batch_size`` readings or ``flush_interval`` seconds of readings, whichever
comes first — plus the one batch in flight (at most ``batch_size``), and the
database always opens afterwards (WAL recovery). When the disk cannot keep up
the queue grows to ``max_queue`` readings, which is then the bound; beyond
it new readings are dropped and counted (a ``readings_dropped`` entry in the
system log, at most one a minute), so memory never grows without bound.

A failing disk (full, I/O error) rolls the transaction back and retries it
after ``flush_interval``; a malformed reading or statement is refused alone,
counted and logged, without taking its batch down. A statement group
(:meth:`Store.enqueue`: outbox rows and their watermark) is one queue item
run under a savepoint, so it commits whole or, refused, not at all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from smgwd.cosem.obis import Obis
from smgwd.gateway.log_events import registered
from smgwd.gateway.store import log_chain, sql
from smgwd.gateway.store.rows import from_us, now_us, to_us
from smgwd.gateway.store.schema import LOG_KINDS, StoreError, connect_writer
from smgwd.reading import Reading

__all__ = ["Store", "StoreStats", "SystemNote"]

log = logging.getLogger(__name__)

DROP_LOG_EVERY = 60.0  # seconds between two readings_dropped entries
ERROR_LOG_EVERY = 60.0  # seconds between two system-log entries of one meter's same error kind
PRUNE_CHUNK = 5000  # rows deleted per transaction by prune()


@dataclass(frozen=True)
class SystemNote:
    """A log entry to commit with other writes (see :meth:`Store.enqueue`); ``log`` names the log."""

    event: str
    message: str
    meter_id: str | None = None
    obis: str | None = None
    data: Mapping[str, Any] | None = None
    log: str = "system"  # or "calibration", "consumer"


@dataclass(frozen=True)
class StoreStats:
    """A snapshot of the writer's counters."""

    written: int  # readings committed (= acknowledged)
    batches: int  # transactions committed
    queued: int  # readings waiting for a commit
    dropped: int  # readings refused: queue full, or offered after stop()
    rejected: int  # readings or statements refused as malformed
    statements_dropped: int  # log/state statements refused: their queue was full
    last_commit_at: datetime | None
    last_error: str | None
    failing_since: datetime | None = None  # the first failed commit of the current outage, None: commits work
    commit_failures: int = 0  # failed commits (retries) of the current outage


class _Prune:
    """One prune() request, worked off a chunk at a time between batches."""

    def __init__(self, cutoff_us: int, keep_log_entries: int = 0) -> None:
        self.cutoff_us = cutoff_us
        self.keep_log_entries = keep_log_entries
        self.tables = list(sql.PRUNED)
        self.deleted = 0
        self.future: Future[int] = Future()


class Store:
    """The SQLite store: one writer thread, batched commits, bounded queues.

    Args:
        path: the database file (created, or migrated to the current schema).
        batch_size: readings per transaction; a full batch commits at once.
        flush_interval: seconds the oldest queued item may wait for its commit.
        max_queue: readings held in memory at most; more are dropped and counted.
        max_statements: queued log/state statements held at most.
        on_commit: called in the writer thread after every commit with :attr:`acknowledged`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        max_statements: int = 10_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1 or max_queue < batch_size or max_statements < 1 or not flush_interval > 0:
            raise ValueError("need batch_size >= 1, max_queue >= batch_size, max_statements >= 1, flush_interval > 0")
        self.path = Path(path)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.max_statements = max_statements
        self.on_commit = on_commit
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer waits for work here
        self._settled_cv = threading.Condition(self._lock)  # flush() waits for commits here
        self._readings: deque[Reading] = deque()
        self._statements: deque[sql.Queued] = deque()
        self._prunes: deque[_Prune] = deque()
        self._first_queued: float | None = None  # monotonic time the oldest queued item arrived
        self._accepted = self._settled = 0  # readings taken into the queue / committed or refused since
        self._stmt_accepted = self._stmt_settled = 0
        self._flush_readings = self._flush_statements = 0  # what flush() waits for
        self._written = self._batches = self._dropped = self._rejected = self._stmt_dropped = 0
        self._drop_logged, self._drop_logged_at = 0, float("-inf")
        self._error_logged: dict[tuple[str, str], tuple[float, int]] = {}
        self._last_commit_us: int | None = None
        self._last_error: str | None = None
        self._stopping = self._ended = self._failing = False
        self._failing_since_us: int | None = None
        self._commit_failures = 0
        self._thread: threading.Thread | None = None

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        """Open (create, migrate) the database and start the writer; StoreError if it cannot."""
        if self._thread is not None or self._stopping:
            raise RuntimeError("a Store starts once")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{self.path}: its directory cannot be made ({error.strerror}); "
                             f"check [store] path and the daemon user's rights on its parent") from None
        conn = connect_writer(self.path)
        log_chain.register(conn)
        try:
            chained = log_chain.chain_unhashed(conn)
        except sqlite3.Error as error:
            conn.close()
            raise StoreError(f"{self.path}: the logs cannot be chained: {error}") from None
        if chained:
            log.info("store: %d log entries from before the hash chain chained", chained)
        self._thread = threading.Thread(target=self._run, args=(conn,), name="smgwd-store", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: float | None = None) -> bool:
        """Commit everything queued before this call now; False if that took longer than ``timeout``."""
        with self._lock:
            self._flush_readings = max(self._flush_readings, self._accepted)
            self._flush_statements = max(self._flush_statements, self._stmt_accepted)
            self._wake.notify()
            if self._thread is not None and not self._ended:
                self._settled_cv.wait_for(lambda: self._caught_up() or self._ended, timeout)
            return self._caught_up()

    def _caught_up(self) -> bool:
        return self._settled >= self._flush_readings and self._stmt_settled >= self._flush_statements

    def stop(self, timeout: float | None = None) -> bool:
        """Commit what is queued, close the database; False if the writer did not finish in time."""
        with self._lock:
            self._stopping = True
            self._wake.notify()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def acknowledged(self) -> int:
        """Readings committed to disk so far (they survive kill -9 and power loss)."""
        return self._written

    @property
    def stats(self) -> StoreStats:
        with self._lock:
            return StoreStats(
                self._written, self._batches, len(self._readings), self._dropped, self._rejected,
                self._stmt_dropped, None if self._last_commit_us is None else from_us(self._last_commit_us),
                self._last_error, None if self._failing_since_us is None else from_us(self._failing_since_us),
                self._commit_failures,
            )

    # --- listener: what drivers and the daemon call ------------------------------------

    def on_reading(self, reading: Reading) -> None:
        """Queue one reading (never blocks; dropped and counted when the queue is full)."""
        self.on_readings((reading,))

    def on_readings(self, readings: Iterable[Reading]) -> None:
        """Queue readings in order (never blocks; the ones beyond ``max_queue`` are dropped)."""
        batch = list(readings)
        with self._lock:
            room = 0 if self._stopping else self.max_queue - len(self._readings)
            if room < len(batch):
                self._dropped += len(batch) - max(room, 0)
                batch = batch[: max(room, 0)]
            if not batch:
                return
            self._note_arrival()
            self._readings.extend(batch)
            self._accepted += len(batch)
            if len(self._readings) >= self.batch_size:
                self._wake.notify()

    def on_error(self, meter_id: str, kind: str, message: str) -> None:
        """Count a meter's error; log it to the system log, once a minute per meter and kind."""
        self._statement(sql.METER_ERROR, (meter_id, now_us()))
        key, now = (meter_id, kind), time.monotonic()
        with self._lock:
            logged_at, suppressed = self._error_logged.get(key, (float("-inf"), 0))
            if now - logged_at < ERROR_LOG_EVERY:
                self._error_logged[key] = (logged_at, suppressed + 1)
                return
            self._error_logged[key] = (now, 0)
        more = f" ({suppressed} more since the last entry)" if suppressed else ""
        self.log("system", f"{kind}_error", message + more, meter_id=meter_id,
                 data={"kind": kind, "suppressed": suppressed})

    # --- other writes (queued like readings, committed with the next batch) -------------

    def log(
        self,
        kind: str,
        event: str,
        message: str,
        meter_id: str | None = None,
        obis: Obis | str | None = None,
        data: Mapping[str, Any] | list[Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append to a TR-03109 log: ``kind`` is system, calibration or consumer; ``data`` JSON-able."""
        if kind not in sql.LOG:
            raise ValueError(f"log kind must be one of {', '.join(LOG_KINDS)}, got {kind!r}")
        registered(kind, event)  # an unlisted type is written all the same: counted and logged once
        text = None if data is None else json.dumps(data, ensure_ascii=False)
        when = now_us() if at is None else to_us(at)
        self._statement(sql.LOG[kind], (when, event, meter_id, None if obis is None else str(obis), message, text))

    def add_checkpoint(self, kind: str, upto: int, hash_: bytes, at: datetime, signature: bytes, cert: bytes) -> None:
        """Store a signed checkpoint of one log's chain (:mod:`smgwd.gateway.log_seal`)."""
        self._statement(log_chain.CHECKPOINT, (kind, upto, hash_, to_us(at), signature, cert))

    def upsert_meter(
        self,
        meter_id: str,
        *,
        protocol: str | None = None,
        mode: str | None = None,
        link: object | None = None,
        server_id: bytes | str | None = None,
    ) -> None:
        """Create a meter's row or update the fields given (None keeps what is stored).

        ``mode`` and ``link`` may be any object whose ``str()`` is the text to show
        (a StrEnum, a link spec printing its URL).
        """
        hex_id = server_id.hex() if isinstance(server_id, (bytes, bytearray)) else server_id
        protocol, mode, link = (None if v is None else str(v) for v in (protocol, mode, link))
        self._statement(sql.UPSERT_METER, (meter_id, protocol, mode, link, hex_id, now_us()))

    def set_meter_state(self, meter_id: str, state: str, reason: str | None = None, at: datetime | None = None) -> None:
        """Record a meter's link state (up/down/connecting); ``state_since`` moves only when it changes."""
        when = now_us() if at is None else to_us(at)
        self._statement(sql.METER_STATE, (meter_id, str(state), reason, when, now_us()))

    def set_state(self, key: str, value: str | int | float) -> None:
        """Set one gateway_state entry (e.g. ``time.quality``, ``time.offset``, ``time.stratum``)."""
        self._statement(sql.SET_STATE, (key, str(value), now_us()))

    def add_outbox(
        self, message_id: str, emp: str, payload: bytes, *,
        created_at: datetime | None = None, next_attempt_at: datetime | None = None,
    ) -> None:
        """Queue one message to one EMP in the delivery outbox (state ``queued``)."""
        created = now_us() if created_at is None else to_us(created_at)
        due = created if next_attempt_at is None else to_us(next_attempt_at)
        self._statement(sql.OUTBOX, (message_id, emp, created, bytes(payload), due, None))

    def enqueue(self, emp: str, messages: Iterable[tuple[str, bytes]], state_key: str, state_value: str,
                *, created_at: datetime | None = None, more_state: Mapping[str, str] | None = None,
                notes: Iterable[SystemNote] = (), summaries: Mapping[str, Any] | None = None) -> None:
        """Queue messages to ``emp`` and set ``state_key`` in ONE transaction (all or nothing).

        The delivery builder moves its watermark this way: the outbox rows and the
        watermark that says their readings are taken are never committed apart.
        ``more_state`` (further gateway_state entries) and ``notes`` (log entries,
        e.g. the readings set aside, a load profile's gaps) commit in the same transaction;
        ``summaries`` (message id -> JSON-able) say what each message holds, for the consumer log.
        """
        created = now_us() if created_at is None else to_us(created_at)
        stamp = now_us()
        summaries = summaries or {}
        rows: list[sql.Statement] = [
            (sql.OUTBOX, (message_id, emp, created, bytes(payload), created,
                          None if message_id not in summaries else json.dumps(summaries[message_id], ensure_ascii=False)))
            for message_id, payload in messages]
        rows.extend(_note_rows(notes, stamp))
        rows.extend((sql.SET_STATE, (key, value, stamp)) for key, value in (more_state or {}).items())
        self._statement(sql.Group((*rows, (sql.SET_STATE, (state_key, state_value, stamp)))))

    def record(self, notes: Iterable[SystemNote], state: Mapping[str, str]) -> None:
        """Log ``notes`` and set the gateway_state entries ``state`` in one transaction (all or nothing)."""
        stamp = now_us()
        rows = [*_note_rows(notes, stamp), *((sql.SET_STATE, (key, value, stamp)) for key, value in state.items())]
        if rows:
            self._statement(sql.Group(tuple(rows)))

    def mark_outbox(
        self, message_id: str, state: str, *, attempts: int, next_attempt_at: datetime | None = None,
        last_error: str | None = None, acked_at: datetime | None = None, notes: Iterable[SystemNote] = (),
    ) -> None:
        """Move an outbox message to ``state`` (queued, sent, acked, failed) with its attempt bookkeeping;
        ``notes`` (e.g. the consumer log's "sent" entries) commit with it."""
        due = None if next_attempt_at is None else to_us(next_attempt_at)
        acked = None if acked_at is None else to_us(acked_at)
        params = (state, attempts, due, last_error, acked, message_id)
        rows = _note_rows(notes, now_us())
        if rows:
            self._statement(sql.Group(((sql.MARK_OUTBOX, params), *rows)))
        else:
            self._statement(sql.MARK_OUTBOX, params)

    def prune(self, older_than: datetime, timeout: float | None = None, *, keep_log_entries: int = 0) -> int:
        """Delete readings and log entries older than ``older_than`` (and, with ``keep_log_entries``, the log
        entries beyond each log's newest that many); returns how many rows.

        Blocking (call it off the event loop); the writer deletes ``PRUNE_CHUNK`` rows per
        transaction between reading batches, so ingestion goes on meanwhile. Readings
        without a gateway time are kept, and so is the newest row of each table, however
        old: SQLite gives a new row the highest id + 1, so an emptied table would hand out
        ids again, and delivery (and every reader that goes by id) counts on ids only growing.
        """
        job = _Prune(to_us(older_than), keep_log_entries)
        with self._lock:
            if self._stopping or self._ended or self._thread is None:
                raise StoreError("the store is not running")
            self._prunes.append(job)
            self._wake.notify()
        return job.future.result(timeout)

    def _statement(self, text: str | sql.Group, params: tuple[Any, ...] = ()) -> None:
        item: sql.Queued = text if isinstance(text, sql.Group) else (text, params)
        with self._lock:
            if self._stopping or len(self._statements) >= self.max_statements:
                self._stmt_dropped += 1
                return
            self._note_arrival()
            self._statements.append(item)
            self._stmt_accepted += 1

    def _note_arrival(self) -> None:
        """Call under the lock before queueing: start the flush_interval clock of an empty queue."""
        if self._first_queued is None:
            self._first_queued = time.monotonic()
            self._wake.notify()

    # --- the writer thread --------------------------------------------------------------

    def _due(self, now: float) -> bool:
        if not (self._readings or self._statements):
            return False
        assert self._first_queued is not None
        return (
            self._stopping
            or len(self._readings) >= self.batch_size
            or self._settled < self._flush_readings
            or self._stmt_settled < self._flush_statements
            or now >= self._first_queued + self.flush_interval
        )

    def _take(self, retry_at: float) -> tuple[list[Reading], list[sql.Queued]] | None:
        """Wait for work; the next batch, or None when stopping with nothing left."""
        with self._lock:
            while True:
                now = time.monotonic()
                if self._due(now) and (now >= retry_at or self._stopping):
                    break
                if self._prunes and not self._stopping:
                    return [], []
                if self._stopping and not (self._readings or self._statements):
                    return None
                deadline = retry_at if self._first_queued is None else max(
                    retry_at, self._first_queued + self.flush_interval)
                self._wake.wait(None if not (self._readings or self._statements) else max(0.0, deadline - now))
            count = min(self.batch_size, len(self._readings))
            readings = [self._readings.popleft() for _ in range(count)]
            statements = list(self._statements)
            self._statements.clear()
            if not (self._readings or self._statements):
                self._first_queued = None
            return readings, statements

    def _put_back(self, readings: list[Reading], statements: list[sql.Queued]) -> None:
        with self._lock:
            self._readings.extendleft(reversed(readings))
            self._statements.extendleft(reversed(statements))
            if self._first_queued is None and (readings or statements):
                self._first_queued = time.monotonic()

    def _run(self, conn: sqlite3.Connection) -> None:
        retry_at = 0.0
        try:
            while True:
                work = self._take(retry_at)
                if work is None:
                    break
                readings, statements = work
                if readings or statements:
                    if self._write(conn, readings, statements):
                        retry_at = 0.0
                    elif self._stopping:
                        self._give_up(len(readings), len(statements))
                    else:
                        self._put_back(readings, statements)
                        retry_at = time.monotonic() + self.flush_interval
                if self._prunes:
                    self._prune_step(conn)
        except Exception as error:  # noqa: BLE001 - the writer must say why it ended, never vanish
            log.exception("store writer failed")
            self._last_error = f"writer failed: {error}"
        finally:
            self._end(conn)

    def _end(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            prunes = list(self._prunes)
            self._prunes.clear()
            self._ended = True
            self._settled_cv.notify_all()
        for job in prunes:
            job.future.set_exception(StoreError("the store stopped before the prune finished"))
        conn.close()

    def _give_up(self, readings: int, statements: int) -> None:
        """Stopping, and the disk refuses: count what is lost and let stop() finish."""
        with self._lock:
            self._dropped += readings + len(self._readings)
            self._settled += readings + len(self._readings)
            self._stmt_settled += statements + len(self._statements)
            self._readings.clear()
            self._statements.clear()
            self._first_queued = None
        log.error("store: %s; %d readings not stored", self._last_error, readings)

    def _write(self, conn: sqlite3.Connection, readings: list[Reading], statements: list[sql.Queued]) -> bool:
        """One transaction; True when committed, False (rolled back) when the database failed."""
        rows = sql.encode_all(readings)
        note, noted = self._drop_note()
        try:
            conn.execute("BEGIN IMMEDIATE")
            refused = sum(not sql.run(conn, item) for item in statements)
            for text, params in note:
                sql.execute(conn, text, params)
            inserted = sql.insert_rows(conn, rows)
            if inserted:
                conn.executemany(sql.TOUCH_METER, sql.meter_totals(inserted))
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if not self._failing:  # one line per outage, not one per retry
                log.error("store: commit failed, retrying every %g s: %s", self.flush_interval, error)
            with self._lock:
                if not self._failing:
                    self._failing_since_us, self._commit_failures = now_us(), 0
                self._commit_failures += 1
                self._failing, self._last_error = True, f"{self.path}: {error}"
            _rollback(conn)
            return False
        if self._failing:
            with self._lock:
                self._failing, self._failing_since_us, self._commit_failures = False, None, 0
            log.warning("store: commits work again")
        with self._lock:
            self._written += len(inserted)
            self._rejected += refused + len(readings) - len(inserted)
            self._batches += 1
            self._settled += len(readings)
            self._stmt_settled += len(statements)
            self._last_commit_us = now_us()
            if note:
                self._drop_logged, self._drop_logged_at = noted, time.monotonic()
            self._settled_cv.notify_all()
            written = self._written
        if self.on_commit is not None:
            try:
                self.on_commit(written)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the writer
                log.exception("store: on_commit failed")
        return True

    def _drop_note(self) -> tuple[list[sql.Statement], int]:
        """A readings_dropped system-log statement when readings were dropped (once a minute),
        and the drop count it covers."""
        with self._lock:
            total, new = self._dropped, self._dropped - self._drop_logged
            quiet = time.monotonic() - self._drop_logged_at < DROP_LOG_EVERY and not self._stopping
        if not new or quiet:
            return [], total
        message = f"store queue full: {new} readings dropped ({total} since start)"
        log.warning("%s", message)
        data = json.dumps({"dropped": new, "total": total})
        return [(sql.LOG["system"], (now_us(), "readings_dropped", None, None, message, data))], total

    def _prune_step(self, conn: sqlite3.Connection) -> None:
        """Delete one chunk for the oldest prune request; finish it when nothing old is left."""
        job = self._prunes[0]
        table, column = job.tables[0]
        try:
            conn.execute("BEGIN IMMEDIATE")
            if table.startswith("log_"):  # a log is cut as a prefix, its anchor moved along (the hash chain)
                deleted = log_chain.cut_prefix(conn, table.removeprefix("log_"), job.cutoff_us, PRUNE_CHUNK,
                                               keep=job.keep_log_entries)
            else:
                deleted = conn.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < ? "
                    f"AND id < (SELECT max(id) FROM {table}) ORDER BY {column} LIMIT ?)",
                    (job.cutoff_us, PRUNE_CHUNK),
                ).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            _rollback(conn)
            with self._lock:
                self._prunes.popleft()
            job.future.set_exception(StoreError(f"{self.path}: prune failed: {error}"))
            return
        job.deleted += deleted
        if deleted < PRUNE_CHUNK:
            job.tables.pop(0)
        if not job.tables:
            with self._lock:
                self._prunes.popleft()
            job.future.set_result(job.deleted)


def _note_rows(notes: Iterable[SystemNote], stamp: int) -> list[sql.Statement]:
    """The log statements of ``notes``, stamped ``stamp``."""
    rows: list[sql.Statement] = []
    for n in notes:
        registered(n.log, n.event)  # an unlisted type is written all the same: counted and logged once
        rows.append((sql.LOG[n.log], (stamp, n.event, n.meter_id, n.obis, n.message,
                                      None if n.data is None else json.dumps(n.data, ensure_ascii=False))))
    return rows


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back after a failure; a database that cannot even do that is retried later."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
