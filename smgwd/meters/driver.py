"""What every meter driver shares: the connect / session / back-off loop and its reporting.

How this works: a driver's :meth:`MeterDriver.run` loops forever: open the
link, run a session (subclasses read the meter until the link ends, falls
silent or fails), close the link, wait a back-off delay that doubles up to a
limit and carries random jitter (so meters that fail together do not retry
together), and start again. The driver reports to a :class:`DriverEvents`
only on transitions — up, or down with a reason — so a meter that stays
unplugged for a day logs one line, while every retry is still counted.
Readings leave through a :class:`ReadingSink` after the gateway stamped
them with its time and time quality.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

from smgwd.reading import Reading, TimeQuality

__all__ = ["Backoff", "DriverEvents", "DriverStats", "LinkState", "MeterDriver", "ReadingSink", "Stamp"]

log = logging.getLogger(__name__)

#: The gateway's clock: (UTC time, quality), from the NTP timebase.
Stamp = Callable[[], tuple[datetime, TimeQuality]]


class LinkState(enum.Enum):
    UP = "up"
    CONNECTING = "connecting"
    DOWN = "down"


class ReadingSink(Protocol):
    def on_readings(self, readings: list[Reading]) -> None:
        ...


class DriverEvents(Protocol):
    """What the daemon hears from its drivers."""

    def on_state(self, meter_id: str, state: LinkState, reason: str) -> None:
        ...

    def on_error(self, meter_id: str, kind: str, message: str) -> None:
        ...


@dataclass
class Backoff:
    """Exponential back-off with jitter: ``initial * 2**n`` up to ``limit``, each ±``jitter``."""

    initial: float = 1.0
    limit: float = 60.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random)
    _failures: int = 0

    def next_delay(self) -> float:
        base = min(self.limit, self.initial * 2 ** self._failures)
        self._failures += 1
        return base * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._failures = 0


@dataclass
class DriverStats:
    sessions: int = 0
    reconnects: int = 0
    frames: int = 0
    readings: int = 0
    errors: int = 0


class SessionEnded(Exception):
    """A session ended without an exception of its own (end of stream, silence)."""


class MeterDriver:
    """Base of all drivers. Subclasses implement :meth:`session`.

    Args:
        meter_id: the configured meter id readings are stored under.
        sink: where stamped readings go.
        stamp: the gateway clock.
        events: transitions and errors.
        backoff: reconnect delays (tests pass a deterministic one).
        healthy_after: a session that lasted this long resets the back-off.
    """

    def __init__(
        self,
        meter_id: str,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
    ) -> None:
        self.meter_id = meter_id
        self.sink = sink
        self.stamp = stamp
        self.events = events
        self.backoff = backoff or Backoff()
        self.healthy_after = healthy_after
        self.stats = DriverStats()
        self.state = LinkState.CONNECTING
        self.reason = "starting"

    def _set_state(self, state: LinkState, reason: str) -> None:
        if state is self.state and (state is not LinkState.DOWN or reason == self.reason):
            return
        self.state, self.reason = state, reason
        self.events.on_state(self.meter_id, state, reason)

    def deliver(self, readings: list[Reading]) -> None:
        """Stamp readings with the gateway time and hand them to the sink under this meter's id."""
        if not readings:
            return
        now, quality = self.stamp()
        self.sink.on_readings(
            [r.stamped(self.meter_id, now, quality) for r in readings]
        )
        self.stats.readings += len(readings)

    def error(self, kind: str, message: str) -> None:
        self.stats.errors += 1
        self.events.on_error(self.meter_id, kind, message)

    async def session(self) -> None:
        """Connect and read the meter until the link ends or fails (raises or returns)."""
        raise NotImplementedError

    async def run(self) -> None:
        """Run sessions forever, reconnecting with back-off; cancel to stop."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            self.stats.sessions += 1
            try:
                await self.session()
                reason = "link closed by the meter"
            except asyncio.CancelledError:
                raise
            except SessionEnded as ended:
                reason = str(ended)
            except Exception as error:  # noqa: BLE001 - any failure of one meter ends its session only
                reason = _describe(error)
            if loop.time() - started >= self.healthy_after:
                self.backoff.reset()
            self._set_state(LinkState.DOWN, reason)
            self.stats.reconnects += 1
            await asyncio.sleep(self.backoff.next_delay())

    def connected(self) -> None:
        """Subclasses call this once the link is open and the meter answers."""
        self._set_state(LinkState.UP, "connected")


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if isinstance(error, OSError) else f"{type(error).__name__}: {text}"
