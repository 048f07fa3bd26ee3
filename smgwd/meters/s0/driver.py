"""An S0 meter: pulses on a GPIO pin counted into a register, delivered every interval.

How this works: the session claims the pin from the GPIO backend the link names, with an
edge callback that takes the time and hands it to the event loop (the GPIO library calls
back from its own thread). Every ``interval`` the register (the pulse count times one
pulse's exact step) and the power or flow from the pulse rate are delivered. The count
starts from ``start_count`` — what the store last recorded for this meter — so a restart
neither loses the register nor counts pulses twice (pulses while smgwd is not running are
not seen by anyone). The pin is released when the session ends.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Callable

from smgwd.cosem.obis import Obis
from smgwd.links.gpio import GpioError, gpio_backend
from smgwd.links.gpio_link import GpioLink
from smgwd.meters.driver import DriverEvents, MeterDriver, ReadingSink, SessionEnded, Stamp
from smgwd.meters.s0.counter import S0Counter, pulse_step
from smgwd.reading import Reading

__all__ = ["S0_CODES", "S0Driver"]

#: unit -> (register OBIS, DLMS unit, value factor, rate OBIS, rate DLMS unit)
S0_CODES = {
    "kWh": (Obis(1, 0, 1, 8, 0), 30, 1000, Obis(1, 0, 1, 7, 0), 27),  # register in Wh, power in W
    "m3": (Obis(8, 0, 1, 0, 0), 13, 1, Obis(8, 0, 2, 0, 0), 15),  # volume in m³, flow in m³/h
}


class S0Driver(MeterDriver):
    def __init__(
        self,
        meter_id: str,
        link: GpioLink,
        pulses_per_unit: float,
        unit: str,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        interval: float = 10.0,
        start_count: int = 0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.unit = unit
        self.codes = S0_CODES[unit]
        self.counter = S0Counter(pulse_step(pulses_per_unit, self.codes[2]), link.debounce_ms / 1000, start_count)
        self.interval = interval
        self.clock = clock

    def readings(self) -> list[Reading]:
        register, unit, _, rate_obis, rate_unit = self.codes
        c = self.counter
        rate = c.rate_per_hour(self.clock())
        rate_scaler = 0 if self.unit == "kWh" else -3
        return [
            Reading(self.meter_id, register, c.register_raw, c.step.scaler, unit),
            Reading(self.meter_id, rate_obis, int((rate.scaleb(-rate_scaler)).to_integral_value()), rate_scaler, rate_unit),
        ]

    async def session(self) -> None:
        try:
            backend = gpio_backend(self.link.backend)
        except GpioError as error:
            raise SessionEnded(str(error)) from None
        loop = asyncio.get_running_loop()
        counter, clock = self.counter, self.clock

        def on_edge(pin: int) -> None:  # the GPIO library's thread
            loop.call_soon_threadsafe(counter.edge, clock())

        try:
            backend.setup_input(self.link.pin, pull_up=self.link.pull_up, falling=True, callback=on_edge)
        except GpioError as error:
            raise SessionEnded(str(error)) from None
        try:
            self.connected()
            while True:
                self.stats.frames += 1
                self.deliver(self.readings())
                await asyncio.sleep(self.interval)
        finally:
            backend.release(self.link.pin)
            self.deliver(self.readings())  # the count at the stop: what a restart resumes from


def resume_count(last: list[Reading], unit: str, pulses_per_unit: float) -> int:
    """The pulse count the stored register stands for (0 when there is none)."""
    register = S0_CODES[unit][0]
    step = pulse_step(pulses_per_unit, S0_CODES[unit][2])
    for reading in last:
        if reading.obis == register and isinstance(reading.raw, int) and not isinstance(reading.raw, bool):
            value = Decimal(reading.raw).scaleb(reading.scaler)
            return int(value / (Decimal(step.raw).scaleb(step.scaler)))
    return 0
