"""Byte streams over links, on the asyncio event loop: the interface every link kind opens to.

How this works: :func:`open_stream` turns a parsed link (see
:mod:`smgwd.links.url`) into a :class:`ByteStream` with ``read()`` (``b""`` at
end of stream), ``write()`` and ``close()``. Which code opens a link is named
by its spec class (``LinkSpec.opener``, ``"module:function"``) and imported
only when a link of that kind is opened, so a gateway without serial meters
never loads pyserial, and a missing optional library fails when that link is
opened, not when smgwd starts. Each kind lives in its own module
(:mod:`smgwd.links.tcp`, :mod:`smgwd.links.serial`).
"""

from __future__ import annotations

import importlib
from typing import Awaitable, Callable, Protocol

from smgwd.links.url import LinkSpec

__all__ = ["ByteStream", "LinkUnavailable", "READ_CHUNK", "open_stream"]

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


Opener = Callable[[LinkSpec, float], Awaitable[ByteStream]]


def _opener(link: LinkSpec) -> Opener:
    module, _, name = link.opener.partition(":")
    if not module:
        raise LinkUnavailable(f"{link}: this link kind has no driver yet")
    try:
        opener: Opener = getattr(importlib.import_module(module), name)
        return opener
    except ImportError as error:
        raise LinkUnavailable(f"{link}: {error}") from None


async def open_stream(link: LinkSpec, timeout: float = 10.0) -> ByteStream:
    """Connect ``link`` within ``timeout`` seconds; raises :class:`LinkUnavailable` with the reason."""
    return await _opener(link)(link, timeout)
