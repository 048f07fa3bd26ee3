"""The bus master: one task owns an RS-485 port and polls its meters in turn over HDLC.

How this works: every meter configured on one port subscribes to that port's :class:`Bus`
(the first starts it, the last stops it). The bus keeps one
:class:`~smgwd.codec.hdlc.connection.Primary` per meter and serves the meter whose turn is
due next (round robin by due time: each meter's own interval): it connects it when needed
(SNRM/UA), sends the SML GetList request in I-frames and reads frames until the answer is
whole, under a per-frame time-out with one retry (repeat the unacknowledged frame, or poll
with RR). Frames from other stations or line noise are counted and skipped; they never end
a poll early or late. A meter that fails is polled less often (its interval times 2, 4, …
up to 16) so a dead meter costs the others little, and its first failure after a good
answer is reported once; the next good answer resets it. Before it sends, the bus waits
the link's turnaround time so the meter's transceiver has released the line.

The results go to each meter's queue: :class:`BusResult` with readings or a problem.
Cycle figures (last cycle time, per-meter polls and errors) are kept for status views.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from smgwd.codec.hdlc import HdlcAddress, HdlcDecoder, Received
from smgwd.codec.hdlc.connection import LinkState, Primary, Step
from smgwd.codec.sml.errors import SmlError
from smgwd.links.gpio import GpioBackend, gpio_backend
from smgwd.links.rs485 import Rs485Link
from smgwd.links.stream import ByteStream, open_stream
from smgwd.meters.bus.sml_exchange import get_list_request, read_reply
from smgwd.meters.sml.profiles import PROFILES
from smgwd.reading import Reading

__all__ = ["Bus", "BusResult", "StationStats", "bus_for", "bus_status"]

log = logging.getLogger(__name__)

FRAME_TIMEOUT = 0.5  # seconds for each answer frame
RETRIES = 1
MAX_BACKOFF = 16
_QUEUE = 16


@dataclass
class BusResult:
    readings: list[Reading] = field(default_factory=list)
    problem: str | None = None


@dataclass
class StationStats:
    polls: int = 0
    answers: int = 0
    failures: int = 0
    timeouts: int = 0
    foreign_frames: int = 0
    reconnects: int = 0
    last_poll_s: float | None = None


@dataclass
class _Station:
    meter_id: str
    link: Rs485Link
    interval: float
    queue: asyncio.Queue[BusResult | None]
    primary: Primary
    due: float = 0.0
    failures: int = 0
    requests: int = 0
    stats: StationStats = field(default_factory=StationStats)


class Bus:
    """One RS-485 port and the meters on it."""

    def __init__(self, link: Rs485Link, frame_timeout: float = FRAME_TIMEOUT, retries: int = RETRIES) -> None:
        self.link = link
        self.frame_timeout = frame_timeout
        self.retries = retries
        self.stations: dict[str, _Station] = {}
        self.decoder = HdlcDecoder()
        self.cycle_s: float | None = None
        self.up = False
        self.reason = "starting"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._gpio: GpioBackend | None = None

    # --- meters -------------------------------------------------------------------------

    def subscribe(self, meter_id: str, link: Rs485Link, interval: float) -> asyncio.Queue[BusResult | None]:
        if link.bus != self.link.bus:
            raise ValueError(f"{link} does not share the line settings of {self.link}")
        queue: asyncio.Queue[BusResult | None] = asyncio.Queue(_QUEUE)
        primary = Primary(HdlcAddress(link.client), HdlcAddress(link.logical, link.address))
        self.stations[meter_id] = _Station(meter_id, link, interval, queue, primary, due=time.monotonic())
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"rs485-{self.link.path}")
        self._wake.set()
        return queue

    def unsubscribe(self, meter_id: str, queue: asyncio.Queue[BusResult | None]) -> None:
        station = self.stations.get(meter_id)
        if station is not None and station.queue is queue:
            del self.stations[meter_id]
        if not self.stations and self._task is not None:
            self._task.cancel()
            self._task = None
            _BUSES.pop(self.link.path, None)

    # --- the port -----------------------------------------------------------------------

    async def run(self) -> None:
        """Own the port until cancelled: open, poll, reopen after failures."""
        delay = 1.0
        while True:
            try:
                stream = await open_stream(self.link)
            except OSError as error:
                self._down(str(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            try:
                self.up, self.reason = True, "polling"
                log.info("RS-485 bus %s up (%d meter(s))", self.link.path, len(self.stations))
                await self._serve(stream)
            except OSError as error:
                self._down(f"port failed: {error}")
            finally:
                stream.close()
                for station in self.stations.values():
                    station.primary.state = LinkState.DISCONNECTED
                if self._gpio is not None and self.link.direction_pin is not None:
                    self._gpio.release(self.link.direction_pin)
                    self._gpio = None
            await asyncio.sleep(delay)

    def _down(self, reason: str) -> None:
        if self.up or reason != self.reason:
            log.warning("RS-485 bus %s down: %s", self.link.path, reason)
        self.up, self.reason = False, reason
        for station in self.stations.values():
            _offer(station.queue, BusResult(problem=f"bus down: {reason}"))

    async def _serve(self, stream: ByteStream) -> None:
        cycle_start = time.monotonic()
        served: set[str] = set()
        while True:
            if not self.stations:
                await self._wake.wait()
                self._wake.clear()
                continue
            station = min(self.stations.values(), key=lambda s: s.due)
            wait = station.due - time.monotonic()
            if wait > 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except asyncio.TimeoutError:
                    pass
                continue
            await self._poll(stream, station)
            served.add(station.meter_id)
            if served >= set(self.stations):
                now = time.monotonic()
                self.cycle_s, cycle_start, served = now - cycle_start, now, set()

    # --- one meter ----------------------------------------------------------------------

    async def _poll(self, stream: ByteStream, station: _Station) -> None:
        started = time.monotonic()
        station.stats.polls += 1
        try:
            message = await self._exchange(stream, station)
            result = await _readings(message)
        except _PollFailed as failed:
            self._failed(station, str(failed))
        except SmlError as error:
            self._failed(station, f"its answer is no SML GetList response: {error}")
        else:
            station.stats.answers += 1
            if station.failures:
                log.info("RS-485 meter %s (address 0x%02X) answers again", station.meter_id, station.link.address)
            station.failures = 0
            station.due = started + station.interval
            _offer(station.queue, result)
        station.stats.last_poll_s = time.monotonic() - started

    def _failed(self, station: _Station, problem: str) -> None:
        station.failures += 1
        station.stats.failures += 1
        station.primary.state = LinkState.DISCONNECTED  # reconnect with SNRM next time
        backoff = min(2 ** station.failures, MAX_BACKOFF)
        station.due = time.monotonic() + station.interval * backoff
        if station.failures == 1:
            _offer(station.queue, BusResult(problem=problem))

    async def _exchange(self, stream: ByteStream, station: _Station) -> bytes:
        """Connect if needed, ask, and return the whole answer; a meter that answers DM (it restarted its
        link) is connected again and asked once more within the same poll."""
        primary = station.primary
        for attempt in range(2):
            if primary.state is not LinkState.CONNECTED:
                await self._send(stream, primary.connect())
                await self._await(stream, station, lambda step: primary.state is LinkState.CONNECTED, primary.connect)
            station.requests += 1
            await self._send(stream, primary.send(get_list_request(station.requests)))
            message: list[bytes] = []

            def done(step: Step) -> bool:
                if step.message is not None:
                    message.append(step.message)
                return bool(message)

            try:
                await self._await(stream, station, done, lambda: primary.repeat() or primary.poll())
            except _PollFailed:
                if attempt == 0 and primary.state is LinkState.DISCONNECTED and station.stats.answers:
                    station.stats.reconnects += 1  # DM or FRMR from a meter that answered before
                    continue
                raise
            return message[0]
        raise _PollFailed("the meter dropped its link twice in one poll")

    async def _send(self, stream: ByteStream, frame: bytes) -> None:
        if self.link.turnaround_ms:
            await asyncio.sleep(self.link.turnaround_ms / 1000)
        pin = self.link.direction_pin
        if pin is None:
            await stream.write(frame)
            return
        backend = self._direction_backend()
        backend.write(pin, True)
        try:
            started = time.monotonic()
            await stream.write(frame)
            # keep the driver enabled until the last bit has left: the frame's time on the wire (10 bits a byte)
            remaining = len(frame) * 10 / self.link.baud - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
        finally:
            backend.write(pin, False)

    def _direction_backend(self) -> GpioBackend:
        if self._gpio is None:
            pin = self.link.direction_pin
            assert pin is not None
            self._gpio = gpio_backend(self.link.backend)
            self._gpio.setup_output(pin, False)
        return self._gpio

    async def _await(self, stream: ByteStream, station: _Station, done, again) -> None:  # type: ignore[no-untyped-def]
        """Read frames until ``done(step)``; on a time-out send ``again()`` up to ``retries`` times."""
        loop = asyncio.get_running_loop()
        attempts = 0
        deadline = loop.time() + self.frame_timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                station.stats.timeouts += 1
                if attempts >= self.retries:
                    raise _PollFailed(f"no answer from address 0x{station.link.address:02X} within "
                                      f"{self.frame_timeout:g} s ({attempts + 1} tries)")
                attempts += 1
                await self._send(stream, again())
                deadline = loop.time() + self.frame_timeout
                continue
            try:
                async with asyncio.timeout(remaining):
                    data = await stream.read()
            except asyncio.TimeoutError:
                continue
            if not data:
                raise OSError("end of stream")
            self.decoder.feed(data)
            for event in self.decoder:
                if not isinstance(event, Received):
                    continue  # line noise: counted by the decoder
                step = station.primary.receive(event.frame)
                if step.ignored:
                    station.stats.foreign_frames += 1
                    continue
                if step.problem is not None and step.send is None:
                    raise _PollFailed(step.problem)
                if step.send is not None:
                    await self._send(stream, step.send)
                    deadline = loop.time() + self.frame_timeout
                if done(step):
                    return
                if step.busy:  # RNR: the meter is alive; give it another frame time before polling again
                    deadline = loop.time() + self.frame_timeout


class _PollFailed(Exception):
    pass


async def _readings(message: bytes) -> BusResult:
    if len(message) > 4096:  # a large answer is decoded off the event loop
        result = await asyncio.to_thread(read_reply, message, PROFILES["generic"])
    else:
        result = read_reply(message, PROFILES["generic"])
    return BusResult(result.readings)


def _offer(queue: asyncio.Queue[BusResult | None], item: BusResult | None) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


_BUSES: dict[str, Bus] = {}


def bus_for(link: Rs485Link) -> Bus:
    """The process's bus on ``link``'s port (one per port)."""
    bus = _BUSES.get(link.path)
    if bus is None:
        bus = _BUSES[link.path] = Bus(link)
    return bus


def bus_status() -> list[dict[str, object]]:
    """Every bus of the process for status views: port, state, cycle time, per meter its counters."""
    out: list[dict[str, object]] = []
    for bus in _BUSES.values():
        meters = {}
        for meter_id, station in bus.stations.items():
            stats = station.stats
            meters[meter_id] = {
                "address": f"0x{station.link.address:02X}", "polls": stats.polls, "answers": stats.answers,
                "failures": stats.failures, "timeouts": stats.timeouts, "reconnects": stats.reconnects,
                "foreign_frames": stats.foreign_frames, "failing": station.failures,
                "last_poll_ms": None if stats.last_poll_s is None else round(stats.last_poll_s * 1000, 1),
            }
        out.append({"port": bus.link.path, "up": bus.up, "reason": bus.reason,
                    "cycle_s": None if bus.cycle_s is None else round(bus.cycle_s, 3), "meters": meters,
                    "noise_bytes": bus.decoder.skipped, "bad_frames": bus.decoder.rejected})
    return out
