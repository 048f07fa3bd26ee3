"""The control socket answers status, refuses garbage, and smgwctl's client says when no daemon runs."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from smgwd.gateway.control import ControlServer, ControlUnavailable, query


def test_status_garbage_and_cleanup(tmp_path: Path) -> None:
    path = tmp_path / "run" / "control.sock"

    async def run() -> None:
        server = ControlServer(path, lambda: {"pid": 42, "status": "meters 1 up"})
        await server.start()
        try:
            assert oct(path.stat().st_mode & 0o777) == "0o660"
            assert await asyncio.to_thread(query, path) == {"pid": 42, "status": "meters 1 up"}
            assert "unknown command" in (await asyncio.to_thread(query, path, "reboot"))["error"]
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:  # a line far too long
                raw.connect(str(path))
                raw.sendall(b"x" * 100_000)
            assert (await asyncio.to_thread(query, path))["pid"] == 42  # still serving
        finally:
            await server.close()
        assert not path.exists()

    asyncio.run(run())


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, as after kill -9

    async def run() -> None:
        server = ControlServer(path, lambda: {"ok": True})
        await server.start()
        try:
            assert await asyncio.to_thread(query, path) == {"ok": True}
        finally:
            await server.close()

    asyncio.run(run())


def test_no_daemon(tmp_path: Path) -> None:
    with pytest.raises(ControlUnavailable, match="no daemon answers"):
        query(tmp_path / "nothing.sock")
