"""Store ingest benchmark: sustained readings/s into the SQLite store, next to plain sqlite3.

Same input for both: N readings of 50 meters x 10 OBIS codes, in frames of 10
(one meter's push, as a driver hands them on), into a fresh database file with
the same schema and pragmas (WAL, synchronous=FULL: every commit reaches the
disk), 500 readings per transaction.

- smgwd: ``Store.on_readings`` per frame from the main thread; the writer thread
  encodes, inserts, keeps the meter counters and commits; timed from the first
  frame until ``flush()`` returns (everything committed).
- peer, "plain sqlite3 executemany, same table, same batch size": one thread
  turns the readings into the same rows (smgwd's row encoding, else the tables
  would differ) and runs ``executemany`` + ``COMMIT`` per 500 readings.

The ratio smgwd/peer is below 1 by what the queue, the thread hand-over and the
meter counters cost over raw SQLite. Best of 3 runs each; CPU is the process's.
Target: >= 20,000 readings/s on one core.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store
from smgwd.gateway.store.rows import READING_COLUMNS, encode_reading
from smgwd.gateway.store.schema import connect_writer
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality

BATCH = 500
METERS = 50
CODES = [Obis(1, 0, c, d, 0) for c, d in ((1, 8), (2, 8), (16, 7), (32, 7), (52, 7), (72, 7), (31, 7),
                                           (51, 7), (71, 7), (14, 7))]
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
INSERT = f"INSERT INTO readings ({', '.join(READING_COLUMNS)}) VALUES ({', '.join('?' * len(READING_COLUMNS))})"


def frames(n: int) -> list[list[Reading]]:
    """n readings as frames of one meter's 10 values, meters taking turns once a second."""
    out = []
    for k in range(n // len(CODES)):
        meter, second = k % METERS, k // METERS
        at = START + timedelta(seconds=second, microseconds=meter)
        out.append([
            Reading(f"1EMH00{meter:08d}", code, 10_000_000 + 7 * second + j, -1, 30, 0x1C0104,
                    MeterTime(MeterTimeKind.SEC_INDEX, 1_000 + second), at, TimeQuality.SYNCHRONISED)
            for j, code in enumerate(CODES)
        ])
    return out


def ours(path: Path, input_frames: list[list[Reading]]) -> None:
    store = Store(path, batch_size=BATCH, max_queue=10**7)
    store.start()
    for frame in input_frames:
        store.on_readings(frame)
    assert store.flush()
    assert store.stop()


def peer(path: Path, input_frames: list[list[Reading]]) -> None:
    conn = connect_writer(path)  # same schema and pragmas
    meters = sorted({frame[0].meter_id for frame in input_frames})
    conn.executemany("INSERT INTO meters (id, updated_at) VALUES (?, 0)", [(m,) for m in meters])
    flat = [r for frame in input_frames for r in frame]
    for start in range(0, len(flat), BATCH):
        conn.execute("BEGIN")
        conn.executemany(INSERT, [encode_reading(r) for r in flat[start:start + BATCH]])
        conn.execute("COMMIT")
    conn.close()


def measure(run: Callable[[Path, list[list[Reading]]], None], input_frames: list[list[Reading]],
            repeat: int = 3) -> tuple[float, float]:
    """(best readings/s, its CPU seconds per wall second) over fresh databases."""
    n = sum(len(f) for f in input_frames)
    best = (0.0, 0.0)
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="smgwd-bench-") as directory:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            run(Path(directory) / "bench.db", input_frames)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            check = sqlite3.connect(Path(directory) / "bench.db")
            assert check.execute("SELECT count(*) FROM readings").fetchone() == (n,)
            check.close()
        if n / wall > best[0]:
            best = (n / wall, cpu / wall)
    return best


def main(n: int = 200_000) -> None:
    input_frames = frames(n)
    flat = [r for f in input_frames for r in f]
    started = time.process_time()
    for r in flat:
        encode_reading(r)
    encode_us = (time.process_time() - started) / len(flat) * 1e6
    ours_rate, ours_cpu = measure(ours, input_frames)
    peer_rate, peer_cpu = measure(peer, input_frames)
    print(f"store ingest: {len(flat)} readings ({METERS} meters x {len(CODES)} codes, frames of {len(CODES)}), "
          f"{BATCH} per transaction, WAL + synchronous=FULL, in {tempfile.gettempdir()}")
    print(f"smgwd Store.on_readings -> writer thread: {ours_rate:9,.0f} readings/s  "
          f"({ours_cpu * 100:.0f} % of one core, {1e6 / ours_rate:.1f} µs/reading)")
    print(f"peer: plain sqlite3 executemany, same table, same batch size: {peer_rate:9,.0f} readings/s  "
          f"({peer_cpu * 100:.0f} % of one core, {1e6 / peer_rate:.1f} µs/reading)")
    print(f"ratio smgwd/peer: {ours_rate / peer_rate:.2f}x  (row encoding alone: {encode_us:.1f} µs/reading; "
          f"target >= 20,000 readings/s)")


if __name__ == "__main__":
    main()
