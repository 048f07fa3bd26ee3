"""A poison reading (one that cannot be rendered) is set aside, never blocks the readings behind it.

Real store, real lab EMP over mutual TLS (the fixtures of test_delivery), and
``smgwctl deliveries`` run in-process on the same store file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from smgwd.cli.main import main
from smgwd.gateway.store import Store, StoreReader
from smgwd.reading import MeterTime, MeterTimeKind, Reading
from smgwd.wan.delivery import set_aside_key, watermark_key
from tests.wan.test_delivery import T0, Clock, Emp, delivery, drain, emp, gateway_rows, pki, readings, store

__all__ = ["emp", "pki", "store"]  # fixtures


def poison(base: Reading) -> list[Reading]:
    """The poison readings found in the field, at the gateway time of ``base``."""
    return [
        base._replace(unit=25118),
        base._replace(scaler=21247),
        base._replace(status=-255),
    ]


def far_meter_time(base: Reading) -> Reading:
    """Poison once (a meter date in the year 10000 was its capture time); the gateway's time is now."""
    return base._replace(meter_time=MeterTime(MeterTimeKind.UTC, 253402300800))


def deliveries(db: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["--db", str(db), "deliveries", *extra]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("shape", ["josef", "k461"])
def test_poison_readings_are_set_aside_and_the_good_ones_delivered(
        pki: Path, emp: Emp, store: Store, shape: str, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    good = readings(0, 3) + readings(0, 3, meter="m2")
    good.append(far_meter_time(good[4]))
    bad = poison(good[4]) + poison(readings(2, 1, meter="m2")[0])
    store.on_readings(sorted(good + bad, key=lambda r: r.gateway_time))  # type: ignore[arg-type, return-value]
    sender = delivery(pki, store, emp.port, Clock(), shape=shape)
    ids = sender.build()
    assert ids
    drain(sender)
    assert emp.rows() == gateway_rows(good)
    assert sender.set_aside == len(bad)
    with StoreReader(store.path) as reader:
        state = reader.state()
    with StoreReader(store.path) as reader:
        assert state[watermark_key("emp")] == str(reader.last_reading_id())
    assert state[set_aside_key("emp")] == str(len(bad))
    set_aside_lines = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert len(set_aside_lines) == len(bad)
    # a later build neither retries them nor logs them again; new good readings still go out
    store.on_readings(readings(3, 1))
    caplog.clear()
    sender.clock.now += timedelta(minutes=5)  # type: ignore[attr-defined]
    assert len(sender.build()) == 1
    drain(sender)
    assert sender.set_aside == len(bad)
    assert not [r for r in caplog.records if "set aside" in r.getMessage()]
    assert emp.rows() == gateway_rows(good + readings(3, 1))
    sender.close()
    store.flush(10)

    table = deliveries(store.path, capsys)
    assert f"set aside: {len(bad)} reading(s)" in table
    assert "25118" in table and "21247" in table
    records = [json.loads(line) for line in deliveries(store.path, capsys, "--format", "json").splitlines()]
    aside = [r for r in records if r["state"] == "set_aside"]
    assert sorted((r["meter"], r["obis"]) for r in aside) == sorted((r.meter_id, str(r.obis)) for r in bad)
    assert all(r["emp"] == "emp" and r["gateway_time"] and r["reason"] for r in aside)


def test_a_build_of_only_poison_readings_still_moves_the_watermark(pki: Path, emp: Emp, store: Store) -> None:
    store.on_readings(poison(readings(0, 1)[0]))
    sender = delivery(pki, store, emp.port, Clock())
    assert sender.build() == []
    assert sender.build() == []
    assert sender.set_aside == 3
    sender.close()
    # a restarted builder keeps the count and the watermark
    again = delivery(pki, store, emp.port, Clock())
    assert again.build() == []
    assert again.set_aside == 3
    again.close()
