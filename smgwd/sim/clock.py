"""Simulation clocks: real, accelerated (as in jOSEF) and stepped (for tests).

How this works: every clock answers ``now()`` with the simulated UTC time in
seconds since the Unix epoch. The accelerated clock follows jOSEF's two
settings: the real seconds one simulated quarter hour takes (4 s makes a day
pass in 6.4 minutes) and the resolution in real milliseconds at which
simulated time moves on (time stands still between ticks, so every meter
read within one tick sees the same instant). The stepped clock moves only
when told. Meters derive their clock, seconds index and registers from
``now()`` alone, so the three modes keep them consistent with each other.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

__all__ = ["AcceleratedClock", "RealClock", "SimClock", "SteppedClock"]

QUARTER_HOUR = 900.0


class SimClock(Protocol):
    """A source of simulated time."""

    def now(self) -> float:
        """Simulated UTC time, seconds since the Unix epoch."""
        ...

    def describe(self) -> str:
        """One line for status views."""
        ...


class RealClock:
    """Simulated time is wall time."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall

    def now(self) -> float:
        return self._wall()

    def describe(self) -> str:
        return "real time"


class AcceleratedClock:
    """Simulated time runs ``900 / quarter_hour_seconds`` times faster than real time.

    Args:
        start: simulated UTC time at the moment the clock is created.
        quarter_hour_seconds: real seconds per simulated quarter hour (jOSEF default 4).
        resolution_ms: real milliseconds between steps of simulated time (jOSEF default 1000).
        monotonic: the real clock (injectable for tests).
    """

    def __init__(
        self,
        start: float,
        quarter_hour_seconds: float = 4.0,
        resolution_ms: int = 1000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if quarter_hour_seconds <= 0:
            raise ValueError("quarter_hour_seconds must be positive")
        if resolution_ms <= 0:
            raise ValueError("resolution_ms must be positive")
        self.start = start
        self.quarter_hour_seconds = quarter_hour_seconds
        self.resolution_ms = resolution_ms
        self.speed = QUARTER_HOUR / quarter_hour_seconds
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> float:
        elapsed = self._monotonic() - self._origin
        resolution = self.resolution_ms / 1000.0
        ticks = int(elapsed / resolution)
        return self.start + ticks * resolution * self.speed

    def describe(self) -> str:
        return (
            f"accelerated: a quarter hour in {self.quarter_hour_seconds:g} s "
            f"(x{self.speed:g}), resolution {self.resolution_ms} ms"
        )


class SteppedClock:
    """Simulated time that moves only by :meth:`step` or :meth:`set` (tests, scripted runs)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def step(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("a stepped clock only moves forward")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` (not before the current time)."""
        if when < self._now:
            raise ValueError("a stepped clock only moves forward")
        self._now = when

    def describe(self) -> str:
        return "stepped (moves only when told)"
