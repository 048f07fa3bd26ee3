"""A meter on the RS-485 bus: what the bus master reads from it, delivered as its readings.

How this works: the driver subscribes to the bus of its port (:func:`bus_for`) and takes the
results the bus puts in its queue: readings are delivered; a meter that stopped answering
is down with the reason while it stays on the bus (the bus polls it less often and reports
only its first failure), and is up again with its next answer. The session ends only when
the bus itself is down (the port failed); the base class then subscribes again.
"""

from __future__ import annotations

from smgwd.links.rs485 import Rs485Link
from smgwd.meters.bus.master import Bus, bus_for
from smgwd.meters.driver import DriverEvents, LinkState, MeterDriver, ReadingSink, SessionEnded, Stamp

__all__ = ["BusMeterDriver"]


class BusMeterDriver(MeterDriver):
    """One meter polled by the bus master of its port."""

    def __init__(
        self,
        meter_id: str,
        link: Rs485Link,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        interval: float = 15.0,
        bus: Bus | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.interval = interval
        self.bus = bus

    async def session(self) -> None:
        bus = self.bus or bus_for(self.link)
        queue = bus.subscribe(self.meter_id, self.link, self.interval)
        try:
            while True:
                result = await queue.get()
                if result is None:
                    raise SessionEnded("bus closed")
                if result.problem is not None:
                    if result.problem.startswith("bus down"):
                        raise SessionEnded(result.problem)
                    self.stats.errors += 1
                    self._set_state(LinkState.DOWN, result.problem)
                    continue
                self.stats.frames += 1
                if self.state is not LinkState.UP:
                    self.connected()
                self.deliver(result.readings)
        finally:
            bus.unsubscribe(self.meter_id, queue)
