"""What one delivery message holds: readings -> COSEM/XML documents in an EMP's shape.

How this works: ``josef`` documents are jOSEF logical devices, which hold one
value per meter and OBIS code; readings are cut, in gateway-time order, into
runs where no (meter, OBIS) repeats, one document per run, so every reading
is delivered. ``k461`` makes one load profile per meter (numeric readings
only: a profile has no place for octet strings or booleans).
"""

from __future__ import annotations

from typing import Literal, Sequence

from smgwd.cosem import xml_josef, xml_k461
from smgwd.meters.cosem_map import load_profile, logical_devices
from smgwd.reading import Reading

__all__ = ["documents"]


def documents(readings: Sequence[Reading], shape: Literal["josef", "k461"]) -> list[bytes]:
    """The COSEM/XML documents (one message each) for ``readings``, oldest first."""
    if shape == "k461":
        by_meter: dict[str, list[Reading]] = {}
        for reading in readings:
            if not isinstance(reading.raw, (bool, bytes)):
                by_meter.setdefault(reading.meter_id, []).append(reading)
        return [xml_k461.encode(load_profile(rows), meter) for meter, rows in by_meter.items()]
    runs: list[list[Reading]] = []
    seen: set[tuple[str, str]] = set()
    for reading in readings:
        key = (reading.meter_id, str(reading.obis))
        if not runs or key in seen:
            runs.append([])
            seen.clear()
        seen.add(key)
        runs[-1].append(reading)
    return [xml_josef.encode(logical_devices(run)) for run in runs]
