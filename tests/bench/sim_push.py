"""Simulator benchmark: how many meters one smgw-sim process serves at 1 SML push per second.

Two figures, one process, one core:
- the CPU cost of one push (bring a meter up to the clock, build every list entry, encode the
  SML file and its transport frame, write it) over many meters on jOSEF's accelerated clock
  (a quarter hour in 4 s: every push integrates 225 simulated seconds);
- a live run: N meters pushing every second on the asyncio loop for a few seconds, with the
  share of one core it took and whether every push went out on time.
There is no peer to put beside these figures: neither smllib nor pysml can encode SML.
Target: >= 500 meters on one core of this machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timezone

from smgwd.sim.clock import AcceleratedClock
from smgwd.sim.meter import MeterSpec, SimMeter
from smgwd.sim.sml_push import Pusher

START = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
PROFILES = ("h0", "g0", "g1", "g4", "l0")


class NullSink:
    """Writes to /dev/null: the syscall is paid, nobody reads."""

    description = "/dev/null"

    def __init__(self) -> None:
        self._fd = os.open(os.devnull, os.O_WRONLY)

    def write(self, data: bytes) -> bool:
        return os.write(self._fd, data) == len(data)

    def close(self) -> None:
        os.close(self._fd)


def make_pushers(n: int, clock: AcceleratedClock) -> list[Pusher]:
    sink = NullSink()
    return [
        Pusher(SimMeter(MeterSpec(id=f"m{k}", serial=10_000_000 + k, profile=PROFILES[k % len(PROFILES)],
                                  annual_kwh=2000.0 + 10 * k, seed=k), clock), sink, 1.0)
        for k in range(n)
    ]


def push_cost(n: int = 500, rounds: int = 10) -> float:
    """CPU seconds per push, with simulated time moving as jOSEF's accelerated clock moves."""
    real = [0.0]
    clock = AcceleratedClock(START, 4.0, 1000, monotonic=lambda: real[0])
    pushers = make_pushers(n, clock)
    for pusher in pushers:  # first push pays one-off costs (profile tables, day caches)
        pusher.push_once()
    started = time.process_time()
    for _ in range(rounds):
        real[0] += 1.0
        for pusher in pushers:
            pusher.push_once()
    return (time.process_time() - started) / (n * rounds)


async def live_run(n: int, seconds: float) -> tuple[float, int, int, int]:
    """(share of one core, frames sent, frames expected, deadlines missed) for n meters."""
    clock = AcceleratedClock(START, 4.0, 1000)
    pushers = make_pushers(n, clock)
    for pusher in pushers:
        pusher.push_once()
        pusher.stats.frames = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    tasks = [asyncio.create_task(p.run()) for p in pushers]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    sent = sum(p.stats.frames for p in pushers)
    late = sum(p.stats.late for p in pushers)
    return cpu / wall, sent, int(n * seconds), late


def main() -> None:
    cost = push_cost()
    print("smgw-sim: SML push of a 21-value meter (advance + entries + encode + frame + write)")
    print(f"CPU per push: {cost * 1e6:.0f} µs -> one core serves about {1 / cost:.0f} meters at 1 push/s")
    for n in (500, 1000):
        share, sent, expected, late = asyncio.run(live_run(n, 5.0))
        print(f"live: {n} meters x 1 push/s for 5 s: {share * 100:.0f} % of one core, "
              f"{sent} frames sent (~{expected} due), {late} deadlines missed, "
              f"{share / n * 1e6 / 1e4:.3f} % CPU per meter")
    print("(no peer: neither smllib nor pysml can encode SML; target >= 500 meters per core)")


if __name__ == "__main__":
    main()
