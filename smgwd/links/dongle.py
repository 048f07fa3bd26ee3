"""wM-Bus USB dongles as links: ``im871a:///dev/ttyUSB0?mode=c1,t1`` and ``amb8465:///dev/ttyUSB0?mode=t1``.

How this works: a dongle is a serial port with a host protocol on top (the codecs in
:mod:`smgwd.codec.wmbus.im871a` and :mod:`smgwd.codec.wmbus.amb8465`; the wM-Bus meter
driver speaks it). The link only names the port, its speed and the radio mode the
receiver is set to at start: ``t1``, ``c1``, ``s1`` or both ``c1,t1`` (what most OMS meters
send). Opening is a plain exclusive serial open. Use the ``/dev/serial/by-id/...`` name of
the dongle: it survives replugging and reordering of ttyUSB numbers.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from typing import ClassVar, Self

from smgwd.links.serial import SerialStream, device_url_parts, open_port, quote_path
from smgwd.links.url import LinkError, LinkSpec

__all__ = ["Amb8465Link", "DongleLink", "Im871aLink", "RADIO_MODES", "open_dongle"]

#: radio modes a dongle can be set to (the meters' wM-Bus modes it then hears)
RADIO_MODES = ("t1", "c1", "s1", "c1,t1")
_PARAMS = ("mode", "baud")


@dataclass(frozen=True, slots=True)
class DongleLink(LinkSpec):
    """A wM-Bus receiver on a serial port; subclasses name the dongle and its default speed."""

    path: str
    mode: str = "c1,t1"
    baud: int = 0  # 0: the dongle's default

    can_stream: ClassVar[bool] = True
    opener: ClassVar[str] = "smgwd.links.dongle:open_dongle"
    default_baud: ClassVar[int] = 0

    @classmethod
    def from_url(cls, url: str) -> Self:
        path, query = device_url_parts(url, cls.kind, cls.example)
        params: dict[str, str] = {}
        for item in query.split("&") if query else ():
            name, equals, value = item.partition("=")
            if not equals or name not in _PARAMS or name in params:
                close = difflib.get_close_matches(name, _PARAMS, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_PARAMS)}"
                problem = "given twice" if name in params else "unknown" if equals else "without '=value'"
                raise LinkError(f"{cls.kind} parameter {item!r} {problem} ({hint})", cls.example)
            params[name] = value
        mode = params.get("mode", "c1,t1").lower()
        if mode == "t1,c1":
            mode = "c1,t1"
        if mode not in RADIO_MODES:
            raise LinkError(f"radio mode {params['mode']!r} is not one of {', '.join(RADIO_MODES)}", cls.example)
        baud = cls.default_baud
        if "baud" in params:
            if not params["baud"].isdigit() or not 1200 <= int(params["baud"]) <= 921_600:
                raise LinkError(f"baud {params['baud']!r} is not a rate between 1200 and 921600", cls.example)
            baud = int(params["baud"])
        return cls(path, mode, baud)

    @property
    def target(self) -> str:
        return self.path

    def __str__(self) -> str:
        return f"{self.kind}://{quote_path(self.path)}?mode={self.mode}&baud={self.baud}"


@dataclass(frozen=True, slots=True)
class Im871aLink(DongleLink):
    """IMST iM871A-USB (and the iM170A): HCI at 57600 baud."""

    kind: ClassVar[str] = "im871a"
    example: ClassVar[str] = "im871a:///dev/serial/by-id/usb-Silicon_Labs_iM871A_USB-if00-port0?mode=c1,t1"
    default_baud: ClassVar[int] = 57600

    def __post_init__(self) -> None:
        if self.baud == 0:
            object.__setattr__(self, "baud", self.default_baud)


@dataclass(frozen=True, slots=True)
class Amb8465Link(DongleLink):
    """Amber / Würth Elektronik AMB8465 (Metis-II): command mode at 9600 baud."""

    kind: ClassVar[str] = "amb8465"
    example: ClassVar[str] = "amb8465:///dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A1234567-if00-port0?mode=t1"
    default_baud: ClassVar[int] = 9600

    def __post_init__(self) -> None:
        if self.baud == 0:
            object.__setattr__(self, "baud", self.default_baud)


async def open_dongle(link: LinkSpec, timeout: float) -> SerialStream:
    """Open a dongle's serial port (8N1, exclusively)."""
    assert isinstance(link, DongleLink)
    return await asyncio.to_thread(open_port, link, link.path, link.baud)
