"""Serial links: ``serial:///dev/ttyUSB0?baud=9600&...`` (an IR head, a USB-serial adapter, a pty).

How this works: ports are opened and configured with pyserial (imported only
when a serial link is opened) and then read through their file descriptor
with ``loop.add_reader``: no thread per port, many ports in one loop. A USB
adapter that is unplugged raises ``OSError`` (ENODEV, EIO) from ``read``; the
meter driver treats that like end of stream and reconnects.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Self
from urllib.parse import quote, unquote

from smgwd.links.stream import READ_CHUNK, LinkUnavailable
from smgwd.links.url import SERIAL_EXAMPLE, LinkError, LinkSpec

__all__ = ["SerialLink", "SerialStream", "check_device_path", "device_url_parts", "open_port", "open_serial", "quote_path"]

_DIGITS = re.compile(r"[0-9]+")
# characters left as they are in a serial URL's path (everything else is %-encoded)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


_SERIAL_PARAMS = ("baud", "parity", "bytesize", "stopbits")


@dataclass(frozen=True, slots=True)
class SerialLink(LinkSpec):
    """``serial:///dev/ttyUSB0?baud=9600&parity=N&bytesize=8&stopbits=1``, or a bare device path."""

    path: str
    baud: int = 9600
    parity: str = "N"  # N, E or O
    bytesize: int = 8  # 7 or 8
    stopbits: int = 1  # 1 or 2

    kind: ClassVar[str] = "serial"
    example: ClassVar[str] = SERIAL_EXAMPLE
    can_stream: ClassVar[bool] = True
    can_request: ClassVar[bool] = False
    opener: ClassVar[str] = "smgwd.links.serial:open_serial"

    @classmethod
    def from_url(cls, url: str) -> Self:
        if url.startswith("/"):
            path, _, query = url.partition("?")  # a bare path is a file name, not %-encoded
            check_device_path(path, SERIAL_EXAMPLE)
        else:
            path, query = device_url_parts(url, "serial", SERIAL_EXAMPLE)
        return cls(path, **_serial_params(query))

    @property
    def target(self) -> str:
        return self.path

    def __str__(self) -> str:
        return (
            f"serial://{quote_path(self.path)}"
            f"?baud={self.baud}&parity={self.parity}&bytesize={self.bytesize}&stopbits={self.stopbits}"
        )


def device_url_parts(url: str, kind: str, example: str) -> tuple[str, str]:
    """``kind:///dev/x?query`` -> (the %-decoded device path, the query); raises :class:`LinkError`."""
    rest = url[len(kind) + 3:]
    if not rest.startswith("/"):
        device = rest.partition("?")[0]
        raise LinkError(
            f"the device path {device!r} is not absolute: write {kind}:///{device}, with three slashes", example
        )
    if "#" in rest:
        raise LinkError(f"a {kind} link takes no fragment ('#')", example)
    raw_path, _, query = rest.partition("?")
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise LinkError(f"{raw_path!r} has %-escapes that are not UTF-8", example) from None
    check_device_path(path, example)
    return path, query


def check_device_path(path: str, example: str) -> None:
    """Refuse a directory or a path with NUL as a device."""
    if path.rstrip("/") == "" or path.endswith("/"):
        raise LinkError(f"{path!r} is a directory, not a device", example)
    if "\0" in path:
        raise LinkError("the device path contains a NUL character", example)


def quote_path(path: str) -> str:
    """A device path as it is written in a link URL."""
    return quote(path, safe=_PATH_SAFE)


def _serial_params(query: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in query.split("&") if query else ():
        name, equals, value = item.partition("=")
        if not equals:
            raise LinkError(f"serial parameter {item!r} has no '=value'", SERIAL_EXAMPLE)
        if name not in _SERIAL_PARAMS:
            close = difflib.get_close_matches(name, _SERIAL_PARAMS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_SERIAL_PARAMS)}"
            raise LinkError(f"unknown serial parameter {name!r} ({hint})", SERIAL_EXAMPLE)
        if name in params:
            raise LinkError(f"serial parameter {name!r} is given twice", SERIAL_EXAMPLE)
        params[name] = _serial_value(name, value)
    return params


def _serial_value(name: str, value: str) -> int | str:
    if name == "parity":
        if value.upper() not in ("N", "E", "O"):
            raise LinkError(f"parity {value!r} is not one of N, E, O", SERIAL_EXAMPLE)
        return value.upper()
    allowed = {"bytesize": (7, 8), "stopbits": (1, 2)}.get(name)
    number = int(value) if _DIGITS.fullmatch(value) else None
    if allowed is not None:
        if number not in allowed:
            raise LinkError(f"{name} {value!r} is not one of {allowed[0]}, {allowed[1]}", SERIAL_EXAMPLE)
        return number
    if number is None or not 50 <= number <= 4_000_000:
        raise LinkError(f"baud {value!r} is not a rate between 50 and 4000000", SERIAL_EXAMPLE)
    return number


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


def _open_port(link: SerialLink) -> SerialStream:
    return open_port(link, link.path, link.baud, link.parity, link.bytesize, link.stopbits)


def open_port(link: LinkSpec, path: str, baud: int, parity: str = "N", bytesize: int = 8,
              stopbits: int = 1) -> SerialStream:
    """Open ``path`` exclusively with pyserial (blocking: call it in a thread)."""
    try:
        import serial
    except ImportError as error:  # pragma: no cover - pyserial is a runtime dependency
        raise LinkUnavailable(f"{link}: pyserial is not installed ({error})") from None
    try:
        port = serial.Serial(
            path, baudrate=baud, parity=parity, bytesize=bytesize, stopbits=stopbits, timeout=0, exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as error:
        raise LinkUnavailable(f"{link}: {error}") from None
    return SerialStream(port, str(link))


async def open_serial(link: LinkSpec, timeout: float) -> SerialStream:
    """Open a :class:`SerialLink` (exclusively); raises :class:`LinkUnavailable` with the reason."""
    assert isinstance(link, SerialLink)
    return await asyncio.to_thread(_open_port, link)
