"""The host side of the wM-Bus dongles: set up the radio, take telegrams out, reset a silent stick.

How this works: a :class:`DongleHost` (one per receiver kind; rtl_wmbus lines have a trivial
one) wraps the dongle's incremental decoder
(:mod:`smgwd.codec.wmbus.im871a` / :mod:`~smgwd.codec.wmbus.amb8465`) and talks over a
:class:`~smgwd.links.stream.ByteStream`. ``setup`` sends the configuration the link names
and waits for each answer (telegrams that arrive meanwhile are kept); ``feed`` turns read
bytes into :class:`Heard` telegrams; ``reset`` restarts the stick and configures it again,
for a dongle that went silent (a known failure of these sticks). An answer that does not
come within ``answer_timeout`` is a :class:`DongleError` naming what was asked: the port
holds no such dongle, or it hangs.

- iM871A: PING, GET_DEVICEINFO (module type and firmware go into the description),
  SET_CONFIG with the link mode and RSSI attached (in RAM only, as wmbusmeters does:
  nothing is written to the stick's flash).
- AMB8465: SET_MODE (volatile), GET_REQ of RSSI_Enable so the decoder knows whether
  DATA_IND ends with an RSSI byte, and UART_CMD_Out_Enable: a stick in transparent mode is
  switched to command mode (SET_REQ, a non-volatile parameter, then RESET), the one write
  this driver makes to a stick.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, TypeVar

from smgwd.codec.wmbus import WmbusError
from smgwd.codec.wmbus import amb8465 as amb
from smgwd.codec.wmbus import im871a as imst
from smgwd.codec.wmbus.rtlwmbus import RtlWmbusDecoder
from smgwd.links.dongle import Amb8465Link, DongleLink, Im871aLink, RtlWmbusLink, WmbusReceiverLink
from smgwd.links.stream import ByteStream

__all__ = ["DongleError", "DongleHost", "Heard", "host_for"]

E = TypeVar("E")


class DongleError(Exception):
    """The dongle does not answer as it should (wrong port, wrong baud, hung stick)."""


@dataclass(frozen=True, slots=True)
class Heard:
    """A telegram as the dongle delivered it: with its L-field, without link CRCs."""

    telegram: bytes
    rssi_dbm: float | None


class DongleHost:
    """Base: one dongle on one open stream; subclasses know its protocol."""

    name = "dongle"

    def __init__(self, link: WmbusReceiverLink, answer_timeout: float = 2.0) -> None:
        self.link = link
        self.answer_timeout = answer_timeout
        self.description = self.name
        self.pending: list[Heard] = []
        self.bad_frames = 0
        self.resets = 0

    async def setup(self, stream: ByteStream) -> None:
        raise NotImplementedError

    async def reset(self, stream: ByteStream) -> None:
        raise NotImplementedError

    def feed(self, data: bytes) -> list[Heard]:
        raise NotImplementedError

    def take_pending(self) -> list[Heard]:
        heard, self.pending = self.pending, []
        return heard

    async def _ask(self, stream: ByteStream, request: bytes, what: str, answer: Callable[[object], bool]) -> object:
        """Send ``request`` and wait for the event ``answer`` accepts; telegrams meanwhile go to ``pending``."""
        await stream.write(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_timeout
        while True:
            for event in self._events(b""):
                if answer(event):
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                baud = getattr(self.link, "baud", "?")
                raise DongleError(f"{self.name} on {self.link.path}: no answer to {what} within "
                                  f"{self.answer_timeout:g} s (is it a {self.name}, at {baud} baud?)")
            try:
                async with asyncio.timeout(remaining):
                    data = await stream.read()
            except asyncio.TimeoutError:
                continue
            if not data:
                raise DongleError(f"{self.name} on {self.link.path}: the port closed while waiting for {what}")
            for event in self._events(data):
                if answer(event):
                    return event

    def _events(self, data: bytes) -> list[object]:
        """Feed ``data``; telegrams go to ``pending``, the other events are returned."""
        raise NotImplementedError


_IMST_MODES = {"t1": imst.LinkMode.T1, "c1": imst.LinkMode.C1B, "s1": imst.LinkMode.S1, "c1,t1": imst.LinkMode.C1_T1}


class Im871aHost(DongleHost):
    """IMST iM871A over HCI."""

    name = "iM871A"

    def __init__(self, link: DongleLink, answer_timeout: float = 2.0) -> None:
        super().__init__(link, answer_timeout)
        self.mode = link.mode
        self.decoder = imst.Im871aDecoder()

    def _events(self, data: bytes) -> list[object]:
        crc_errors = self.decoder.crc_errors
        if data:
            self.decoder.feed(data)
        out: list[object] = []
        for frame in self.decoder:
            if frame.endpoint == imst.Endpoint.RADIOLINK and frame.is_telegram:
                try:
                    self.pending.append(Heard(frame.telegram(), frame.rssi_dbm))
                except WmbusError:
                    self.bad_frames += 1
            else:
                out.append(frame)
        self.bad_frames += self.decoder.crc_errors - crc_errors
        return out

    def feed(self, data: bytes) -> list[Heard]:
        self._events(data)
        return self.take_pending()

    @staticmethod
    def _is(msg: imst.DevMgmt) -> Callable[[object], bool]:
        return lambda f: isinstance(f, imst.HciFrame) and f.endpoint == imst.Endpoint.DEVMGMT and f.msg_id == msg

    async def setup(self, stream: ByteStream) -> None:
        await self._ask(stream, imst.ping_request(), "PING", self._is(imst.DevMgmt.PING_RSP))
        info = await self._ask(stream, imst.device_info_request(), "GET_DEVICEINFO",
                               self._is(imst.DevMgmt.GET_DEVICEINFO_RSP))
        assert isinstance(info, imst.HciFrame)
        try:
            device = imst.parse_device_info(info.payload)
            about = f"{device.module_name} firmware 0x{device.firmware:02X} uid {device.uid_hex}"
        except WmbusError:
            about = self.name
        await self._ask(stream, imst.set_config_request(_IMST_MODES[self.mode], rssi=True), "SET_CONFIG",
                        self._is(imst.DevMgmt.SET_CONFIG_RSP))
        self.description = f"{about}, mode {self.mode}"

    async def reset(self, stream: ByteStream) -> None:
        self.resets += 1
        await self._ask(stream, imst.reset_request(), "RESET", self._is(imst.DevMgmt.RESET_RSP))
        await self.setup(stream)


_AMB_MODES = {"t1": amb.ReceiveMode.T1, "c1": amb.ReceiveMode.C1, "s1": amb.ReceiveMode.S1,
              "c1,t1": amb.ReceiveMode.C1_T1}


class Amb8465Host(DongleHost):
    """Amber AMB8465 in command mode."""

    name = "AMB8465"

    def __init__(self, link: DongleLink, answer_timeout: float = 2.0) -> None:
        super().__init__(link, answer_timeout)
        self.mode = link.mode
        self.decoder = amb.Amb8465Decoder(rssi=True)

    def _events(self, data: bytes) -> list[object]:
        errors = self.decoder.checksum_errors
        if data:
            self.decoder.feed(data)
        out: list[object] = []
        for frame in self.decoder:
            if isinstance(frame, amb.AmberFrame) and frame.is_telegram:
                try:
                    self.pending.append(Heard(frame.telegram(), frame.rssi_dbm))
                except WmbusError:
                    self.bad_frames += 1
            else:
                out.append(frame)
        self.bad_frames += self.decoder.checksum_errors - errors
        return out

    def feed(self, data: bytes) -> list[Heard]:
        self._events(data)
        return self.take_pending()

    @staticmethod
    def _is(command: amb.Command) -> Callable[[object], bool]:
        return lambda f: isinstance(f, amb.AmberFrame) and f.command == command | amb.RESPONSE

    async def _parameter(self, stream: ByteStream, parameter: amb.Parameter) -> int | None:
        answer = await self._ask(stream, amb.get_request(parameter, 1), f"GET_REQ 0x{parameter:02X}",
                                 self._is(amb.Command.GET_REQ))
        assert isinstance(answer, amb.AmberFrame)
        try:
            return amb.parse_parameters(answer.payload).get(parameter)
        except WmbusError:
            return None

    async def setup(self, stream: ByteStream) -> None:
        if await self._parameter(stream, amb.Parameter.UART_CMD_OUT_ENABLE) == 0:
            await self._ask(stream, amb.set_request(amb.Parameter.UART_CMD_OUT_ENABLE, b"\x01"), "SET_REQ",
                            self._is(amb.Command.SET_REQ))
            await self._ask(stream, amb.reset_request(), "RESET", self._is(amb.Command.RESET_REQ))
        self.decoder.rssi = await self._parameter(stream, amb.Parameter.RSSI_ENABLE) != 0
        await self._ask(stream, amb.set_mode_request(_AMB_MODES[self.mode]), "SET_MODE",
                        self._is(amb.Command.SET_MODE_REQ))
        self.description = f"{self.name}, mode {self.mode}, RSSI {'on' if self.decoder.rssi else 'off'}"

    async def reset(self, stream: ByteStream) -> None:
        self.resets += 1
        await self._ask(stream, amb.reset_request(), "RESET", self._is(amb.Command.RESET_REQ))
        await self.setup(stream)


class RtlWmbusHost(DongleHost):
    """rtl_wmbus text lines: nothing to set up or reset; lines with a bad CRC are counted."""

    name = "rtl_wmbus"

    def __init__(self, link: WmbusReceiverLink, answer_timeout: float = 2.0) -> None:
        super().__init__(link, answer_timeout)
        self.decoder = RtlWmbusDecoder()
        self.description = f"rtl_wmbus lines from {link.path}"

    async def setup(self, stream: ByteStream) -> None:
        return None

    async def reset(self, stream: ByteStream) -> None:
        self.resets += 1  # an SDR pipeline is restarted by its own unit, not from here

    def feed(self, data: bytes) -> list[Heard]:
        errors = self.decoder.errors
        self.decoder.feed(data)
        heard = []
        for line in self.decoder:
            if line.crc_ok:
                heard.append(Heard(line.telegram, float(line.packet_rssi)))
            else:
                self.bad_frames += 1
        self.bad_frames += self.decoder.errors - errors
        return heard


def host_for(link: WmbusReceiverLink, answer_timeout: float = 2.0) -> DongleHost:
    """The host protocol of the link's receiver."""
    if isinstance(link, Im871aLink):
        return Im871aHost(link, answer_timeout)
    if isinstance(link, Amb8465Link):
        return Amb8465Host(link, answer_timeout)
    if isinstance(link, RtlWmbusLink):
        return RtlWmbusHost(link, answer_timeout)
    raise TypeError(f"{link} is no wM-Bus dongle link")
