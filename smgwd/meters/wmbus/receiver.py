"""One wM-Bus dongle shared by every meter it hears, and the per-meter driver on top.

How this works: a dongle hears many meters, so the meters configured on one dongle link
share one :class:`Receiver`. It opens the port, sets the dongle up, decodes every telegram
once (:class:`~smgwd.meters.wmbus.reader.TelegramReader`, with the keys of the meters
subscribed) and puts the result in the queue of the meter it belongs to; telegrams of
meters nobody configured are counted (and named once in the log). The first meter driver
that subscribes starts the receiver, the last one that leaves stops it.

Silence: when no telegram at all arrived for ``silence`` seconds (the longest of the
subscribed meters' send interval times their silence count), the receiver resets the
dongle and configures it again, once; if it stays silent for another period, the port is
closed and reopened with back-off. A dongle unplugged and plugged back in comes back by
itself the same way (the read fails, the port is reopened).

:class:`WmbusDriver` is the meter: it subscribes, delivers the readings of its telegrams,
reports the first wrong key, missing key or bad MAC once (the rest are counted), and ends
its session (link down, then back-off) when its meter fell silent or the dongle is down.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from smgwd.links.dongle import WmbusReceiverLink
from smgwd.links.stream import open_stream
from smgwd.meters.driver import Backoff, DriverEvents, LinkState, MeterDriver, ReadingSink, SessionEnded, Stamp
from smgwd.meters.wmbus.dongles import DongleError, Heard, host_for
from smgwd.meters.wmbus.reader import TelegramReader, TelegramResult

__all__ = ["Receiver", "WmbusDriver", "receiver_for"]

log = logging.getLogger(__name__)

_QUEUE = 64  # telegrams a meter driver may fall behind by before the oldest are dropped


@dataclass
class _Subscriber:
    key: bytes | None
    silence: float
    queue: asyncio.Queue[TelegramResult | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE))


@dataclass
class ReceiverStats:
    telegrams: int = 0
    unknown_meters: int = 0
    resets: int = 0
    reopens: int = 0
    bad_frames: int = 0
    dropped: int = 0


class Receiver:
    """A dongle's session loop and the meters subscribed to it."""

    def __init__(self, link: WmbusReceiverLink, backoff: Backoff | None = None, answer_timeout: float = 2.0) -> None:
        self.link = link
        self.backoff = backoff or Backoff()
        self.answer_timeout = answer_timeout
        self.subscribers: dict[str, _Subscriber] = {}
        self.reader = TelegramReader(self._key)
        self.stats = ReceiverStats()
        self.up = False
        self.description = ""
        self.reason = "starting"
        self._task: asyncio.Task[None] | None = None
        self._unknown: set[str] = set()

    def _key(self, meter_id: str) -> bytes | None:
        sub = self.subscribers.get(meter_id)
        return None if sub is None else sub.key

    def subscribe(self, wmbus_id: str, key: bytes | None, silence: float) -> asyncio.Queue[TelegramResult | None]:
        """Hear ``wmbus_id`` (8 digits); starts the receiver when it is the first meter."""
        sub = _Subscriber(key, silence)
        old = self.subscribers.get(wmbus_id)
        if old is not None and old.key != key:
            self.reader.forget_problem(wmbus_id)
        self.subscribers[wmbus_id] = sub
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"wmbus-{self.link.path}")
        return sub.queue

    async def _previous_closed(self) -> None:
        """Wait until the last session loop of this link (stopped when its meters left) has closed the port."""
        previous = _CLOSING.pop(self.link, None)
        if previous is not None:
            await asyncio.wait({previous})

    def unsubscribe(self, wmbus_id: str, queue: asyncio.Queue[TelegramResult | None]) -> None:
        sub = self.subscribers.get(wmbus_id)
        if sub is not None and sub.queue is queue:
            del self.subscribers[wmbus_id]
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            _CLOSING[self.link] = self._task  # the next receiver of this port opens it once this one closed it
            self._task = None
            _RECEIVERS.pop(self.link, None)

    @property
    def silence(self) -> float:
        return max((s.silence for s in self.subscribers.values()), default=60.0)

    async def run(self) -> None:
        """Sessions with the dongle until cancelled; back-off between them."""
        loop = asyncio.get_running_loop()
        await self._previous_closed()
        while True:
            started = loop.time()
            try:
                await self._session()
                reason = "port closed"
            except asyncio.CancelledError:
                raise
            except (DongleError, OSError) as error:
                reason = str(error)
            except Exception as error:  # noqa: BLE001 - a failing dongle ends its session only
                reason = f"{type(error).__name__}: {error}"
            self._down(reason)
            if loop.time() - started > 2 * self.silence:
                self.backoff.reset()
            self.stats.reopens += 1
            await asyncio.sleep(self.backoff.next_delay())

    def _down(self, reason: str) -> None:
        if self.up or reason != self.reason:
            log.warning("wM-Bus dongle %s down: %s", self.link, reason)
        self.up, self.reason = False, reason
        for sub in self.subscribers.values():
            _offer(sub.queue, None, self.stats)

    async def _session(self) -> None:
        stream = await open_stream(self.link)
        try:
            host = host_for(self.link, self.answer_timeout)
            await host.setup(stream)
            self.description = host.description
            self.up, self.reason = True, "receiving"
            log.info("wM-Bus dongle %s up: %s", self.link, host.description)
            self._dispatch(host.take_pending())
            loop = asyncio.get_running_loop()
            last = loop.time()
            reset_done = False
            while True:
                try:
                    async with asyncio.timeout(max(self.silence - (loop.time() - last), 0.0)):
                        data = await stream.read()
                except asyncio.TimeoutError:
                    if reset_done:
                        raise SessionEnded(f"silent for {2 * self.silence:g} s, also after a reset") from None
                    log.warning("wM-Bus dongle %s heard nothing for %g s: resetting it", self.link, self.silence)
                    await host.reset(stream)
                    self.stats.resets += 1
                    self._dispatch(host.take_pending())
                    reset_done = True
                    last = loop.time()
                    continue
                if not data:
                    raise SessionEnded("end of stream")
                heard = host.feed(data)
                self.stats.bad_frames = host.bad_frames
                if heard:
                    last = loop.time()
                    reset_done = False
                    self._dispatch(heard)
        except SessionEnded as ended:
            raise DongleError(str(ended)) from None
        finally:
            stream.close()

    def _dispatch(self, heard: list[Heard]) -> None:
        loop = asyncio.get_running_loop()
        for item in heard:
            self.stats.telegrams += 1
            result = self.reader.read(item.telegram, loop.time())
            if result.duplicate:
                continue
            meter = result.meter_id
            sub = self.subscribers.get(meter) if meter is not None else None
            if sub is None:
                self.stats.unknown_meters += 1
                if meter is not None and meter not in self._unknown and len(self._unknown) < 4096:
                    self._unknown.add(meter)
                    log.info("wM-Bus dongle %s hears meter %s, which is not configured", self.link, meter)
                continue
            result.rssi = item.rssi_dbm
            _offer(sub.queue, result, self.stats)


