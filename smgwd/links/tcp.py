"""TCP links: ``tcp://host:port`` (jOSEF pull, or a serial server such as ser2net), over asyncio streams."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import ClassVar, Self

from smgwd.links.stream import READ_CHUNK, LinkUnavailable
from smgwd.links.url import TCP_EXAMPLE, LinkError, LinkSpec, parse_host_port

__all__ = ["TcpLink", "TcpStream", "open_tcp"]


@dataclass(frozen=True, slots=True)
class TcpLink(LinkSpec):
    """``tcp://host:port``: a TCP connection (jOSEF pull, or a serial server such as ser2net)."""

    host: str
    port: int

    kind: ClassVar[str] = "tcp"
    example: ClassVar[str] = TCP_EXAMPLE
    can_stream: ClassVar[bool] = True
    can_request: ClassVar[bool] = True
    opener: ClassVar[str] = "smgwd.links.tcp:open_tcp"

    @classmethod
    def from_url(cls, url: str) -> Self:
        rest = url[len("tcp://"):]
        if "@" in rest:
            raise LinkError("credentials do not belong in a link URL (use username and password_file)", TCP_EXAMPLE)
        extra = re.search(r"[/?#]", rest)
        if extra and rest[extra.start():] != "/":
            raise LinkError(f"a tcp link takes no path, query or fragment, found {rest[extra.start():]!r}", TCP_EXAMPLE)
        try:
            host, port = parse_host_port(rest[: extra.start()] if extra else rest)
        except ValueError as error:
            raise LinkError(str(error), TCP_EXAMPLE) from None
        return cls(host, port)

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"tcp://{self.target.replace('%', '%25')}"


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


async def open_tcp(link: LinkSpec, timeout: float) -> TcpStream:
    """Connect a :class:`TcpLink`; raises :class:`LinkUnavailable` with the reason."""
    assert isinstance(link, TcpLink)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(link.host, link.port)
    except (OSError, asyncio.TimeoutError) as error:
        raise LinkUnavailable(f"{link}: {error or 'connection timed out'}") from None
    return TcpStream(reader, writer, str(link))
