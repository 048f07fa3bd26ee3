"""``smgwctl readings`` on a store holding readings that cannot be rendered: a safe form, no traceback."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smgwd.cli.main import main
from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store
from smgwd.reading import MeterTime, MeterTimeKind, Reading

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
OBIS = Obis.parse("1-0:1.8.0*255")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "gw.db"
    store = Store(path, flush_interval=0.01)
    store.start()
    store.on_readings([
        Reading("good", OBIS, 1234, -1, 30, gateway_time=T0),
        Reading("bad", OBIS, 5, -1, 30, meter_time=MeterTime(MeterTimeKind.UTC, 2**40), gateway_time=T0),
        Reading("bad", OBIS, 6, -1, 30, meter_time=MeterTime(MeterTimeKind.LOCAL, -2**40, 60), gateway_time=T0),
        Reading("bad", OBIS, 7, -1, 25118, status=-255, gateway_time=T0),
    ])
    assert store.stop(10)
    return path


def run(db: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["--db", str(db), "readings", "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def test_json_shows_unrenderable_readings_raw_and_marked(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [json.loads(line) for line in run(db, "json", capsys).splitlines()]
    assert [r["meter"] for r in records] == ["good", "bad", "bad", "bad"]
    assert "unrenderable" not in records[0] and records[0]["value"] == 123.4
    bad = records[1:3]
    assert all(r["time"] is None and "unrenderable" in r["quirks"] and r["unrenderable"] for r in bad)
    assert bad[0]["meter_time_raw"] == f"utc {2**40} +0" and bad[0]["raw"] == 5
    assert bad[1]["meter_time_raw"] == f"local {-2**40} +60"
    assert records[3]["unit_code"] == 25118 and records[3]["status"] == -255  # unknown unit: no symbol, no crash


def test_csv_and_table_show_them_too(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(run(db, "csv", capsys))))
    assert len(rows) == 4
    assert rows[1]["meter_time_raw"] == f"utc {2**40} +0" and "unrenderable" in rows[1]["quirks"].split()
    assert "ValueError" in rows[1]["unrenderable"] or "OverflowError" in rows[1]["unrenderable"]
    table = run(db, "table", capsys).splitlines()
    assert len(table) == 5 and sum("unrenderable" in line for line in table) == 2