def _offer(queue: asyncio.Queue[TelegramResult | None], item: TelegramResult | None, stats: ReceiverStats) -> None:
    if queue.full():
        queue.get_nowait()
        stats.dropped += 1
    queue.put_nowait(item)


_RECEIVERS: dict[WmbusReceiverLink, Receiver] = {}
_CLOSING: dict[WmbusReceiverLink, asyncio.Task[None]] = {}


def receiver_for(link: WmbusReceiverLink) -> Receiver:
    """The process's receiver of ``link`` (one per dongle)."""
    receiver = _RECEIVERS.get(link)
    if receiver is None:
        receiver = _RECEIVERS[link] = Receiver(link)
    return receiver


class WmbusDriver(MeterDriver):
    """One wM-Bus meter heard through a shared dongle."""

    def __init__(
        self,
        meter_id: str,
        link: WmbusReceiverLink,
        wmbus_id: str,
        key: bytes | None,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        interval: float = 60.0,
        silence_intervals: int = 5,
        receiver: Receiver | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.wmbus_id = wmbus_id
        self.key = key
        self.silence = interval * silence_intervals
        self.receiver = receiver

    async def session(self) -> None:
        receiver = self.receiver or receiver_for(self.link)
        queue = receiver.subscribe(self.wmbus_id, self.key, self.silence)
        loop = asyncio.get_running_loop()
        last_good = loop.time()
        problem = ""
        try:
            while True:
                try:
                    async with asyncio.timeout(max(self.silence - (loop.time() - last_good), 0.0)):
                        result = await queue.get()
                except asyncio.TimeoutError:
                    heard = f" (its telegrams are rejected: {problem})" if problem else ""
                    raise SessionEnded(f"no readable telegram from meter {self.wmbus_id} "
                                       f"for {self.silence:g} s{heard}") from None
                if result is None:
                    raise SessionEnded(f"dongle down: {receiver.reason}")
                if result.error is not None:
                    problem = str(result.error)
                    if result.first:  # one log line: the state change names the problem
                        self._set_state(LinkState.DOWN, f"telegrams rejected: {problem}")
                        self.error(type(result.error).__name__, problem)
                    else:
                        self.stats.errors += 1
                    continue
                if result.problem is not None:
                    if result.first:
                        self.error(type(result.problem).__name__, f"{result.problem} (the records before it are kept)")
                    else:
                        self.stats.errors += 1
                self.stats.frames += 1
                last_good = loop.time()
                problem = ""
                if self.state is not LinkState.UP:
                    self.connected()
                self.deliver([item.reading for item in result.readings])
        finally:
            receiver.unsubscribe(self.wmbus_id, queue)
