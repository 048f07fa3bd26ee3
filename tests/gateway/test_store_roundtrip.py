"""Readings read back from the store equal what was written, down to the Python type of each value."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store, StoreReader
from smgwd.gateway.store.rows import decode_reading, encode_reading, from_us, to_us
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality
from tests.gateway.test_store_support import T0, reading

EDGES = [0, 1, -1, 2**31, 2**32 - 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, -(2**64)]
integers = st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**63 - 1), st.integers(-(2**70), 2**70))
raw_values = st.one_of(integers, st.booleans(), st.binary(max_size=40))
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))])
instants = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=zones)
meter_times = st.builds(MeterTime, st.sampled_from(MeterTimeKind), integers, st.integers(-1440, 1440))

any_reading = st.builds(
    Reading,
    meter_id=st.just("placeholder"),
    obis=st.builds(Obis, *[st.integers(0, 255)] * 6),
    raw=raw_values,
    scaler=st.integers(-128, 127),
    unit=st.none() | st.integers(0, 255),
    status=st.none() | integers,
    meter_time=st.none() | meter_times,
    gateway_time=st.none() | instants,
    time_quality=st.none() | st.sampled_from(TimeQuality),
    quirks=st.lists(st.text(max_size=12), max_size=3).map(tuple),
    wire_raw=st.none() | raw_values,
)


def same(a: Reading, b: Reading) -> bool:
    """Equal, and each value of the same type (True == 1 in Python, so == alone is not enough)."""
    return a == b and type(a.raw) is type(b.raw) and type(a.wire_raw) is type(b.wire_raw)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, StoreReader]]:
    path = tmp_path_factory.mktemp("roundtrip") / "s.db"
    writer = Store(path, flush_interval=0.01)
    writer.start()
    reader = StoreReader(path)
    yield writer, reader
    reader.close()
    assert writer.stop(10)


_meters = (f"meter-{n}" for n in itertools.count())


@given(st.lists(any_reading, min_size=1, max_size=8))
def test_readings_round_trip_through_the_database(store: tuple[Store, StoreReader], written: list[Reading]) -> None:
    writer, reader = store
    meter = next(_meters)
    written = [r._replace(meter_id=meter) for r in written]
    writer.on_readings(written)
    assert writer.flush(10)
    # stored order is gateway time (none first), then arrival
    expected = sorted(written, key=lambda r: (r.gateway_time is not None, r.gateway_time or T0))
    back = list(reader.readings(meter=meter))
    assert len(back) == len(expected) and all(same(a, b) for a, b in zip(back, expected)), (back, expected)


@given(any_reading)
def test_row_encoding_round_trips(value: Reading) -> None:
    assert same(decode_reading(encode_reading(value)), value)


@given(instants)
def test_microsecond_times_round_trip(moment: datetime) -> None:
    assert from_us(to_us(moment)) == moment


def test_extreme_values_keep_their_storage_class(tmp_path: Path) -> None:
    values = [2**64 - 1, -(2**63), 2**63, True, False, b"", b"\x00\xff"]
    store = Store(tmp_path / "s.db")
    store.start()
    store.on_readings([reading(raw=v, status=2**64 - 1, k=k) for k, v in enumerate(values)])
    assert store.stop(10)
    conn = sqlite3.connect(tmp_path / "s.db")
    kinds = conn.execute("SELECT raw_kind, typeof(raw), typeof(status) FROM readings ORDER BY id").fetchall()
    conn.close()
    assert kinds == [(0, "text", "text"), (0, "integer", "text"), (0, "text", "text"), (1, "integer", "text"),
                     (1, "integer", "text"), (2, "blob", "text"), (2, "blob", "text")]
    with StoreReader(tmp_path / "s.db") as reader:
        back = [r.raw for r in reader.readings()]
    assert back == values and [type(v) for v in back] == [type(v) for v in values]


def test_a_naive_gateway_time_is_taken_as_utc(tmp_path: Path) -> None:
    naive = datetime(2025, 3, 30, 1, 59, 59, 999999)
    assert from_us(to_us(naive)) == naive.replace(tzinfo=timezone.utc)


@given(any_reading, st.text(min_size=1, max_size=8), instants, st.sampled_from(TimeQuality))
def test_stamped_is_replace_made_faster(reading: Reading, meter: str, at: datetime, quality: TimeQuality) -> None:
    stamped = reading.stamped(meter, at, quality)
    assert type(stamped) is Reading
    assert tuple(stamped) == tuple(reading._replace(meter_id=meter, gateway_time=at, time_quality=quality))


@given(st.builds(Obis, *[st.integers(0, 255)] * 6))
def test_obis_text_is_made_from_its_groups(obis: Obis) -> None:
    assert str(obis) == f"{obis.a}-{obis.b}:{obis.c}.{obis.d}.{obis.e}*{obis.f}"
    assert Obis.parse(str(obis)) == obis and str(Obis.from_bytes(obis.to_bytes())) == str(obis)
