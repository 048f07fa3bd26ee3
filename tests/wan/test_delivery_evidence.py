"""What the EMP receives is evidence: every value with the gateway's capture time, its time quality and its status.

A real store, a delivery over mutual TLS to the lab EMP (in-process, as in test_delivery), then the EMP's own
listing (``smgw-emp readings --format json``, a separate process) held against the gateway's own record
(``smgwctl readings --format json``), in both COSEM/XML shapes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from smgwd.cli.main import main
from smgwd.cosem.obis import Obis
from smgwd.demo import EMP_TOML
from smgwd.gateway.store import Store
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality
from tests.wan.test_delivery import T0, Clock, Emp, delivery, drain, emp, pki, store  # noqa: F401 - fixtures

SYNCED, DRIFTING, UNSYNCED = TimeQuality.SYNCHRONISED, TimeQuality.DRIFTING, TimeQuality.UNSYNCHRONISED


def sample() -> list[Reading]:
    """Values of every kind a meter sends, stamped at hundredths, under each time quality."""
    at = T0 + timedelta(seconds=7, microseconds=370_000)
    energy, power, serial = Obis.parse("1-0:1.8.0*255"), Obis.parse("1-0:16.7.0*255"), Obis.parse("1-0:96.1.0*255")
    return [
        Reading("m1", energy, 147967771, -1, 30, 0x1C0104, MeterTime(MeterTimeKind.SEC_INDEX, 9_000_000), at, SYNCED),
        Reading("m1", power, -112, 0, 27, None, None, at, SYNCED),
        Reading("m1", serial, b"\x0aEMH\x00\x01", 0, None, None, None, at, SYNCED),
        Reading("m1", energy, 147967802, -1, 30, 0x1C0104, None, at + timedelta(seconds=1), DRIFTING),
        Reading("m2", energy, 2**40, -1, 30, 0x104, MeterTime(MeterTimeKind.UTC, 1_772_366_400),
                at + timedelta(seconds=2, microseconds=10_000), UNSYNCED),
        Reading("m2", power, 5, 1, 27, None, None, at + timedelta(seconds=2, microseconds=10_000), UNSYNCED),
        Reading("m2", Obis.parse("0-0:96.50.1*1"), True, 0, None, None, None, at + timedelta(seconds=3), DRIFTING),
    ]


def gateway_records(db: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["--db", str(db), "readings", "--format", "json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def emp_records(pki: Path, emp_db: Path) -> list[dict[str, object]]:
    """What ``smgw-emp readings --format json`` lists, run as its own process on the EMP's store."""
    work = emp_db.parent
    (work / "pki").symlink_to(pki / "lab")
    (work / "emp.toml").write_text(EMP_TOML.format(port=0, meters='"*"').replace('"emp.db"', f'"{emp_db.name}"'))
    listed = subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(work / "emp.toml"), "readings",
                             "--format", "json"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


FIELDS = ("meter", "obis", "raw", "scaler", "status", "gateway_time", "time_quality")


def key(record: dict[str, object]) -> tuple[object, ...]:
    return tuple(record[name] for name in FIELDS)


@pytest.mark.parametrize("shape", ["josef", "k461"])
def test_the_emp_stores_each_value_with_the_gateways_time_quality_and_status(
        pki: Path, emp: Emp, store: Store, shape: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    store.on_readings(sample())
    sender = delivery(pki, store, emp.port, Clock(), shape=shape)
    assert sender.build()
    drain(sender)
    sender.close()
    store.flush(10)
    mine = gateway_records(store.path, capsys)
    theirs = emp_records(pki, Path(emp.service.store.path))
    if shape == "k461":  # a load profile holds numbers only
        mine = [r for r in mine if isinstance(r["raw"], int) and not isinstance(r["raw"], bool)]
    assert len(mine) == 7 if shape == "josef" else len(mine) == 5
    assert sorted(map(key, theirs), key=repr) == sorted(map(key, mine), key=repr)
    assert {r["time_quality"] for r in theirs} == {"synchronised", "drifting", "unsynchronised"}
    assert any(r["gateway_time"] == "2026-03-01T12:00:07.370000+00:00" for r in theirs)
    units = {(r["meter"], r["obis"], r["gateway_time"]): r for r in theirs}
    for record in mine:
        stored = units[(record["meter"], record["obis"], record["gateway_time"])]
        # a value the meter sent without unit goes as unit 255 ("count"): COSEM has no "none"
        assert stored["unit_code"] == (255 if record["unit_code"] is None else record["unit_code"])
        assert stored["unit"] == record["unit"] or record["unit_code"] is None


def test_a_meter_time_never_becomes_the_capture_time(pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    """The meter's own date (or a seconds index) stays at the gateway; the capture time is the gateway's."""
    readings = sample()[:1] + [sample()[4]]
    store.on_readings(readings)
    sender = delivery(pki, store, emp.port, Clock())
    sender.build()
    drain(sender)
    sender.close()
    stored = {r.meter: r for r in emp.service.store.readings()}
    assert stored["m1"].gateway_time == readings[0].gateway_time.isoformat()  # type: ignore[union-attr]
    assert stored["m2"].gateway_time == readings[1].gateway_time.isoformat()  # type: ignore[union-attr]
    assert stored["m2"].gateway_time != "2026-03-01T12:00:00+00:00"  # the meter's own UTC date
