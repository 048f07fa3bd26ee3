"""SML push driver: meters that send by themselves (IR heads, RS-485 lines, TCP concentrators).

How this works: each session opens the link, feeds every chunk read to a
:class:`SmlFrameReader` and delivers the readings of each good frame. A frame
that fails (CRC, truncation, bytes lost) is counted and reported, and the
session goes on with the next one. A session ends when the link ends or
when no good frame arrived for ``silence_intervals`` push intervals (a dead
IR head, a meter that lost power); the base class then reconnects with
back-off. With ``server_id`` set, frames of other meters on a shared line
(a concentrator) are ignored.
"""

from __future__ import annotations

import asyncio

from smgwd.codec.crc import CrcPolicy
from smgwd.links.stream import open_stream
from smgwd.links.url import LinkSpec
from smgwd.meters.driver import DriverEvents, MeterDriver, ReadingSink, SessionEnded, Stamp
from smgwd.meters.sml.profiles import SmlProfile
from smgwd.meters.sml.readings import meter_id as sml_meter_id
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader

__all__ = ["SmlPushDriver"]


class SmlPushDriver(MeterDriver):
    """Reads pushed SML frames from a link."""

    def __init__(
        self,
        meter_id: str,
        link: LinkSpec,
        profile: SmlProfile,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        crc: CrcPolicy | None = None,
        interval: float = 1.0,
        silence_intervals: int = 5,
        server_id: bytes | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.profile = profile
        self.crc = crc
        self.silence = interval * silence_intervals
        self.wanted = None if server_id is None else sml_meter_id(server_id)

    async def session(self) -> None:
        stream = await open_stream(self.link)
        try:
            reader = SmlFrameReader(self.profile, self.crc)
            loop = asyncio.get_running_loop()
            last_good = loop.time()
            announced = False
            while True:
                remaining = self.silence - (loop.time() - last_good)
                try:
                    async with asyncio.timeout(max(remaining, 0.0)):
                        data = await stream.read()
                except asyncio.TimeoutError:
                    raise SessionEnded(f"no SML frame for {self.silence:g} s") from None
                if not data:
                    raise SessionEnded("end of stream")
                for result in reader.feed(data):
                    if not isinstance(result, FrameDecoded):
                        self.error("frame", result.reason)
                        continue
                    readings = result.readings
                    if self.wanted is not None:
                        readings = [r for r in readings if r.meter_id == self.wanted]
                        if not readings:
                            continue
                    for problem in result.problems:
                        self.error("entry", problem)
                    self.stats.frames += 1
                    last_good = loop.time()
                    if not announced:
                        self.connected()
                        announced = True
                    self.deliver(readings)
        finally:
            stream.close()
