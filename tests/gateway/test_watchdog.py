"""Gateway.run() and systemd: a real NOTIFY_SOCKET datagram socket in a tmp dir and a short
WATCHDOG_USEC. WATCHDOG=1 arrives only while the gateway is healthy: not while the event loop is
stalled (a blocking call scheduled on it), not while the store writer is dead; a stall is logged
once and counted; failing commits (disk full) show in STATUS= and in live_status."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from smgwd.gateway import core as core_module
from smgwd.gateway.config import ControlConfig, GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import sql as sql_module
from tests.gateway.test_store_support import readings
from tests.waiting import until

WATCHDOG_USEC = 400_000  # pings every 0.2 s, stall noticed after 0.2 s


class Received:
    """Every datagram on the notify socket, with the monotonic time it arrived (a reader thread)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def pings(self, start: float = float("-inf"), end: float = float("inf")) -> int:
        return sum(1 for at, text in list(self.messages) if text == "WATCHDOG=1" and start < at < end)

    def statuses(self) -> list[str]:
        return [text for _, text in list(self.messages) if text.startswith("STATUS=")]


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    monkeypatch.setitem(sys.modules, "systemd", None)  # the stdlib sender, whatever the machine has
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield Received(sock)
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig(
        gateway=GatewayIdentity("gw"), store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05),
        time=TimeConfig(servers=()), control=ControlConfig(socket=tmp_path / "control.sock"),
    )


def run_gateway(tmp_path: Path, body: Callable[[Gateway], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(config(tmp_path))
        await gateway.start()
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        try:
            await body(gateway)
        finally:
            stop.set()
            await task
            await gateway.stop()

    asyncio.run(main())


def test_no_ping_while_the_loop_is_stalled_then_pings_resume(
        tmp_path: Path, notify: Received, caplog: pytest.LogCaptureFixture) -> None:
    marks: list[float] = []

    def block() -> None:
        marks.append(time.monotonic())
        time.sleep(2)
        marks.append(time.monotonic())

    async def body(gateway: Gateway) -> None:
        await until(lambda: notify.pings() >= 2)
        asyncio.get_running_loop().call_soon(block)
        await until(lambda: len(marks) == 2)
        await until(lambda: notify.pings(marks[1]) >= 2)  # healthy again: pings resume
        status = gateway.live_status()
        assert status["healthy"] is True
        loop = status["loop"]
        assert isinstance(loop, dict)
        assert loop["stalls"] == 1 and loop["stalled"] is False and 1.5 <= loop["longest_stall"] < 5
        assert "event loop stalls 1 (longest 2." in gateway.status_line()

    with caplog.at_level(logging.WARNING, logger="smgwd"):
        run_gateway(tmp_path, body)
    start, end = marks
    assert notify.pings(start, end) == 0
    stalled = [r for r in caplog.records if r.getMessage().startswith("event loop stalled for")]
    assert len(stalled) == 1 and getattr(stalled[0], "SMGW_EVENT", None) == "loop_stalled", caplog.text
    assert sum("event loop running again" in r.getMessage() for r in caplog.records) == 1


def test_no_ping_while_the_store_writer_is_dead(tmp_path: Path, notify: Received) -> None:
    async def body(gateway: Gateway) -> None:
        await until(lambda: notify.pings() >= 2)
        await asyncio.to_thread(gateway.store.stop, 5)  # the writer thread ends
        assert not gateway.store.alive()
        dead = time.monotonic()
        await asyncio.sleep(1.0)  # five ping intervals
        assert notify.pings(dead + 0.05) == 0
        status = gateway.live_status()
        assert status["healthy"] is False and "store: writer not running" in str(status["status"])

    run_gateway(tmp_path, body)


def test_failing_commits_show_in_status_and_live_status(
        tmp_path: Path, notify: Received, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_module, "STATUS_EVERY", 0.1)
    original = sql_module.insert_rows
    disk_full = threading.Event()

    def insert_rows(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        if disk_full.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        return original(conn, rows)

    monkeypatch.setattr(sql_module, "insert_rows", insert_rows)

    async def body(gateway: Gateway) -> None:
        disk_full.set()
        gateway.on_readings(readings("m1", 3))
        await until(lambda: gateway.store.stats.commit_failures >= 2)
        await until(lambda: any("store: commits failing since" in s for s in notify.statuses()))
        status = gateway.live_status()
        assert "store: commits failing since" in str(status["status"])
        store = status["store"]
        assert isinstance(store, dict)
        assert store["failing_since"] is not None and store["commit_failures"] >= 2
        assert "disk is full" in store["last_error"]
        disk_full.clear()
        await until(lambda: gateway.store.acknowledged == 3)
        assert gateway.store.stats.failing_since is None and gateway.store.stats.commit_failures == 0
        assert "commits failing" not in gateway.status_line()

    run_gateway(tmp_path, body)
