"""The loss bound under kill -9: a writer process is killed at random moments, also mid-transaction.

The child writes readings as fast as it can and prints the acknowledged count
after every commit (from the writer thread, right after COMMIT returned). The
parent kills it with SIGKILL, reads what was printed, and reopens the
database: it must open, pass ``PRAGMA integrity_check``, and hold at least the
last acknowledged count and at most one batch more (the commit that finished
just before the kill, whose line was never printed).
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from smgwd.gateway.store import StoreReader

BATCH = 2000

CHILD = r"""
import os, signal, sys
from datetime import datetime, timedelta, timezone
from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store, sql
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality

path, batch, die_in = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if die_in:  # kill ourselves inside that transaction: rows inserted, COMMIT not yet run
    original, calls = sql.insert_rows, [0]
    def dying(conn, rows):
        inserted = original(conn, rows)
        calls[0] += bool(rows)
        if calls[0] == die_in:
            os.kill(os.getpid(), signal.SIGKILL)
        return inserted
    sql.insert_rows = dying
store = Store(path, batch_size=batch, flush_interval=0.05, max_queue=20 * batch,
              on_commit=lambda n: os.write(1, b"%d\n" % n))
store.start()
codes = [Obis(1, 0, c, 8, 0) for c in range(1, 11)]
t0, k = datetime.now(timezone.utc), 0
while True:
    at = t0 + timedelta(microseconds=k)
    store.on_readings([Reading("1EMH00%08d" % (k % 7), o, 10**12 + k, -1, 30, 0x1C0104,
                               MeterTime(MeterTimeKind.SEC_INDEX, k), at, TimeQuality.SYNCHRONISED,
                               wire_raw=None) for o in codes])
    k += 1
    while store.stats.queued > 10 * batch:
        store.flush(1)
"""


def stored(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)  # read-write, as the restarted daemon: recovers the WAL
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (count,) = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(count)
    finally:
        conn.close()


def run_and_kill(path: Path, rng: random.Random, die_in: int = 0) -> tuple[int, list[int]]:
    """Start the child, kill it (or let it kill itself); the acknowledged counts it printed."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(BATCH), str(die_in)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], 30)  # the first commit (or the end)
        assert ready, "the child hangs"
        if not die_in:
            time.sleep(rng.uniform(0.0, 0.4))
            child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, err.decode()
    printed = [int(line) for line in out.decode().split()]
    return (printed[-1] if printed else 0), printed


def test_kill_9_loses_at_most_the_uncommitted_batch(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    rounds = []
    for round_number in range(8):
        before = stored(path)
        acknowledged, printed = run_and_kill(path, rng)
        after = stored(path)
        rounds.append((acknowledged, after - before))
        assert acknowledged <= after - before <= acknowledged + BATCH, (round_number, rounds)
    with StoreReader(path) as reader:  # smgwctl's read-only view opens it too
        assert sum(1 for _ in reader.readings(limit=10)) == 10
    assert sum(a for a, _ in rounds) > 0


def test_kill_inside_a_transaction_loses_exactly_that_transaction(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for die_in in (1, 2, 4):  # the child kills itself after inserting the rows of that transaction
        before = stored(path)
        acknowledged, printed = run_and_kill(path, random.Random(0), die_in=die_in)
        assert len(printed) == die_in - 1
        assert stored(path) - before == acknowledged
