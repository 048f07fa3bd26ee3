"""sd_notify: real AF_UNIX datagram listeners (a path in a tmp dir, and the abstract namespace)
receive what the notifier sends; the environment is parsed; no socket means silence."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from smgwd.gateway.sdnotify import Notifier

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No systemd-python (whatever the machine has) and no systemd variables, unless a test sets them."""
    monkeypatch.setitem(sys.modules, "systemd", None)
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket in a tmp dir, named in $NOTIFY_SOCKET."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def received(sock: socket.socket) -> bytes:
    return sock.recv(4096)


def test_messages_arrive(listener: socket.socket) -> None:
    notifier = Notifier.from_environment()
    assert notifier.enabled
    assert notifier.ready("meters: 2 ok")
    assert received(listener) == b"READY=1\nSTATUS=meters: 2 ok"
    assert notifier.ready()
    assert received(listener) == b"READY=1"
    assert notifier.status("meters: 1 ok,\n1 down")
    assert received(listener) == b"STATUS=meters: 1 ok, 1 down"
    assert notifier.watchdog()
    assert received(listener) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert received(listener) == b"STOPPING=1"


def test_reloading_carries_the_monotonic_time(listener: socket.socket) -> None:
    before = time.monotonic_ns() // 1000
    assert Notifier.from_environment().reloading()
    after = time.monotonic_ns() // 1000
    first, second = received(listener).decode().split("\n")
    assert first == "RELOADING=1"
    name, _, usec = second.partition("=")
    assert name == "MONOTONIC_USEC" and before <= int(usec) <= after


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"smgwd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert Notifier.from_environment().watchdog()
        assert received(sock) == b"WATCHDOG=1"


def test_a_child_process_notifies_through_the_inherited_environment(
        listener: socket.socket) -> None:
    code = "from smgwd.gateway.sdnotify import Notifier; Notifier.from_environment().ready('up')"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)
    assert received(listener) == b"READY=1\nSTATUS=up"


def test_no_socket_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    for notifier in (Notifier.from_environment(), Notifier.disabled()):
        assert not notifier.enabled
        assert not any([notifier.ready("x"), notifier.status("x"), notifier.watchdog(),
                        notifier.stopping(), notifier.reloading()])
        assert notifier.watchdog_interval() is None
    assert caplog.records == []


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    notifier = Notifier.from_environment()
    assert notifier.enabled and not notifier.watchdog()
    assert "sd_notify 'WATCHDOG' failed" in caplog.text


def test_a_relative_socket_address_is_refused(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "run/notify")
    notifier = Notifier.from_environment()
    assert not notifier.enabled and not notifier.ready()
    assert "neither an absolute path nor @abstract" in caplog.text


def test_systemd_python_is_used_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    daemon = types.ModuleType("systemd.daemon")
    daemon.notify = lambda status: sent.append(status) or True  # type: ignore[attr-defined]
    package = types.ModuleType("systemd")
    package.daemon = daemon  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.daemon", daemon)
    monkeypatch.setenv("NOTIFY_SOCKET", "@anything")
    assert Notifier.from_environment().ready("up")
    assert sent == ["READY=1\nSTATUS=up"]


@pytest.mark.parametrize(
    ("usec", "pid", "interval"),
    [
        ("3000000", None, 3.0),
        ("500000", "self", 0.5),
        ("3000000", "1", None),  # meant for another process
        ("0", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None,
                           interval: float | None) -> None:
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert Notifier.from_environment().watchdog_interval() == interval


def test_a_malformed_watchdog_setting_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30s")
    caplog.set_level(logging.WARNING)
    assert Notifier.from_environment().watchdog_interval() is None
    assert "WATCHDOG_USEC='30s' is not a positive number" in caplog.text
