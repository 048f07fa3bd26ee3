"""What one delivery message holds: readings -> COSEM/XML documents in an EMP's shape.

How this works: ``josef`` documents are jOSEF logical devices, which hold one
value per meter and OBIS code; readings are cut, in gateway-time order, into
runs where no (meter, OBIS) repeats, one document per run, so every reading
is delivered. ``k461`` makes one load profile per meter (numeric readings
only: a profile has no place for octet strings or booleans).

:func:`renderable` keeps one poison reading (one the COSEM mapping or the XML
encoder raises on: a meter time past year 9999, a unit code beyond a byte) from
taking a whole build down: when the documents of all readings cannot be made,
it tries each reading alone and sets aside those that fail, with the reason.
The cost (one trial encoding per reading) is paid only by a build that failed.
"""

from __future__ import annotations

from typing import Literal, Sequence

from smgwd.cosem import xml_josef, xml_k461
from smgwd.meters.cosem_map import load_profile, logical_devices
from smgwd.reading import Reading

__all__ = ["SetAside", "documents", "renderable"]

#: A reading that cannot be rendered, and why (one line).
SetAside = tuple[Reading, str]


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


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


def renderable(readings: Sequence[Reading], shape: Literal["josef", "k461"]) -> tuple[list[bytes], list[SetAside]]:
    """The documents of the readings that can be rendered, and the readings set aside with the reason."""
    try:
        return documents(readings, shape), []
    except Exception:  # noqa: BLE001 - find the reading(s) at fault below
        pass
    good: list[Reading] = []
    poison: list[SetAside] = []
    for reading in readings:
        try:
            documents([reading], shape)
        except Exception as error:  # noqa: BLE001 - any failure of THIS reading sets it aside
            poison.append((reading, _reason(error)))
        else:
            good.append(reading)
    return documents(good, shape), poison
