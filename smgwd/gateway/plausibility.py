"""Plausibility of a reading at ingest: a meter time the gateway cannot believe is kept but flagged.

How this works: when the gateway stamps readings (:meth:`Gateway.on_readings
<smgwd.gateway.core.Gateway.on_readings>`), :func:`flag_implausible` looks at
each reading's meter time. A date (UTC or LOCAL; a seconds index is no date and
is left alone) before :data:`EARLIEST`, more than :data:`AHEAD` after the
gateway's time of the reading, or not representable at all (beyond year 9999)
gets the quirk :data:`~smgwd.meters.cosem_map.IMPLAUSIBLE_METER_TIME`; the value
and the meter time are stored unchanged (the store keeps quirks), so nothing
is lost, and the COSEM mapping never sends such a time as a capture time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence

from smgwd.meters.cosem_map import IMPLAUSIBLE_METER_TIME
from smgwd.reading import MeterTimeKind, Reading

__all__ = ["AHEAD", "EARLIEST", "IMPLAUSIBLE_METER_TIME", "flag_implausible", "implausible_meter_time"]

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
AHEAD = timedelta(days=1)


def implausible_meter_time(reading: Reading) -> bool:
    """True when the meter's date of ``reading`` is before 2000, over a day ahead of the gateway, or unrepresentable."""
    meter_time = reading.meter_time
    if meter_time is None or meter_time.kind is MeterTimeKind.SEC_INDEX:
        return False
    try:
        instant = meter_time.as_datetime()
    except (ValueError, OverflowError, OSError):
        return True
    if instant is None:
        return False
    if instant < EARLIEST:
        return True
    return reading.gateway_time is not None and instant > reading.gateway_time + AHEAD


def flag_implausible(readings: Sequence[Reading]) -> list[Reading]:
    """``readings`` with the quirk added where the meter time is implausible (the others as they are)."""
    return [
        r._replace(quirks=(*r.quirks, IMPLAUSIBLE_METER_TIME))
        if IMPLAUSIBLE_METER_TIME not in r.quirks and implausible_meter_time(r) else r
        for r in readings
    ]
