"""An RS-485 bus of simulated meters: HDLC secondary stations answering SML GetList.

How this works: one port (a pty pair, or a real adapter to the gateway board) carries
every station. Frames from the gateway are decoded and handed to the station whose
address they name (:class:`~smgwd.codec.hdlc.secondary.Secondary`); its answers go back on
the line. A request's SML file is answered by the same :class:`SmlResponder` the TCP
server uses, from that station's meter. Stations can misbehave on purpose:
``slow`` answers after ``delay-ms``, ``dead`` never answers, ``babble`` also sends line
noise every few hundred milliseconds, and ``reset-every`` drops its link after that many
requests (the gateway then gets DM and must connect again).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from smgwd.codec.hdlc import HdlcAddress, HdlcDecoder, Received
from smgwd.codec.hdlc.secondary import Secondary
from smgwd.codec.sml.errors import SmlError
from smgwd.meters.bus.sml_exchange import unwrap
from smgwd.sim.meter import SimMeter
from smgwd.sim.sml_server import SmlResponder

__all__ = ["BEHAVIOURS", "BusStation", "SimBus"]

log = logging.getLogger(__name__)

BEHAVIOURS = ("normal", "slow", "dead", "babble")


@dataclass
class BusStation:
    meter: SimMeter
    address: int
    behaviour: str = "normal"
    delay_ms: int = 0
    reset_every: int = 0
    logical: int = 1
    secondary: Secondary = field(init=False)
    answered: int = 0

    def __post_init__(self) -> None:
        responder = SmlResponder([self.meter])
        self.secondary = Secondary(HdlcAddress(self.logical, self.address), lambda request: self._answer(responder, request))

    def _answer(self, responder: SmlResponder, request: bytes) -> bytes:
        try:
            payload = unwrap(request)
        except SmlError:
            return responder.checksum_error()
        self.answered += 1
        if self.reset_every and self.answered % self.reset_every == 0:
            self.secondary.connected = False  # the meter restarts its link after this answer
        return responder.reply(payload)


class SimBus:
    """The stations of one ``<bus>`` on one port."""

    def __init__(self, port: object, stations: list[BusStation], seed: int = 0) -> None:
        self.port = port
        self.stations = stations
        self.decoder = HdlcDecoder()
        self._rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self.frames_in = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.port.fileno(), self._readable)  # type: ignore[attr-defined]
        if any(s.behaviour == "babble" for s in self.stations):
            self._tasks.append(asyncio.create_task(self._babble(), name="bus-babble"))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        try:
            asyncio.get_running_loop().remove_reader(self.port.fileno())  # type: ignore[attr-defined]
        except (RuntimeError, ValueError, OSError):
            pass
        self.port.close()  # type: ignore[attr-defined]

    def _write(self, data: bytes) -> None:
        self.port.write(data)  # type: ignore[attr-defined]

    def _readable(self) -> None:
        try:
            data = self.port.read()  # type: ignore[attr-defined]
        except OSError:
            return
        if not data:
            return
        self.decoder.feed(data)
        for event in self.decoder:
            if not isinstance(event, Received):
                continue
            self.frames_in += 1
            for station in self.stations:
                if not station.secondary.accepts(event.frame) or station.behaviour == "dead":
                    continue
                answers = station.secondary.receive(event.frame)
                if not answers:
                    continue
                if station.behaviour == "slow" and station.delay_ms:
                    asyncio.get_running_loop().call_later(station.delay_ms / 1000, self._write, b"".join(answers))
                else:
                    self._write(b"".join(answers))

    async def _babble(self) -> None:
        while True:
            await asyncio.sleep(0.2 + 0.3 * self._rng.random())
            noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(3, 40)))
            self._write(noise)
