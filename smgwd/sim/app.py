"""The running simulator: a clock, its meters, their TCP servers and serial pushers.

How this works: :class:`Simulator` is built from a :class:`SimConfig` (and,
for tests, a clock of their choice), then has an explicit life: ``start()``
opens every listener and sink, ``stop()`` closes them. Meters integrate
lazily: every read brings a meter up to the clock, so there is no global
tick and idle meters cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from smgwd.sim.clock import AcceleratedClock, RealClock, SimClock, SteppedClock
from smgwd.sim.config import SimConfig, TcpListener, TimeSettings
from smgwd.sim.meter import SimMeter
from smgwd.sim.sml_push import Pusher, open_sink
from smgwd.sim.sml_server import SmlServer

__all__ = ["Simulator", "make_clock"]

log = logging.getLogger(__name__)


def make_clock(settings: TimeSettings) -> SimClock:
    """The clock the configuration asks for (start: now unless configured)."""
    start = time.time() if settings.start is None else settings.start
    if settings.mode == "real":
        return RealClock()
    if settings.mode == "stepped":
        return SteppedClock(start)
    return AcceleratedClock(start, settings.quarter_hour_seconds, settings.resolution_ms)


@dataclass
class _Listening:
    """A TCP server with the configuration it came from (for status views)."""

    listener: TcpListener
    server: SmlServer

    @property
    def port(self) -> int:
        return self.server.port


class Simulator:
    """All meters and wires of one configuration.

    Args:
        config: the checked configuration.
        clock: overrides the configured time (tests pass a stepped clock).
        port_override: listen on this port instead of the configured ones (0: any free port).
    """

    def __init__(self, config: SimConfig, clock: SimClock | None = None, port_override: int | None = None) -> None:
        self.config = config
        self.clock = clock or make_clock(config.time)
        self.meters = {spec.id: SimMeter(spec, self.clock) for spec in config.meters}
        self.tcp_servers = [
            _Listening(listener, SmlServer(
                [self.meters[ref] for ref in listener.meters], host=listener.host,
                port=listener.port if port_override is None else port_override,
                username=listener.username, password=listener.password,
            ))
            for listener in config.tcp
        ]
        self.pushers: list[Pusher] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open every listener and sink and start pushing."""
        for listening in self.tcp_servers:
            await listening.server.start()
        for serial in self.config.serial:
            sink = open_sink(serial.device, serial.baud, serial.parity)
            pusher = Pusher(self.meters[serial.meter], sink, serial.interval_seconds)
            self.pushers.append(pusher)
            log.info("meter %s pushes SML every %g s to %s", serial.meter, serial.interval_seconds, sink.description)
            self._tasks.append(asyncio.create_task(pusher.run(), name=f"push-{serial.id}"))

    async def stop(self) -> None:
        """Stop pushing and close every listener and sink."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for pusher in self.pushers:
            pusher.sink.close()
        for listening in self.tcp_servers:
            await listening.server.close()
