"""What one delivery message holds: readings -> COSEM/XML documents in an EMP's shape.

How this works: readings are cut into groups, one document each. ``josef``
documents are jOSEF logical devices, which hold one value per meter and OBIS
code; readings are cut, in gateway-time order, into runs where no (meter,
OBIS) repeats, so every reading is delivered. ``k461`` makes one load profile
per meter (numeric readings only: a profile has no place for octet strings or
booleans), and another one for that meter when a (gateway time, OBIS) cell
repeats, since a profile has one cell per row and column.

:func:`renderable` yields the documents one at a time, so a build holds one
document in flight (its caller seals it and lets it go) instead of all of them.
It keeps one poison reading (one the COSEM mapping or the XML encoder raises
on: a meter time past year 9999, a unit code beyond a byte) from taking a
build down: when a group's document cannot be made, it tries each reading of
that group alone, sets aside those that fail, with the reason, and yields the
document of the rest. The cost (one trial encoding per reading) is paid only by
a group that failed.
"""

from __future__ import annotations

from typing import Iterator, Literal, Sequence

from smgwd.cosem import xml_josef, xml_k461
from smgwd.meters.cosem_map import load_profile, logical_devices
from smgwd.reading import Reading

__all__ = ["SetAside", "Shape", "groups", "renderable"]

#: A reading that cannot be rendered, and why (one line).
SetAside = tuple[Reading, str]
Shape = Literal["josef", "k461"]


def groups(readings: Sequence[Reading], shape: Shape) -> list[list[Reading]]:
    """The readings of each document, oldest first (see the module comment)."""
    if shape == "k461":
        profiles: list[list[Reading]] = []
        current: dict[str, tuple[list[Reading], set[tuple[object, str]]]] = {}
        for reading in readings:
            if isinstance(reading.raw, (bool, bytes)):
                continue
            cell = (reading.gateway_time, str(reading.obis))
            profile = current.get(reading.meter_id)
            if profile is None or cell in profile[1]:
                profile = current[reading.meter_id] = ([], set())
                profiles.append(profile[0])
            profile[0].append(reading)
            profile[1].add(cell)
        return profiles
    runs: list[list[Reading]] = []
    seen: set[tuple[str, str]] = set()
    for reading in readings:
        key = (reading.meter_id, str(reading.obis))
        if not runs or key in seen:
            runs.append([])
            seen.clear()
        seen.add(key)
        runs[-1].append(reading)
    return runs


def _document(group: Sequence[Reading], shape: Shape) -> bytes:
    if shape == "k461":
        return xml_k461.encode(load_profile(group), group[0].meter_id)
    return xml_josef.encode(logical_devices(group))


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


def renderable(readings: Sequence[Reading], shape: Shape,
               set_aside: list[SetAside]) -> Iterator[tuple[bytes, Sequence[Reading]]]:
    """The documents of the readings that can be rendered, one by one, each with the readings it holds;
    the others go to ``set_aside``."""
    for group in groups(readings, shape):
        try:
            document = _document(group, shape)
        except Exception:  # noqa: BLE001 - find the reading(s) at fault below
            group = [reading for reading in group if _renders(reading, shape, set_aside)]
            if not group:
                continue
            document = _document(group, shape)
        yield document, group


def _renders(reading: Reading, shape: Shape, set_aside: list[SetAside]) -> bool:
    """Whether ``reading`` renders alone; if not, it goes to ``set_aside`` with the reason."""
    try:
        _document([reading], shape)
    except Exception as error:  # noqa: BLE001 - any failure of THIS reading sets it aside
        set_aside.append((reading, _reason(error)))
        return False
    return True
