"""open_stream: the opener named by a link's spec is imported when the link is opened."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import ClassVar, Self

import pytest

from smgwd.links.stream import ByteStream, LinkUnavailable, open_stream
from smgwd.links.url import LinkSpec


class _Stream:
    description = "memory"

    async def read(self) -> bytes:
        return b"hello"

    async def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


async def open_memory(link: LinkSpec, timeout: float) -> ByteStream:
    return _Stream()


@dataclass(frozen=True, slots=True)
class MemoryLink(LinkSpec):
    name: str
    opener: ClassVar[str] = f"{__name__}:open_memory"

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)


@dataclass(frozen=True, slots=True)
class NoDriverLink(MemoryLink):
    opener: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class MissingLibraryLink(MemoryLink):
    opener: ClassVar[str] = "smgwd_no_such_dongle_library:open"


def test_the_spec_names_its_opener() -> None:
    stream = asyncio.run(open_stream(MemoryLink("x")))
    assert asyncio.run(stream.read()) == b"hello"


def test_a_kind_without_a_driver_is_unavailable_not_a_crash() -> None:
    with pytest.raises(LinkUnavailable, match="no driver yet"):
        asyncio.run(open_stream(NoDriverLink("x")))


def test_a_missing_library_fails_when_the_link_is_opened() -> None:
    with pytest.raises(LinkUnavailable, match="smgwd_no_such_dongle_library"):
        asyncio.run(open_stream(MissingLibraryLink("x")))


def test_parsing_a_serial_url_does_not_import_pyserial() -> None:
    import subprocess

    code = ("import sys; from smgwd.links.url import parse_link; parse_link('serial:///dev/ttyUSB0'); "
            "print('serial' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
