"""Counting S0 pulses: debounce, the register and the power from the pulse rate, sans-I/O.

How this works: :meth:`S0Counter.edge` is called with the time of every falling edge the
GPIO library reports. An edge less than ``debounce`` seconds after the last counted one is
contact bounce and is dropped (counted apart). The register is ``count`` pulses of
``step`` each: ``step`` is the value of one pulse as an integer ``raw`` with a decimal
``scaler`` (1000 imp/kWh: 1 Wh, scaler 0; 800 imp/kWh: 125 × 10^-2 Wh), so the register
stays exact however many pulses arrive. Power is one pulse's energy over the time between
the last two pulses, and never more than one pulse's energy over the time since the last
one (so it falls to zero when the pulses stop).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

__all__ = ["PulseStep", "S0Counter", "pulse_step"]


class PulseStep(NamedTuple):
    raw: int  # one pulse, in units of 10**scaler
    scaler: int
    per_hour_factor: Decimal  # one pulse's value, for power and flow: value per pulse in the unit


def pulse_step(pulses_per_unit: float, unit_factor: int) -> PulseStep:
    """One pulse as an exact decimal step (``unit_factor``: 1000 for kWh stored as Wh, 1 for m³)."""
    if not pulses_per_unit > 0:
        raise ValueError("pulses per unit must be positive")
    value = Decimal(unit_factor) / Decimal(str(pulses_per_unit))
    for scaler in range(0, -7, -1):
        scaled = value.scaleb(-scaler)
        if scaled == scaled.to_integral_value():
            return PulseStep(int(scaled), scaler, value)
    raise ValueError(f"{pulses_per_unit:g} pulses per unit give a step of {value} that has no exact decimal form")


class S0Counter:
    """One S0 input's pulses."""

    def __init__(self, step: PulseStep, debounce: float = 0.02, count: int = 0) -> None:
        self.step = step
        self.debounce = debounce
        self.count = count
        self.bounces = 0
        self._last: float | None = None
        self._period: float | None = None

    def edge(self, t: float) -> bool:
        """A falling edge at ``t`` (seconds, monotonic); True when it was counted."""
        last = self._last
        if last is not None and t - last < self.debounce:
            self.bounces += 1
            return False
        if last is not None:
            self._period = t - last
        self._last = t
        self.count += 1
        return True

    @property
    def register_raw(self) -> int:
        return self.count * self.step.raw

    def rate_per_hour(self, now: float) -> Decimal:
        """The value per hour (W for Wh steps, m³/h for m³ steps) from the pulse rate."""
        if self._last is None or self._period is None or self._period <= 0:
            return Decimal(0)
        period = max(self._period, now - self._last)
        return self.step.per_hour_factor * Decimal(3600) / Decimal(str(period))
