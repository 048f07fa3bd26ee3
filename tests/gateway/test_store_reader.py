"""The read-only side: filters, newest values, and reading while the daemon writes (WAL)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from smgwd.cosem.obis import ObisError
from smgwd.gateway.store import StoreReader
from tests.gateway.test_store_support import E180, P1670, SERIAL, T0, reading, readings, running


@pytest.fixture()
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    with running(path) as store:
        store.on_readings(readings("m1", 10, E180) + readings("m1", 10, P1670) + readings("m2", 10, E180))
        store.on_reading(reading("m2", 3, SERIAL, raw=b"DZG", gateway_time=T0 + timedelta(minutes=3)))
    return path


def test_filters_by_meter_obis_and_time(filled: Path) -> None:
    with StoreReader(filled) as reader:
        assert len(list(reader.readings())) == 31
        assert {r.meter_id for r in reader.readings(meter="m2")} == {"m2"}
        assert len(list(reader.readings(meter="m1", obis="1-0:16.7.0*255"))) == 10
        assert len(list(reader.readings(obis="1-0:1.8.0"))) == 20  # F defaults to 255
        window = list(reader.readings(meter="m1", obis=E180, since=T0 + timedelta(minutes=2),
                                      until=T0 + timedelta(minutes=5)))
        assert [r.gateway_time for r in window] == [T0 + timedelta(minutes=k) for k in (2, 3, 4)]
        assert list(reader.readings(meter="nobody")) == []
        with pytest.raises(ObisError):
            reader.readings(obis="not-obis")
        with pytest.raises(ValueError):
            reader.readings(order="sideways")  # type: ignore[arg-type]


def test_order_and_limit(filled: Path) -> None:
    with StoreReader(filled) as reader:
        newest = list(reader.readings(meter="m1", obis=E180, order="desc", limit=3))
        assert [r.raw for r in newest] == [100_009, 100_008, 100_007]
        oldest = list(reader.readings(meter="m1", obis=E180, limit=2))
        assert [r.raw for r in oldest] == [100_000, 100_001]


def test_last_readings_gives_the_newest_value_of_each_code(filled: Path) -> None:
    with StoreReader(filled) as reader:
        last = reader.last_readings("m2")
        assert [(str(r.obis), r.raw) for r in last] == [("0-0:96.1.0*255", b"DZG"), ("1-0:1.8.0*255", 100_009)]
        assert reader.last_readings("nobody") == []


def test_size_counts_the_database_and_its_log(filled: Path) -> None:
    with StoreReader(filled) as reader:
        wal = Path(f"{filled}-wal")
        expected = filled.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert reader.size_bytes() == expected > 0


def test_reading_while_the_daemon_writes(tmp_path: Path) -> None:
    """A reader never blocks the writer, and sees only whole batches, growing."""
    path = tmp_path / "s.db"
    batch, batches = 50, 60
    with running(path, batch_size=batch, flush_interval=0.01) as store:
        store.on_readings(readings("m1", batch))
        assert store.flush(10)

        def write() -> None:
            for k in range(1, batches):
                store.on_readings(readings("m1", batch, start=k * batch))
                store.flush(10)

        writer = threading.Thread(target=write)
        writer.start()
        seen = []
        with StoreReader(path) as reader:
            while writer.is_alive():
                seen.append(sum(1 for _ in reader.readings()))
            writer.join()
            held = reader.readings()  # an open read transaction ...
            next(held)
            store.on_readings(readings("m1", batch, start=10**6))
            assert store.flush(10)  # ... does not stop the writer from committing
            assert store.acknowledged == (batches + 1) * batch
            snapshot = 1 + sum(1 for _ in held)  # and keeps seeing the state it started in
            assert snapshot == batches * batch and len(list(reader.readings())) == (batches + 1) * batch
    assert len(seen) > 2 and seen == sorted(seen) and seen[-1] > seen[0]
    assert all(count % batch == 0 for count in seen)  # never half a transaction


def test_a_reader_does_not_write(filled: Path) -> None:
    def times() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in filled.parent.iterdir() if not p.name.endswith("-shm")}

    before = times()
    with StoreReader(filled) as reader:
        list(reader.readings())
        reader.meters()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM readings")
    assert times()["s.db"] == before["s.db"]
    wal = filled.parent / "s.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # SQLite may leave an empty log behind


def test_first_trusted_time_of_some_meters(tmp_path: Path) -> None:
    from smgwd.reading import TimeQuality

    path = tmp_path / "s.db"
    with running(path) as store:
        store.on_readings([reading("m1", k, time_quality=TimeQuality.UNSYNCHRONISED) for k in range(5)]
                          + [reading("m1", k, time_quality=TimeQuality.DRIFTING) for k in (7, 9)]
                          + [reading("m2", k) for k in (4, 6)]
                          + [reading("m3", k, time_quality=TimeQuality.UNSYNCHRONISED) for k in range(3)])
    with StoreReader(path) as reader:
        assert reader.first_trusted_time() == T0 + timedelta(minutes=4)
        assert reader.first_trusted_time(["m1"]) == T0 + timedelta(minutes=7)  # unsynchronised ones do not count
        assert reader.first_trusted_time(["m3", "m1"]) == T0 + timedelta(minutes=7)
        assert reader.first_trusted_time(["m3"]) is None  # only untrusted readings
        assert reader.first_trusted_time(["nobody"]) is None  # no reading at all
        assert reader.first_trusted_time(["nobody", "m2"]) == T0 + timedelta(minutes=4)
