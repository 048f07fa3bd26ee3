"""S0 pulses from a simulated meter on a fake GPIO pin (the same process's fake backend).

How this works: an :class:`S0Pulser` follows its meter's import register and, each time it
has grown by one pulse's worth of energy (1000 / pulses-per-kWh Wh), drives one pulse on
the pin of the ``fake`` GPIO backend, as an S0 output would. It runs in the simulator's
event loop, so it drives a gateway in the same process (``smgwd demo``, tests); a gateway
on another board needs a real S0 output.
"""

from __future__ import annotations

import asyncio

from smgwd.links.gpio import FakeGpio, gpio_backend
from smgwd.sim.meter import SimMeter

__all__ = ["S0Pulser"]


class S0Pulser:
    def __init__(self, meter: SimMeter, pin: int, pulses_per_kwh: float, period: float = 0.05) -> None:
        self.meter = meter
        self.pin = pin
        self.wh_per_pulse = 1000.0 / pulses_per_kwh
        self.period = period
        self.pulses = 0
        backend = gpio_backend("fake")
        assert isinstance(backend, FakeGpio)
        self.backend = backend
        meter.sync()
        self._sent_wh = meter.import_wh

    async def run(self) -> None:
        while True:
            self.meter.sync()
            while self.meter.import_wh - self._sent_wh >= self.wh_per_pulse:
                self._sent_wh += self.wh_per_pulse
                self.pulses += 1
                self.backend.pulse(self.pin)
                await asyncio.sleep(0.001)  # pulses apart, as a real output spaces them
            await asyncio.sleep(self.period)
