"""A program's standard output as a byte stream: for receivers that smgwd starts itself.

How this works: :func:`start_process` checks that the path is an executable file, starts
it without a shell and without arguments in a new session (so the program and every
process of its pipeline form one process group), with standard input from /dev/null and
standard error inherited (under systemd: the journal). ``read()`` gives its output, b""
when it has exited. ``close()`` sends SIGTERM to the whole group and, should it still run
after :data:`KILL_AFTER` seconds, SIGKILL; the exit is reaped in the background.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat

from smgwd.links.stream import READ_CHUNK, LinkUnavailable

__all__ = ["KILL_AFTER", "ProcessStream", "start_process"]

KILL_AFTER = 3.0
_REAPERS: set[asyncio.Task[None]] = set()


class ProcessStream:
    """The standard output of a started program (read only)."""

    def __init__(self, process: asyncio.subprocess.Process, description: str) -> None:
        self.process = process
        self.description = description
        self._closed = False

    async def read(self) -> bytes:
        assert self.process.stdout is not None
        return await self.process.stdout.read(READ_CHUNK)

    async def write(self, data: bytes) -> None:
        raise OSError(f"{self.description}: a receiver program takes no input")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.process.returncode is None:
            _signal_group(self.process.pid, signal.SIGTERM)
        task = asyncio.get_running_loop().create_task(self._reap())
        _REAPERS.add(task)
        task.add_done_callback(_REAPERS.discard)

    async def _reap(self) -> None:
        try:
            async with asyncio.timeout(KILL_AFTER):
                await self.process.wait()
        except asyncio.TimeoutError:
            _signal_group(self.process.pid, signal.SIGKILL)
            await self.process.wait()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


async def start_process(path: str, description: str) -> ProcessStream:
    """Start ``path`` (no shell, no arguments); raises :class:`LinkUnavailable` saying why not."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise LinkUnavailable(f"{description}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode) or not os.access(path, os.X_OK):
        raise LinkUnavailable(f"{description}: {path} is not an executable file (chmod 755 it)")
    try:
        process = await asyncio.create_subprocess_exec(
            path, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, start_new_session=True,
        )
    except OSError as error:
        raise LinkUnavailable(f"{description}: cannot start {path}: {error.strerror}") from None
    return ProcessStream(process, description)
