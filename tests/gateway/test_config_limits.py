"""Configuration files that would hang, exhaust or crash a TOML parser: one line and exit 78.

Real smgwd and smgwctl processes on a 100,000-deep array, 40,000 dotted key parts,
``/dev/zero``, ``/dev/urandom``, a FIFO (a subprocess timeout catches a hang), a
directory and an oversized file; unit tests of the pre-scan's reading of TOML
(strings, comments, headers, inline tables), and a large legitimate configuration
that still loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smgwd.gateway import config_limits
from smgwd.gateway.config import ConfigError, load_config, parse_config
from smgwd.gateway.config_limits import MAX_BYTES, MAX_DEPTH, MAX_KEY_PARTS, LimitError, check_shape

EX_CONFIG = 78


def hostile(tmp_path: Path, kind: str) -> tuple[str, str]:
    """The path of a hostile configuration and the reason expected for it."""
    if kind == "deep":
        path = tmp_path / "deep.toml"
        path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
        return str(path), f"line 1: arrays or inline tables nested more than {MAX_DEPTH} deep"
    if kind == "dotted":
        path = tmp_path / "dotted.toml"
        path.write_text("a" + ".a" * 40_000 + " = 1\n")
        return str(path), f"line 1: a dotted key of more than {MAX_KEY_PARTS} parts"
    if kind == "fifo":
        path = tmp_path / "fifo.toml"
        os.mkfifo(path)
        return str(path), "is a FIFO, not a regular file"
    if kind == "directory":
        return str(tmp_path), "is a directory, not a regular file"
    if kind == "big":
        path = tmp_path / "big.toml"
        path.write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
        return str(path), f"more than {MAX_BYTES}"
    return kind, "is a character device, not a regular file"  # /dev/zero, /dev/urandom


KINDS = ["deep", "dotted", "fifo", "directory", "big", "/dev/zero", "/dev/urandom"]


@pytest.mark.parametrize("kind", KINDS)
def test_smgwd_refuses_a_hostile_config_with_one_line_and_78(tmp_path: Path, kind: str) -> None:
    path, reason = hostile(tmp_path, kind)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "smgwd.daemon", "--config", path],
                          capture_output=True, text=True, timeout=20)  # a hang fails here, not for ever
    assert time.monotonic() - started < 10
    assert done.returncode == EX_CONFIG, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr[-2000:]
    assert done.stderr.startswith(f"smgwd: {path}: ") and reason in done.stderr


@pytest.mark.parametrize("kind", ["deep", "fifo", "/dev/zero"])
def test_smgwctl_config_check_refuses_them_too(tmp_path: Path, kind: str) -> None:
    path, reason = hostile(tmp_path, kind)
    done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "config", "check", "--config", path],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == EX_CONFIG and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and reason in done.stderr


def test_a_large_legitimate_config_still_loads(tmp_path: Path) -> None:
    meters = "".join(
        f'[[meters]]\nid = "meter-{k:03d}"\nlink = "tcp://127.0.0.1:{20000 + k}"\nmode = "pull"\n'
        f'interval = 15.0\ntimeout = 2.0\n# meter {k}: "quoted" [brackets] {{braces}} a.b.c in a comment\n\n'
        for k in range(200)
    )
    path = tmp_path / "smgwd.toml"
    path.write_text('[gateway]\nid = "lab.gw-1"\n[store]\npath = "/tmp/x.db"\n[time]\n'
                    'servers = ["127.0.0.1:123", "127.0.0.2:123"]\n' + meters)
    started = time.monotonic()
    config = load_config(path)
    assert time.monotonic() - started < 2
    assert len(config.meters) == 200 and config.meters[-1].id == "meter-199"


@pytest.mark.parametrize("text", [
    "a = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    "a = " + "{b = " * (MAX_DEPTH - 1) + "{}" + "}" * (MAX_DEPTH - 1),
    ".".join(f"k{j}" for j in range(MAX_KEY_PARTS)) + " = 1",
    "[" + ".".join(f"k{j}" for j in range(MAX_KEY_PARTS)) + "]",
    "[[" + ".".join(f"k{j}" for j in range(MAX_KEY_PARTS)) + "]]",
    "[a]\nb = [\n  1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5,\n]",
    "when = 1979-05-27T07:32:00.999999Z\nx = [" + ", ".join(f"{k}.5" for k in range(40)) + "]",
    's = "' + "[{." * 1000 + '"',
    "s = '" + "[{." * 1000 + "'",
    's = """\n' + "[{.\n" * 1000 + '"""',
    "s = '''\n" + "[{.\n" * 1000 + "'''",
    's = "escaped \\" [[[ quote"\nt = 1',
    "# " + "[{." * 1000 + "\nt = 1",
    '"' + "a." * 100 + '".b = 1',  # one quoted part with dots in it, and one more
    "t = {" + ", ".join(f"k{j}.x = 1" for j in range(100)) + "}",  # many short keys in one inline table
])
def test_the_prescan_lets_legitimate_shapes_through(text: str) -> None:
    check_shape(text)


@pytest.mark.parametrize(("text", "line"), [
    ("a = " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), 1),
    ("x = 1\na = " + "{b = " * MAX_DEPTH + "{}" + "}" * MAX_DEPTH, 2),
    ("x = 1\n\n" + ".".join("k" for _ in range(MAX_KEY_PARTS + 1)) + " = 1", 3),
    ("[" + ".".join("k" for _ in range(MAX_KEY_PARTS + 1)) + "]", 1),
    ("t = {a = 1, " + ".".join("k" for _ in range(MAX_KEY_PARTS + 1)) + " = 1}", 1),
    ('s = """\n\n"""\n' + "a = " + "[" * 100 + "]" * 100, 4),  # lines inside a string still count
])
def test_the_prescan_refuses_and_names_the_line(text: str, line: int) -> None:
    with pytest.raises(LimitError) as caught:
        check_shape(text)
    assert caught.value.where == f"line {line}"
    with pytest.raises(ConfigError, match=rf"^x.toml: line {line}: "):
        parse_config(text, "x.toml")


def test_the_prescan_is_linear() -> None:
    """1 MiB of the worst it lets through is scanned in well under a second."""
    line = "x = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    text = line * (MAX_BYTES // len(line))
    started = time.monotonic()
    check_shape(text)
    assert time.monotonic() - started < 1.5


def test_a_recursion_error_past_the_prescan_is_still_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_limits, "check_shape", lambda text: None)
    with pytest.raises(ConfigError, match=r"^x.toml: values nested too deeply"):
        parse_config("a = " + "[" * 100_000 + "]" * 100_000, "x.toml")


def test_parse_config_refuses_oversized_text() -> None:
    with pytest.raises(ConfigError, match=rf"more than {MAX_BYTES} characters"):
        parse_config("#" * (MAX_BYTES + 1), "x.toml")
