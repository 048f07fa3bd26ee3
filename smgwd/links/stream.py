"""Byte streams over links: TCP and serial ports, on the asyncio event loop.

How this works: :func:`open_stream` turns a parsed link (see
:mod:`smgwd.links.url`) into a :class:`ByteStream` with ``read()`` (``b""`` at
end of stream), ``write()`` and ``close()``. TCP uses asyncio's streams.
Serial ports are opened and configured with pyserial (imported only here, so
a gateway without serial meters never loads it) and then read through their
file descriptor with ``loop.add_reader``: no thread per port, many ports in
one loop. A USB adapter that is unplugged raises ``OSError`` (ENODEV, EIO)
from ``read``; the meter driver treats that like end of stream and reconnects.
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol

from smgwd.links.url import LinkSpec, SerialLink, TcpLink

__all__ = ["ByteStream", "LinkUnavailable", "open_stream"]

READ_CHUNK = 4096


class LinkUnavailable(OSError):
    """The link cannot be opened (refused, no such device, no permission, missing library)."""


class ByteStream(Protocol):
    """A connected link."""

    description: str

    async def read(self) -> bytes:
        """The next bytes; ``b""`` when the other end has closed."""
        ...

    async def write(self, data: bytes) -> None:
        ...

    def close(self) -> None:
        ...


class TcpStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, description: str) -> None:
        self._reader = reader
        self._writer = writer
        self.description = description

    async def read(self) -> bytes:
        return await self._reader.read(READ_CHUNK)

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    def close(self) -> None:
        self._writer.transport.abort()


class SerialStream:
    """A serial port read through its file descriptor on the event loop."""

    def __init__(self, port: object, description: str) -> None:
        self._port = port
        self._fd: int = port.fileno()  # type: ignore[attr-defined]
        os.set_blocking(self._fd, False)
        self.description = description

    async def read(self) -> bytes:
        # A tty with VMIN=0 (pyserial's timeout=0) answers read() with b"" when it has
        # nothing, so b"" only means the end once the descriptor was reported readable.
        loop = asyncio.get_running_loop()
        waited = False
        while True:
            try:
                data = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                data = b""
            if data or waited:
                return data
            ready = loop.create_future()
            loop.add_reader(self._fd, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(self._fd)
            waited = True

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        loop = asyncio.get_running_loop()
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self._fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self._fd)

    def close(self) -> None:
        try:
            self._port.close()  # type: ignore[attr-defined]
        except OSError:
            pass


def _open_serial(link: SerialLink) -> SerialStream:
    try:
        import serial
    except ImportError as error:  # pragma: no cover - pyserial is a runtime dependency
        raise LinkUnavailable(f"{link}: pyserial is not installed ({error})") from None
    try:
        port = serial.Serial(
            link.path, baudrate=link.baud, parity=link.parity, bytesize=link.bytesize,
            stopbits=link.stopbits, timeout=0, exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as error:
        raise LinkUnavailable(f"{link}: {error}") from None
    return SerialStream(port, str(link))


async def open_stream(link: LinkSpec, timeout: float = 10.0) -> ByteStream:
    """Connect ``link``; raises :class:`LinkUnavailable` with the reason."""
    if isinstance(link, TcpLink):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(link.host, link.port), timeout)
        except (OSError, asyncio.TimeoutError) as error:
            raise LinkUnavailable(f"{link}: {error or 'connection timed out'}") from None
        return TcpStream(reader, writer, str(link))
    if isinstance(link, SerialLink):
        return await asyncio.to_thread(_open_serial, link)
    raise LinkUnavailable(f"{link}: this link kind has no driver yet")
