"""``smgw-sim profile``: CSV and JSON output of a year, consistent with the library; option errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime, timezone

import pytest

from smgwd.sim.loadprofile.cli import add_profile_arguments, run, run_profile
from smgwd.sim.loadprofile.pv import PvProfile
from smgwd.sim.loadprofile.slp import series


def test_csv_year_of_h0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_profile(["--kind", "h0", "--annual-kwh", "1000", "--year", "2025", "--dynamic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "timestamp,kw,kwh"
    rows = list(csv.reader(lines[1:]))
    assert len(rows) == 35040  # the 92- and 100-quarter-hour DST days cancel out
    assert rows[0][0] == "2024-12-31T23:00:00Z"  # 1 January 00:00 CET
    assert rows[-1][0] == "2025-12-31T22:45:00Z"
    expected = list(series("h0", 2025, 1000, True))
    for row, (start, kw, kwh) in zip(rows, expected):
        assert datetime.fromisoformat(row[0].replace("Z", "+00:00")) == start
        assert float(row[1]) == pytest.approx(kw, abs=5e-7)
        assert float(row[2]) == pytest.approx(kwh, abs=5e-7)
    assert sum(float(row[2]) for row in rows) == pytest.approx(1000, abs=0.02)


def test_json_year_of_pv_with_weather(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--kind", "pv", "--annual-kwh", "950", "--year", "2024", "--lat", "48.1", "--lon", "11.6",
            "--tilt", "25", "--azimuth", "160", "--seed", "9", "--format", "json"]
    assert run_profile(argv) == 0
    records = json.loads(capsys.readouterr().out)
    expected = list(PvProfile(950, 48.1, 11.6, 25, 160, seed=9).series(2024))
    assert len(records) == len(expected) == 35136
    assert set(records[0]) == {"timestamp", "kw", "kwh"}
    for record, (start, kw, kwh) in zip(records, expected):
        assert record["timestamp"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert record["kw"] == pytest.approx(kw, abs=5e-7) and record["kwh"] == pytest.approx(kwh, abs=5e-7)
    assert sum(r["kwh"] for r in records) == pytest.approx(950, rel=0.005)


def test_as_a_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="smgw-sim")
    commands = parser.add_subparsers(dest="command", required=True)
    profile = commands.add_parser("profile")
    add_profile_arguments(profile)
    args = parser.parse_args(["profile", "--kind", "G4", "--annual-kwh", "20000", "--year", "2026"])
    out = io.StringIO()
    assert run(args, profile, out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 35040
    first = datetime(2025, 12, 31, 23, tzinfo=timezone.utc)
    assert lines[1].startswith(first.strftime("%Y-%m-%dT%H:%M:%SZ") + ",")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kind", "g0", "--dynamic"], "--dynamic applies to --kind h0 only"),
        (["--kind", "h0", "--seed", "3"], "--seed applies to --kind pv only"),
        (["--kind", "l1", "--tilt", "20"], "--tilt applies to --kind pv only"),
        (["--kind", "h0", "--annual-kwh", "-1"], "--annual-kwh must be >= 0"),
        (["--kind", "pv", "--tilt", "120"], "tilt must be 0..90"),
        (["--kind", "h25"], "invalid choice"),
        (["--kind", "h0", "--year", "12025"], "--year must be 1900..2199"),
    ],
)
def test_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    defaults = {"--annual-kwh": "1000", "--year": "2025"}
    full = argv + [item for key, value in defaults.items() if key not in argv for item in (key, value)]
    with pytest.raises(SystemExit) as exit_info:
        run_profile(full)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
