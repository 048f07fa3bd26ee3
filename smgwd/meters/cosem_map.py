"""Readings onto the COSEM model: one logical device per meter.

How this works: the latest reading of each OBIS code becomes one COSEM object
of its meter's logical device. A number with a unit or scaler is a Register
(class 3), or an Extended Register (class 4) when the meter also sent a status
word or a real capture date; anything else (identifiers, text, flags) is a
Data object (class 1). Values keep the meter's raw integer in the smallest
DLMS integer type that holds it, and scaler/unit as sent.
"""

from __future__ import annotations

from typing import Iterable

from smgwd.cosem.classes import CosemObject, Data, ExtendedRegister, LogicalDevice, Register
from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME, datetime_to_cosem
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.obis import Obis
from smgwd.reading import Reading

__all__ = ["cosem_object", "logical_devices"]

UNIT_NONE = 255  # DLMS "count" / no unit


def _value(raw: int | bytes | bool) -> DlmsValue:
    if isinstance(raw, bool):
        return DlmsValue(DataType.BOOLEAN, raw)
    if isinstance(raw, int):
        return DlmsValue.for_int(raw)
    return DlmsValue(DataType.OCTET_STRING, bytes(raw))


def cosem_object(reading: Reading) -> CosemObject:
    """The COSEM object that holds one reading."""
    raw = reading.raw
    value = _value(raw)
    numeric = isinstance(raw, int) and not isinstance(raw, bool)
    if not numeric or (reading.unit is None and not reading.scaler):
        return Data(reading.obis, value)
    unit = UNIT_NONE if reading.unit is None else reading.unit
    captured = reading.meter_time.as_datetime() if reading.meter_time else None
    if reading.status is None and captured is None:
        return Register(reading.obis, value, reading.scaler, unit)
    status = NULL if reading.status is None else DlmsValue.for_int(reading.status, signed_hint=False)
    capture_time = UNSPECIFIED_DATE_TIME if captured is None else datetime_to_cosem(captured)
    return ExtendedRegister(reading.obis, value, reading.scaler, unit, status, capture_time)


def logical_devices(readings: Iterable[Reading]) -> list[LogicalDevice]:
    """One logical device per meter id, holding the latest reading of each OBIS code."""
    latest: dict[str, dict[Obis, Reading]] = {}
    for reading in readings:
        latest.setdefault(reading.meter_id, {})[reading.obis] = reading
    return [
        LogicalDevice(meter, tuple(cosem_object(r) for r in by_obis.values()))
        for meter, by_obis in latest.items()
    ]
