"""wM-Bus receivers as links: USB dongles (``im871a:///dev/ttyUSB0?mode=c1,t1``,
``amb8465:///dev/ttyUSB0?mode=t1``) and rtl_wmbus output through a FIFO (``rtlwmbus:///run/smgwd/rtlwmbus``).

How this works: a dongle is a serial port with a host protocol on top (the codecs in
:mod:`smgwd.codec.wmbus.im871a` and :mod:`smgwd.codec.wmbus.amb8465`; the wM-Bus meter
driver speaks it). The link only names the port, its speed and the radio mode the
receiver is set to at start: ``t1``, ``c1``, ``s1`` or both ``c1,t1`` (what most OMS meters
send). Opening is a plain exclusive serial open. Use the ``/dev/serial/by-id/...`` name of
the dongle: it survives replugging and reordering of ttyUSB numbers.

An SDR receiver runs outside smgwd (``rtl_sdr -f 868.95M -s 1600000 - | rtl_wmbus >
/run/smgwd/rtlwmbus``, its own unit); smgwd reads its text lines from the FIFO, opened read
and write so that a restarting rtl_wmbus is not an end of stream. Or smgwd runs it:
``rtlwmbus+exec:///usr/local/lib/smgwd/sdr-receiver`` starts that program (no shell, no
arguments: a script holds the pipeline) in a process group of its own, reads its standard
output, and ends the whole group when the link closes; a program that exits is an end of
stream, so the receiver starts it again after its back-off.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from typing import ClassVar, Self

from smgwd.links.process import ProcessStream, start_process
from smgwd.links.serial import SerialStream, device_url_parts, open_port, quote_path
from smgwd.links.stream import LinkUnavailable
from smgwd.links.url import LinkError, LinkSpec, query_params

__all__ = ["Amb8465Link", "DongleLink", "Im871aLink", "RADIO_MODES", "RtlWmbusExecLink", "RtlWmbusLink",
           "WmbusReceiverLink", "open_dongle", "open_exec", "open_fifo"]

#: radio modes a dongle can be set to (the meters' wM-Bus modes it then hears)
RADIO_MODES = ("t1", "c1", "s1", "c1,t1")
_PARAMS = ("mode", "baud")


@dataclass(frozen=True, slots=True)
class WmbusReceiverLink(LinkSpec):
    """Where wM-Bus telegrams of many meters arrive: a dongle, or rtl_wmbus lines."""

    path: str

    can_stream: ClassVar[bool] = True

    @property
    def target(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class RtlWmbusLink(WmbusReceiverLink):
    """``rtlwmbus:///run/smgwd/rtlwmbus``: a FIFO that rtl_wmbus writes its lines into."""

    kind: ClassVar[str] = "rtlwmbus"
    example: ClassVar[str] = "rtlwmbus:///run/smgwd/rtlwmbus"
    opener: ClassVar[str] = "smgwd.links.dongle:open_fifo"

    @classmethod
    def from_url(cls, url: str) -> Self:
        path, query = device_url_parts(url, cls.kind, cls.example)
        if query:
            raise LinkError(f"an rtlwmbus link takes no parameters, not {query!r}", cls.example)
        return cls(path)

    def __str__(self) -> str:
        return f"{self.kind}://{quote_path(self.path)}"


@dataclass(frozen=True, slots=True)
class RtlWmbusExecLink(RtlWmbusLink):
    """``rtlwmbus+exec:///usr/local/lib/smgwd/sdr-receiver``: a program whose output is rtl_wmbus lines."""

    kind: ClassVar[str] = "rtlwmbus+exec"
    example: ClassVar[str] = "rtlwmbus+exec:///usr/local/lib/smgwd/sdr-receiver"
    opener: ClassVar[str] = "smgwd.links.dongle:open_exec"


@dataclass(frozen=True, slots=True)
class DongleLink(WmbusReceiverLink):
    """A wM-Bus receiver on a serial port; subclasses name the dongle and its default speed."""

    mode: str = "c1,t1"
    baud: int = 0  # 0: the dongle's default

    opener: ClassVar[str] = "smgwd.links.dongle:open_dongle"
    default_baud: ClassVar[int] = 0

    @classmethod
    def from_url(cls, url: str) -> Self:
        path, query = device_url_parts(url, cls.kind, cls.example)
        params = query_params(query, _PARAMS, cls.kind, cls.example)
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


def _open_fifo(link: RtlWmbusLink) -> SerialStream:
    try:
        info = os.stat(link.path)
    except OSError as error:
        raise LinkUnavailable(f"{link}: {error.strerror} (create it: mkfifo -m 0660 {link.path})") from None
    if not stat.S_ISFIFO(info.st_mode):
        raise LinkUnavailable(f"{link}: {link.path} is not a FIFO (expected one made with mkfifo)")
    try:
        fd = os.open(link.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise LinkUnavailable(f"{link}: {error.strerror}") from None
    return SerialStream(os.fdopen(fd, "rb", buffering=0), str(link))


async def open_fifo(link: LinkSpec, timeout: float) -> SerialStream:
    """Open the FIFO rtl_wmbus writes into (read and write: no end of stream when it restarts)."""
    assert isinstance(link, RtlWmbusLink)
    return _open_fifo(link)


async def open_exec(link: LinkSpec, timeout: float) -> ProcessStream:
    """Start the program of an ``rtlwmbus+exec`` link and read its standard output."""
    assert isinstance(link, RtlWmbusExecLink)
    return await start_process(link.path, str(link))
