"""The daemon's control socket: live status for ``smgwctl status``.

How this works: the daemon listens on a UNIX socket (``[control] socket``,
mode 0660, so the daemon's own user and group, and root, may use it). A
client sends one command line and reads one JSON object back. ``status``:
the daemon's pid, uptime, STATUS line, each meter's driver state and
counters, the timebase and store figures. Listeners add commands of their own
(:meth:`ControlServer.register`: ``taf6 EMP [METER ...]``, readings on demand);
a command's words are separated by spaces. The
store holds the history; this socket adds what only the running process
knows (is it alive, retries, queue lengths). A client that sends nothing
or garbage gets an error object or is dropped after a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any, Awaitable, Callable

__all__ = ["ControlServer", "ControlUnavailable", "query"]

log = logging.getLogger(__name__)

READ_TIMEOUT = 5.0
MAX_LINE = 1024
#: a command's handler: its words after the command's name -> the JSON reply
Handler = Callable[[list[str]], Awaitable[dict[str, Any]]]


class ControlUnavailable(OSError):
    """No daemon answers on the control socket."""


class ControlServer:
    """Answers ``status`` on a UNIX socket with ``status()``'s JSON."""

    def __init__(self, path: Path, status: Callable[[], dict[str, Any]]) -> None:
        self.path = Path(path)
        self.status = status
        self._handlers: dict[str, Handler] = {}
        self._server: asyncio.AbstractServer | None = None

    def register(self, name: str, handler: Handler) -> None:
        """Answer the command ``name`` with ``handler`` (words after the name in, JSON object out)."""
        self._handlers[name] = handler

    async def call(self, words: list[str]) -> dict[str, Any]:
        """Run a command as if it had come over the socket (the admin API triggers TAF6 this way)."""
        return await self._reply(" ".join(words))

    async def _reply(self, command: str) -> dict[str, Any]:
        words = command.split()
        if words == ["status"]:
            return self.status()
        handler = self._handlers.get(words[0]) if words else None
        if handler is None:
            return {"error": f"unknown command {command[:40]!r}"}
        try:
            return await handler(words[1:])
        except Exception as error:  # noqa: BLE001 - a failing command answers, the socket stays
            return {"error": f"{type(error).__name__}: {error}"[:300]}

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()  # left by a daemon that was killed
        self._server = await asyncio.start_unix_server(self._serve, str(self.path), limit=MAX_LINE)
        os.chmod(self.path, 0o660)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                line = await reader.readline()
            command = line.decode("ascii", "replace").strip()
            reply = await self._reply(command)
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            async with asyncio.timeout(READ_TIMEOUT):
                await writer.drain()
        except (asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            pass  # a client that dawdles or sends garbage is dropped
        finally:
            writer.close()


def query(path: Path, command: str = "status", timeout: float = 10.0) -> dict[str, Any]:
    """Ask the daemon; raises :class:`ControlUnavailable` when none answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(command.encode("ascii") + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as error:
        raise ControlUnavailable(f"no daemon answers at {path}: {error.strerror or error}") from None
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError:
        raise ControlUnavailable(f"{path}: not a smgwd control socket") from None
    return reply
