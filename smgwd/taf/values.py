"""A register's value at an instant (a quarter hour, a tariff switch, a billing period's end), from the store.

How this works: the gateway does not measure; its meters send register
readings when they do, stamped with the gateway's time. The value at an
instant ``t`` is found with two index seeks (:meth:`StoreReader.number_near`),
among the readings whose gateway time was trusted (synchronised or drifting):

* **taken**: the reading nearest ``t`` within ``tolerance`` seconds on either
  side (on a tie the later one), its raw value, scaler, unit, meter status and
  time quality as the meter and the timebase gave them;
* **interpolated**, only where the profile allows it (``interpolate_within`` > 0):
  from the nearest readings before and after ``t`` when they are at most
  ``interpolate_within`` seconds apart and agree in scaler and unit,
  ``before + (after - before) * (t - t_before) // (t_after - t_before)`` in
  exact integer arithmetic (rounded down: a register never runs ahead of the
  meter), marked :data:`~smgwd.meters.value_status.INTERPOLATED`;
* otherwise a **gap**: raw 0, marked :data:`~smgwd.meters.value_status.GAP`,
  and, when the only readings near ``t`` had an untrusted (unsynchronised)
  time, the value of the nearest of them (on a tie the later) with its
  quality, still marked as a gap.

Every value is a :class:`~smgwd.reading.Reading` stamped at ``t`` (the
instant it stands for), so the COSEM mapping renders it like any other; the
marks travel in ``quirks`` and become FNN status bits there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from typing import TYPE_CHECKING

from smgwd.cosem.obis import Obis
from smgwd.gateway.store.reader import StoreReader
from smgwd.meters.value_status import GAP, INTERPOLATED
from smgwd.reading import Reading, TimeQuality

if TYPE_CHECKING:
    from smgwd.gateway.config import EmpConfig

__all__ = ["Capture", "capture_of", "value_at"]

_RANK = {TimeQuality.SYNCHRONISED: 0, TimeQuality.DRIFTING: 1, TimeQuality.UNSYNCHRONISED: 2, None: 3}
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Capture:
    """How register values at instants are found: ``tolerance`` and ``interpolate_within`` in seconds."""

    tolerance: float = 10.0
    interpolate_within: float = 0.0  # 0: never interpolate


def capture_of(emp: EmpConfig) -> Capture:
    """How an EMP profile's use case finds a register value at an instant."""
    return Capture(emp.tolerance, emp.interpolate_within)


def _at(reading: Reading, moment: datetime, quirks: tuple[str, ...] = ()) -> Reading:
    return Reading(reading.meter_id, reading.obis, reading.raw, reading.scaler, reading.unit, reading.status,
                   None, moment, reading.time_quality, quirks)


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def _nearest(readings: list[Reading], moment: datetime) -> Reading:
    """The reading nearest ``moment``; on a tie the first (callers put the later one first)."""
    return min(readings, key=lambda r: abs(_seconds(moment, r.gateway_time)))  # type: ignore[arg-type]


def value_at(
    reader: StoreReader, meter: str, obis: Obis, moment: datetime, capture: Capture, like: Reading | None = None,
) -> Reading:
    """The value of ``meter``'s register ``obis`` at ``moment`` (see the module comment).

    ``like``: a reading of that register whose scaler and unit a gap takes.
    """
    reach = max(capture.tolerance, capture.interpolate_within)
    before = reader.number_near(meter, obis, moment, reach, "before")
    after = reader.number_near(meter, obis, moment, reach, "after")
    near = [r for r in (after, before) if r is not None and r.gateway_time is not None
            and abs(_seconds(moment, r.gateway_time)) <= capture.tolerance]
    if near:
        return _at(_nearest(near, moment), moment)
    if (capture.interpolate_within > 0 and before is not None and after is not None
            and before.scaler == after.scaler and before.unit == after.unit):
        assert before.gateway_time is not None and after.gateway_time is not None
        span = after.gateway_time - before.gateway_time
        if span.total_seconds() <= capture.interpolate_within and span.total_seconds() > 0:
            assert isinstance(before.raw, int) and isinstance(after.raw, int)
            part = moment - before.gateway_time
            us = span // _MICROSECOND
            raw = before.raw + (after.raw - before.raw) * (part // _MICROSECOND) // us
            worse = before if _RANK[before.time_quality] >= _RANK[after.time_quality] else after
            return Reading(meter, obis, raw, before.scaler, before.unit, None, None, moment, worse.time_quality,
                           (INTERPOLATED,))
    untrusted = [r for side in ("after", "before")
                 if (r := reader.number_near(meter, obis, moment, capture.tolerance, side, trusted=False)) is not None]
    if untrusted:
        return _at(_nearest(untrusted, moment), moment, (GAP,))
    scaler, unit = (0, None) if like is None else (like.scaler, like.unit)
    return Reading(meter, obis, 0, scaler, unit, None, None, moment, TimeQuality.SYNCHRONISED, (GAP,))


