"""DLMS push driver: meters that push Data-Notifications over HDLC on their customer port.

How this works: each session opens the serial link, feeds every chunk read to a
:class:`~smgwd.meters.dlms.reader.PushReader` and delivers the readings of each message.
A refused frame or message is counted; the first refusal of each kind is logged (a wrong
key or a tag that does not verify also puts the meter down with the reason, once) and the
session goes on. A capture that starts inside a block transfer loses that first message
quietly. A session ends when the link ends or when no message decoded for
``silence_intervals`` push intervals; the base class then reconnects with back-off.
"""

from __future__ import annotations

import asyncio

from smgwd.codec.dlms import DlmsKeys
from smgwd.links.stream import open_stream
from smgwd.links.url import LinkSpec
from smgwd.meters.dlms.reader import PushFailed, PushReader
from smgwd.meters.driver import DriverEvents, LinkState, MeterDriver, ReadingSink, SessionEnded, Stamp

__all__ = ["DlmsPushDriver"]


class DlmsPushDriver(MeterDriver):
    """Reads pushed DLMS/COSEM messages from a serial link."""

    def __init__(
        self,
        meter_id: str,
        link: LinkSpec,
        keys: DlmsKeys,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        layout: str | None = None,
        transport: str = "hdlc",
        interval: float = 10.0,
        silence_intervals: int = 5,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.keys = keys
        self.layout = layout
        self.transport = transport
        self.silence = interval * silence_intervals
        self._reported: set[str] = set()

    def _refused(self, result: PushFailed, started: bool) -> None:
        if not started and "without block 1" in result.reason:
            return  # the line was opened inside a transfer
        kind = result.reason.split(":", 1)[0]
        if kind in self._reported:
            self.stats.errors += 1
            return
        self._reported.add(kind)
        if result.kind == "security":
            self._set_state(LinkState.DOWN, f"messages rejected: {result.reason}")
        self.error(result.kind, result.reason)

    async def session(self) -> None:
        stream = await open_stream(self.link)
        try:
            reader = PushReader(self.keys, layout=self.layout, transport=self.transport)
            loop = asyncio.get_running_loop()
            last_good = loop.time()
            while True:
                remaining = self.silence - (loop.time() - last_good)
                try:
                    async with asyncio.timeout(max(remaining, 0.0)):
                        data = await stream.read()
                except asyncio.TimeoutError:
                    raise SessionEnded(f"no DLMS message for {self.silence:g} s") from None
                if not data:
                    raise SessionEnded("end of stream")
                started = reader.started
                for result in reader.feed(data):
                    if isinstance(result, PushFailed):
                        self._refused(result, started)
                        continue
                    self.stats.frames += 1
                    last_good = loop.time()
                    self._reported.discard("WrongKeyError")
                    self._reported.discard("TagMismatchError")
                    if self.state is not LinkState.UP:
                        self.connected()
                    self.deliver(result.readings)
        finally:
            stream.close()
