"""The store's writer: batching, flush, stop, bounded queue, meters, logs, state, outbox, prune."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from smgwd.gateway.store import Store, StoreError, StoreReader
from smgwd.gateway.store import sql as sql_module
from smgwd.gateway.store import writer as writer_module
from smgwd.reading import Reading
from tests.gateway.test_store_support import E180, P1670, T0, Commits, reading, readings, running


def stored(path: Path, **query: object) -> list[Reading]:
    with StoreReader(path) as reader:
        return list(reader.readings(**query))  # type: ignore[arg-type]


# --- when batches commit --------------------------------------------------------------


def test_a_full_batch_commits_without_waiting_for_the_interval(tmp_path: Path) -> None:
    commits = Commits()
    with running(tmp_path / "s.db", batch_size=10, flush_interval=3600, on_commit=commits) as store:
        store.on_readings(readings("m1", 25))
        assert commits.wait_for(20)
        assert store.stats.batches == 2 and store.stats.queued == 5 and store.acknowledged == 20
        assert len(stored(tmp_path / "s.db")) == 20


def test_a_lone_reading_commits_after_the_flush_interval(tmp_path: Path) -> None:
    commits = Commits()
    with running(tmp_path / "s.db", batch_size=1000, flush_interval=0.05, on_commit=commits) as store:
        store.on_reading(reading())
        assert commits.wait_for(1)
        assert store.stats.batches == 1


def test_flush_commits_everything_queued_before_it(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", batch_size=1000, flush_interval=3600) as store:
        store.on_readings(readings("m1", 3))
        store.log("system", "start", "hello")
        store.set_state("time.quality", "synchronised")
        assert store.flush(10)
        assert len(stored(tmp_path / "s.db")) == 3
        with StoreReader(tmp_path / "s.db") as reader:
            assert reader.state() == {"time.quality": "synchronised"}
            assert [e.event for e in reader.log("system")] == ["start"]
        assert store.flush(0)  # nothing new queued: already done


def test_a_batch_never_holds_more_than_batch_size_readings(tmp_path: Path) -> None:
    sizes: list[int] = []
    store = Store(tmp_path / "s.db", batch_size=7, flush_interval=3600,
                  on_commit=lambda n: sizes.append(n - sum(sizes)))
    store.on_readings(readings("m1", 30))  # queued before the writer runs
    store.start()
    assert store.flush(10) and store.stop(10)
    assert sizes == [7, 7, 7, 7, 2]


def test_stop_commits_what_is_queued_and_later_readings_are_dropped(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", batch_size=1000, flush_interval=3600)
    store.start()
    store.on_readings(readings("m1", 5))
    assert store.stop(10)
    store.on_reading(reading(k=99))
    assert store.stats.dropped == 1 and store.acknowledged == 5
    assert len(stored(tmp_path / "s.db")) == 5
    assert not store.alive()
    assert store.flush(1)  # returns at once: nothing more will come
    with pytest.raises(RuntimeError):
        store.start()


# --- the bounded queue ----------------------------------------------------------------


def test_a_full_queue_drops_new_readings_counts_them_and_logs_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", batch_size=10, max_queue=10, flush_interval=3600)
    store.on_readings(readings("m1", 25))  # the writer is not running: nothing drains
    store.on_reading(reading(k=100))
    assert store.stats.queued == 10 and store.stats.dropped == 16
    store.start()
    assert store.flush(10)
    store.on_readings(readings("m1", 10, start=200))
    assert store.stop(10)
    assert [r.raw for r in stored(tmp_path / "s.db")] == [100_000 + k for k in (*range(10), *range(200, 210))]
    with StoreReader(tmp_path / "s.db") as reader:
        (entry,) = reader.log("system")
    assert entry.event == "readings_dropped" and entry.data == {"dropped": 16, "total": 16}


def test_statements_are_bounded_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", max_statements=3)
    for n in range(5):
        store.set_state(f"k{n}", n)
    assert store.stats.statements_dropped == 2


def test_on_reading_never_waits_for_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside, gate = threading.Event(), threading.Event()
    original = sql_module.insert_rows

    def slow_disk(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        inside.set()
        gate.wait(10)
        return original(conn, rows)

    monkeypatch.setattr(sql_module, "insert_rows", slow_disk)
    with running(tmp_path / "s.db", batch_size=10, max_queue=100) as store:
        try:
            store.on_readings(readings("m1", 10))
            assert inside.wait(10)  # the writer holds these ten and hangs in the disk
            for k in range(1000):
                store.on_reading(reading(k=k))  # must return at once, all the same
            assert store.stats.queued == 100 and store.stats.dropped == 900
        finally:
            gate.set()
    assert len(stored(tmp_path / "s.db")) == 110


# --- bad input and a failing disk ---------------------------------------------------------


def test_malformed_readings_are_refused_alone(tmp_path: Path) -> None:
    bad = [reading(k=1, raw=1.5), reading(k=2, meter_id="bad\udcff"), reading(k=3, scaler=2**70),
           reading(k=4, unit="Wh")]
    with running(tmp_path / "s.db") as store:
        store.on_readings([reading(k=0), *bad, reading(k=5)])
        assert store.flush(10)
        assert store.stats.rejected == 4 and store.acknowledged == 2
    assert [r.raw for r in stored(tmp_path / "s.db")] == [100_000, 100_005]


def test_a_duplicate_outbox_message_is_refused_without_losing_the_batch(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        store.add_outbox("m-1", "emp-a", b"one")
        store.add_outbox("m-1", "emp-a", b"again")
        store.on_readings(readings("m1", 3))
        assert store.flush(10)
        assert store.stats.rejected == 1
    with StoreReader(tmp_path / "s.db") as reader:
        (entry,) = reader.outbox()
        assert (entry.message_id, entry.emp, entry.payload, entry.state, entry.attempts) == ("m-1", "emp-a", b"one", "queued", 0)
        assert reader.outbox(state="acked") == []
    assert len(stored(tmp_path / "s.db")) == 3


def test_a_failing_commit_is_retried_and_nothing_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = sql_module.insert_rows
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        if failures:
            raise failures.pop()
        return original(conn, rows)

    monkeypatch.setattr(sql_module, "insert_rows", flaky)
    with running(tmp_path / "s.db", flush_interval=0.01) as store:
        store.log("system", "start", "first")
        store.on_readings(readings("m1", 4))
        assert store.flush(10)
        assert store.acknowledged == 4 and "disk I/O error" in (store.stats.last_error or "")
    assert len(stored(tmp_path / "s.db")) == 4
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.message for e in reader.log("system")] == ["first"]


def test_an_on_commit_listener_that_fails_does_not_stop_the_writer(tmp_path: Path) -> None:
    def broken(_: int) -> None:
        raise RuntimeError("listener bug")

    with running(tmp_path / "s.db", on_commit=broken) as store:
        store.on_readings(readings("m1", 2))
        assert store.flush(10)
        store.on_readings(readings("m1", 2, start=2))
        assert store.flush(10) and store.alive() and store.acknowledged == 4


def test_bad_options_are_refused() -> None:
    for options in ({"batch_size": 0}, {"max_queue": 10, "batch_size": 20}, {"flush_interval": 0}):
        with pytest.raises(ValueError):
            Store("unused.db", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="system, calibration, consumer"):
        Store("unused.db").log("audit", "x", "y")


# --- meters, logs, state ------------------------------------------------------------------


def test_meter_rows_follow_readings_states_and_errors(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        store.upsert_meter("m1", protocol="sml", mode="push", link="serial:///dev/ttyUSB0", server_id=b"\x0a\x01")
        store.upsert_meter("m1", mode="pull")  # None keeps what is stored
        store.set_meter_state("m1", "connecting", "starting", at=T0)
        store.set_meter_state("m1", "down", "refused", at=T0 + timedelta(seconds=5))
        store.set_meter_state("m1", "down", "timed out", at=T0 + timedelta(seconds=9))  # same state: since stays
        store.on_readings([reading("m1", 7), reading("m1", 3), reading("m2", 1, gateway_time=None)])
        store.on_error("m2", "crc", "frame CRC mismatch")
        store.on_error("m2", "crc", "frame CRC mismatch")  # counted, not logged again within a minute
        assert store.flush(10)
    with StoreReader(tmp_path / "s.db") as reader:
        m1, m2 = reader.meters()
        log = reader.log("system")
        assert reader.total_readings() == 3
    assert (m1.protocol, m1.mode, m1.link, m1.server_id) == ("sml", "pull", "serial:///dev/ttyUSB0", "0a01")
    assert (m1.state, m1.state_reason, m1.state_since) == ("down", "timed out", T0 + timedelta(seconds=5))
    assert m1.readings == 2 and m1.last_reading_at == T0 + timedelta(minutes=7) and m1.errors == 0
    assert (m2.readings, m2.last_reading_at, m2.errors, m2.state) == (1, None, 2, None)
    assert [(e.event, e.meter_id, e.data) for e in log] == [("crc_error", "m2", {"kind": "crc", "suppressed": 0})]


def test_the_three_logs(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        for k in range(5):
            store.log("system", "tick", f"tick {k}", at=T0 + timedelta(seconds=k))
        store.log("calibration", "register_read", "1.8.0 read", meter_id="m1", obis=E180,
                  data={"raw": 2**64 - 1, "text": "ü"}, at=T0)
        store.log("consumer", "view", "consumer looked", obis="1-0:16.7.0*255", at=T0)
        with pytest.raises(TypeError):
            store.log("system", "bad", "data that is not JSON", data={"x": object()})
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.message for e in reader.log("system")] == [f"tick {k}" for k in range(5)]
        assert [e.message for e in reader.log("system", limit=2)] == ["tick 3", "tick 4"]
        assert [e.message for e in reader.log("system", since=T0 + timedelta(seconds=3))] == ["tick 3", "tick 4"]
        (calibration,) = reader.log("calibration")
        assert (calibration.meter_id, calibration.obis, calibration.data) == ("m1", str(E180), {"raw": 2**64 - 1, "text": "ü"})
        assert reader.log("consumer")[0].obis == str(P1670)
        with pytest.raises(ValueError):
            reader.log("audit")


def test_gateway_state_keeps_the_last_value(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        store.set_state("time.offset", 0.25)
        store.set_state("time.offset", -0.003)
        store.set_state("time.stratum", 2)
    with StoreReader(tmp_path / "s.db") as reader:
        assert reader.state() == {"time.offset": "-0.003", "time.stratum": "2"}


# --- retention ----------------------------------------------------------------------------


def test_prune_deletes_old_readings_and_log_entries_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "PRUNE_CHUNK", 7)
    with running(tmp_path / "s.db") as store:
        store.on_readings(readings("m1", 50))  # minutes 0..49
        store.on_reading(reading("m1", 60, gateway_time=None))  # no time: kept
        for k in range(10):
            store.log("system", "tick", str(k), at=T0 + timedelta(minutes=k * 5))
        assert store.flush(10)
        deleted = store.prune(T0 + timedelta(minutes=30), timeout=10)
        batches_before = store.stats.batches
        store.on_readings(readings("m1", 3, start=100))  # ingestion goes on after (and during) a prune
        assert store.flush(10) and store.stats.batches > batches_before
    assert deleted == 30 + 6
    left = stored(tmp_path / "s.db")
    assert [r.raw for r in left] == [100_060] + [100_000 + k for k in (*range(30, 50), 100, 101, 102)]
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.message for e in reader.log("system")] == ["6", "7", "8", "9"]
        assert reader.meters()[0].readings == 54  # counters count what arrived, not what is kept


def test_prune_needs_a_running_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not running"):
        Store(tmp_path / "s.db").prune(T0)
