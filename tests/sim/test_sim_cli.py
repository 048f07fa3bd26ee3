"""smgw-sim as a user runs it: jOSEF's console, the systemd mode, check, example, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest


def sim(*args: str, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smgwd.sim.main", *args], input=stdin,
                          capture_output=True, timeout=timeout)


def test_console_menu_as_in_jOSEF() -> None:
    done = sim("run", "--console", "--port", "0", stdin=b"1\n2\n3\n9\n0\n")
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    for line in (
        "Welcome to the Smart Meter Simulator user interface!",
        "[1] View server settings.",
        "[2] View simulator settings.",
        "[0] Exit.",
        "View server settings:",
        "-> Server is not using authentication for clients",
        "-> Simulated annual power consumption in kWh [3500.0]",
        "-> Simulated annual power infeed in kWh [0.0]",
        "-> Simulation-time of a 'realtime-quarter-hour' in seconds [4]",
        "-> Simulation resolution in milliseconds [1000]",
        "View meters:",
        "Unknown choice '9'.",
        "Closing program...",
    ):
        assert line in out, line
    assert "-> Server is listening on port [" in out
    assert "pushes SML every [1] s to [pty /dev/pts/" in out


def test_non_interactive_mode_stops_after_duration() -> None:
    done = sim("run", "--no-console", "--port", "0", "--duration", "0.5")
    assert done.returncode == 0, done.stderr.decode()
    assert "-> Server is listening on port [" in done.stdout.decode()


@pytest.mark.parametrize("name", ["household", "prosumer", "commercial", "wmbus"])
def test_example_and_check(tmp_path, name: str) -> None:
    example = sim("example", name)
    assert example.returncode == 0 and example.stdout.startswith(b"<?xml")
    path = tmp_path / f"{name}.xml"
    path.write_bytes(example.stdout)
    done = sim("check", str(path))
    assert done.returncode == 0 and b": ok" in done.stdout


def test_bad_config_is_one_readable_line(tmp_path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<simulator><meters><meter id='m' serial='1'></meter></meters></simulator>")
    for args in (("check", str(path)), ("run", "--config", str(path), "--no-console")):
        done = sim(*args)
        assert done.returncode == 78
        lines = done.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"smgw-sim: {path}:1:")


def test_usage_error_exit_1() -> None:
    assert sim("run", "--frobnicate").returncode == 1
