"""Notice an event loop that has stopped running callbacks (a blocking call, a runaway decode).

How this works: :meth:`LoopWatch.start` schedules a heartbeat on the loop
every ``beat`` seconds (``loop.call_later``) that records the monotonic time
it ran. A daemon thread looks at that time every ``beat`` seconds; when the
heartbeat is older than ``stall_after`` seconds the loop is stalled: the
thread logs ONE line ("event loop stalled for X s", event ``loop_stalled``),
counts the stall and sets :attr:`LoopWatch.stalled`, which the gateway reads
as "unhealthy". The next heartbeat that runs clears it and logs the recovery
with the stall's length. The watch never talks to systemd: a stalled loop
sends no ``WATCHDOG=1``, so systemd's watchdog fires if the stall lasts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

from smgwd.gateway.logsetup import fields

__all__ = ["LoopWatch", "LoopWatchStats"]

log = logging.getLogger("smgwd")


@dataclass(frozen=True)
class LoopWatchStats:
    """What ``smgwctl status`` shows of the loop."""

    stalled: bool
    stalls: int  # stalls noticed since start
    longest_stall: float  # seconds, the longest stall that has ended
    stall_after: float


class LoopWatch:
    """Watches one event loop from a thread.

    Args:
        stall_after: seconds without a heartbeat that count as a stall.
        beat: seconds between heartbeats (and between the thread's looks).
    """

    def __init__(self, stall_after: float = 5.0, beat: float | None = None) -> None:
        if not stall_after > 0:
            raise ValueError("stall_after must be > 0")
        self.stall_after = stall_after
        self.beat = beat if beat is not None else min(1.0, stall_after / 4)
        self._lock = threading.Lock()
        self._last_beat = time.monotonic()
        self._stalled_since: float | None = None
        self._stalls = 0
        self._longest = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stalled(self) -> bool:
        with self._lock:
            return self._stalled_since is not None

    @property
    def stats(self) -> LoopWatchStats:
        with self._lock:
            return LoopWatchStats(self._stalled_since is not None, self._stalls, round(self._longest, 3),
                                  self.stall_after)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start watching ``loop`` (default: the running loop); call from the loop's thread."""
        self._loop = loop or asyncio.get_running_loop()
        self._stop.clear()
        self._heartbeat()
        self._thread = threading.Thread(target=self._watch, name="smgwd-loopwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and the heartbeat."""
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _heartbeat(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._last_beat = now
            since, self._stalled_since = self._stalled_since, None
            if since is not None:
                self._longest = max(self._longest, now - since)
        if since is not None:
            log.warning("event loop running again after a stall of %.1f s", now - since,
                        extra=fields(event="loop_recovered"))
        if not self._stop.is_set() and self._loop is not None:
            self._handle = self._loop.call_later(self.beat, self._heartbeat)

    def _watch(self) -> None:
        while not self._stop.wait(self.beat):
            now = time.monotonic()
            with self._lock:
                silent = now - self._last_beat
                new = self._stalled_since is None and silent > self.stall_after
                if new:
                    self._stalled_since = self._last_beat  # the loop's last sign of life
                    self._stalls += 1
            if new:
                log.error("event loop stalled for %.1f s", silent, extra=fields(event="loop_stalled"))
