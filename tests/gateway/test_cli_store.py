"""smgwctl's store commands as an operator runs them, against a database filled through Store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from smgwd.cosem import xml_josef, xml_k461
from smgwd.cosem.classes import Register
from smgwd.gateway.store import SCHEMA_VERSION
from smgwd.reading import MeterTime, MeterTimeKind, TimeQuality
from tests.gateway.test_store_support import E180, P1670, SERIAL, T0, reading, running

EMH, DZG = "1EMH0012345678", "1DZG0042082910"
U64 = 2**64 - 1


def smgwctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "smgwd.db"
    with running(path) as store:
        store.upsert_meter(EMH, protocol="sml", mode="push", link="serial:///dev/ttyUSB0", server_id=b"\x0a\x01")
        store.upsert_meter(DZG, protocol="sml", mode="pull", link="tcp://127.0.0.1:33333")
        store.set_meter_state(EMH, "up", "connected", at=T0)
        store.set_meter_state(DZG, "down", "connection refused", at=T0 + timedelta(hours=1))
        for k in range(8):  # a quarter-hour profile: 00:00 .. 01:45
            minutes = 15 * k
            store.on_readings([
                reading(EMH, minutes, E180, raw=100_000 + 250 * k),
                reading(EMH, minutes, P1670, raw=1000 - k, scaler=0, unit=27, status=None),
                reading(DZG, minutes, E180, raw=U64 - 7 + k, status=None, time_quality=TimeQuality.DRIFTING,
                        meter_time=MeterTime(MeterTimeKind.UTC, int((T0 + timedelta(minutes=minutes)).timestamp()))),
            ])
        store.on_reading(reading(DZG, 0, SERIAL, raw=b"\x01DZG", scaler=0, unit=None, status=None,
                                 quirks=("fixed",), wire_raw=b"\x00"))
        store.set_state("time.quality", "synchronised")
        store.set_state("time.offset", "0.0012")
        store.set_state("time.stratum", 2)
        store.log("system", "start", "smgwd starting", at=T0)
        store.log("system", "link_down", "meter down", meter_id=DZG, at=T0 + timedelta(hours=1), data={"n": 1})
        store.log("calibration", "register", "1.8.0 read", meter_id=EMH, obis=E180, at=T0)
    return path


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_status_for_people_and_as_json(db: Path) -> None:
    done = smgwctl("--db", str(db), "status")
    assert done.returncode == 0, done.stderr
    assert f"schema version {SCHEMA_VERSION}" in done.stdout and "quality synchronised" in done.stdout
    assert "down (connection refused)" in done.stdout and "25 stored" in done.stdout
    status = json.loads(smgwctl("status", "--db", str(db), "--format", "json").stdout)
    assert status["schema_version"] == SCHEMA_VERSION and status["readings"] == 25 and status["size_bytes"] > 0
    assert status["time"] == {"quality": "synchronised", "offset": "0.0012", "stratum": "2"}
    meters = {m["id"]: m for m in status["meters"]}
    assert meters[EMH]["state"] == "up" and meters[EMH]["state_since"] == "2025-01-01T00:00:00Z"
    assert meters[DZG]["last_reading_at"] == "2025-01-01T01:45:00Z" and meters[DZG]["readings"] == 9


def test_meters(db: Path) -> None:
    records = jsonl(smgwctl("--db", str(db), "meters", "--format", "json").stdout)
    assert [(m["id"], m["mode"], m["server_id"]) for m in records] == [(DZG, "pull", None), (EMH, "push", "0a01")]
    table = smgwctl("--db", str(db), "meters").stdout
    assert "serial:///dev/ttyUSB0" in table and len(table.splitlines()) == 3


def test_readings_json_lines_keep_the_decode_contract(db: Path) -> None:
    done = smgwctl("--db", str(db), "readings", "--format", "json")
    assert done.returncode == 0, done.stderr
    records = jsonl(done.stdout)
    assert len(records) == 25
    assert {"protocol", "meter", "obis", "value", "unit", "raw", "scaler", "status", "time", "gateway_time",
            "time_quality"} <= set(records[0])
    dzg = [r for r in records if r["meter"] == DZG and r["obis"] == "1-0:1.8.0*255"]
    assert dzg[-1]["raw"] == U64 and dzg[-1]["time_quality"] == "drifting" and dzg[-1]["protocol"] == "sml"
    assert dzg[0]["time"] == "2025-01-01T00:00:00+00:00"
    serial = next(r for r in records if r["obis"] == "0-0:96.1.0*255")
    assert serial["raw"] == "01445a47" and serial["wire_raw"] == "00" and serial["quirks"] == ["fixed"]


def test_readings_filters(db: Path) -> None:
    def count(*args: str) -> int:
        done = smgwctl("--db", str(db), "readings", "--format", "json", *args)
        assert done.returncode == 0, done.stderr
        return len(done.stdout.splitlines())

    assert count("--meter", EMH) == 16
    assert count("--meter", EMH, "--obis", "1-0:16.7.0*255") == 8
    assert count("--obis", "1-0:1.8.0") == 16
    assert count("--since", "2025-01-01T01:00:00Z") == 12
    assert count("--since", "2025-01-01T02:00:00+01:00", "--until", "2025-01-01T01:30") == 6  # 01:00, 01:15
    assert count("--limit", "4") == 4
    assert count("--meter", "nobody") == 0  # an empty result is no error
    newest = jsonl(smgwctl("--db", str(db), "readings", "--format", "json", "--order", "desc", "--limit", "1",
                           "--meter", EMH, "--obis", "1-0:1.8.0*255").stdout)
    assert newest[0]["raw"] == 100_000 + 250 * 7


def test_readings_csv_and_table(db: Path) -> None:
    done = smgwctl("--db", str(db), "readings", "--format", "csv", "--meter", DZG)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 9 and int(rows[-1]["raw"]) == U64
    assert rows[-1]["gateway_time"] == "2025-01-01T01:45:00+00:00"
    assert smgwctl("--db", str(db), "readings", "--format", "csv", "--meter", "nobody").stdout.count("\n") == 1
    table = smgwctl("--db", str(db), "readings", "--meter", EMH, "--limit", "2")
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 3 and "secIndex" in table.stdout


def test_log(db: Path) -> None:
    entries = jsonl(smgwctl("--db", str(db), "log", "system", "--format", "json").stdout)
    assert [(e["event"], e["meter"]) for e in entries] == [("start", None), ("link_down", DZG)]
    assert entries[1]["data"] == {"n": 1} and entries[1]["at"] == "2025-01-01T01:00:00Z"
    assert len(jsonl(smgwctl("--db", str(db), "log", "system", "--format", "json", "--limit", "1").stdout)) == 1
    later = smgwctl("--db", str(db), "log", "system", "--since", "2025-01-01T00:30Z").stdout
    assert "link_down" in later and "start" not in later
    assert "1-0:1.8.0*255" in smgwctl("--db", str(db), "log", "calibration").stdout
    assert smgwctl("--db", str(db), "log", "consumer").stdout.splitlines() == ["at  event  meter  obis  message"]
    assert smgwctl("--db", str(db), "log", "audit").returncode == 1  # usage error


def test_export_josef_holds_the_latest_value_per_code(db: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--db", str(db), "export", "--xml",
                           "--until", "2025-01-01T01:00Z"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    devices = {d.id: d for d in xml_josef.decode(done.stdout)}
    assert set(devices) == {EMH, DZG}
    energy = next(o for o in devices[EMH].objects if o.logical_name == E180)
    assert isinstance(energy, Register)
    assert energy.value.value == 100_000 + 250 * 3  # 00:45, the last one before --until


def test_export_k461_load_profile(db: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--db", str(db), "export", "--xml",
                           "--shape", "k461", "--meter", EMH], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    meter, profile = xml_k461.decode(done.stdout)
    assert meter == EMH and len(profile.buffer) == 8
    assert [c.logical_name for c in profile.capture_objects] == [E180, P1670]
    several = smgwctl("--db", str(db), "export", "--xml", "--shape", "k461")
    assert several.returncode == 1 and several.stderr.strip().endswith("name one with --meter")


def test_a_missing_database_is_one_line_and_status_1(tmp_path: Path) -> None:
    for command in (["status"], ["readings"], ["meters"], ["log", "system"], ["export", "--xml"]):
        done = smgwctl("--db", str(tmp_path / "none.db"), *command)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.splitlines() == [f"smgwctl: {tmp_path / 'none.db'}: no such database"]


def test_a_newer_schema_or_bad_option_is_one_line(db: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    newer.write_bytes(db.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.close()
    done = smgwctl("--db", str(newer), "status")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1 and "newer" in done.stderr
    for bad in (["--since", "yesterday"], ["--obis", "1.8"]):
        done = smgwctl("--db", str(db), "readings", *bad)
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr


def test_the_database_comes_from_the_configuration(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "smgwd.toml"
    config.write_text(f'[store]\npath = "{db}"\n')
    done = smgwctl("--config", str(config), "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["database"] == str(db)
    config.write_text("[store]\npath = 5\n")
    done = smgwctl("--config", str(config), "status")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1 and "store.path" in done.stderr


def test_output_into_a_closed_pipe_is_quiet(db: Path) -> None:
    shell = f"{sys.executable} -m smgwd.cli.main --db {db} readings --format json | head -1"
    done = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout.splitlines()) == 1
