"""Readings onto the COSEM model: one logical device per meter.

How this works: the latest reading of each OBIS code becomes one COSEM object
of its meter's logical device. A reading the gateway stamped (every stored
one) is an Extended Register (class 4), whatever its value: raw value, scaler
and unit as the meter sent them (unit 255 "count" when it sent none), its
status the meter's status word (null-data when it sent none), and its capture
time the gateway's time with the time quality in the clock status
(:mod:`smgwd.meters.value_status`). The meter's own time is not a capture
time: under TR-03109 the gateway's clock stamps the values.

A reading without a gateway time (a capture decoded offline) keeps what the
meter gave: a number with unit or scaler is a Register, or an Extended
Register when the meter also sent a status word or a real date; anything else
is a Data object (class 1). A meter time the gateway flagged as implausible
(quirk :data:`IMPLAUSIBLE_METER_TIME`, see :mod:`smgwd.gateway.plausibility`)
is never sent as a capture time.

Values keep the meter's raw integer in the smallest DLMS integer type that
holds it. A load profile (:func:`load_profile`, the K461 shape) places each
reading at its gateway time, its status the FNN combined status word.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from smgwd.cosem.classes import (
    CaptureObject,
    CosemObject,
    Data,
    ExtendedRegister,
    LogicalDevice,
    ProfileGeneric,
    Register,
    to_structure,
)
from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME, datetime_to_cosem
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.obis import Obis
from smgwd.meters.value_status import clock_status_of, fnn_status
from smgwd.reading import Reading

__all__ = ["IMPLAUSIBLE_METER_TIME", "cosem_object", "load_profile", "logical_devices"]

UNIT_NONE = 255  # DLMS "count" / no unit
#: The quirk of a reading whose meter time is not to be trusted as a capture time.
IMPLAUSIBLE_METER_TIME = "implausible_meter_time"
LOAD_PROFILE = Obis(1, 0, 99, 1, 0)  # load profile 1


def _value(raw: int | bytes | bool) -> DlmsValue:
    if isinstance(raw, bool):
        return DlmsValue(DataType.BOOLEAN, raw)
    if isinstance(raw, int):
        return DlmsValue.for_int(raw)
    return DlmsValue(DataType.OCTET_STRING, bytes(raw))


def _meter_datetime(reading: Reading) -> datetime | None:
    """The meter's date of ``reading`` as a capture time: None for none, a seconds index, or a flagged one."""
    if reading.meter_time is None or IMPLAUSIBLE_METER_TIME in reading.quirks:
        return None
    return reading.meter_time.as_datetime()


def _extended_register(reading: Reading, capture_time: bytes, status: DlmsValue | None = None) -> ExtendedRegister:
    if status is None:
        status = NULL if reading.status is None else DlmsValue.for_int(reading.status, signed_hint=False)
    unit = UNIT_NONE if reading.unit is None else reading.unit
    return ExtendedRegister(reading.obis, _value(reading.raw), reading.scaler, unit, status, capture_time)


def cosem_object(reading: Reading) -> CosemObject:
    """The COSEM object that holds one reading."""
    if reading.gateway_time is not None:
        stamped = datetime_to_cosem(reading.gateway_time, clock_status_of(reading.time_quality))
        return _extended_register(reading, stamped)
    raw = reading.raw
    value = _value(raw)
    numeric = isinstance(raw, int) and not isinstance(raw, bool)
    if not numeric or (reading.unit is None and not reading.scaler):
        return Data(reading.obis, value)
    captured = _meter_datetime(reading)
    if reading.status is None and captured is None:
        unit = UNIT_NONE if reading.unit is None else reading.unit
        return Register(reading.obis, value, reading.scaler, unit)
    return _extended_register(reading, UNSPECIFIED_DATE_TIME if captured is None else datetime_to_cosem(captured))


def logical_devices(readings: Iterable[Reading]) -> list[LogicalDevice]:
    """One logical device per meter id, holding the latest reading of each OBIS code."""
    latest: dict[str, dict[Obis, Reading]] = {}
    for reading in readings:
        latest.setdefault(reading.meter_id, {})[reading.obis] = reading
    return [
        LogicalDevice(meter, tuple(cosem_object(r) for r in by_obis.values()))
        for meter, by_obis in latest.items()
    ]


def _capture_time(reading: Reading) -> datetime | None:
    return reading.gateway_time or _meter_datetime(reading)


def load_profile(
    readings: Iterable[Reading], logical_name: Obis = LOAD_PROFILE, capture_period: int = 900
) -> ProfileGeneric:
    """A Profile Generic of one meter's numeric readings: a row per capture time.

    The capture time is the gateway's time (with its quality as clock status),
    for a reading decoded offline the meter's date; a reading with neither has
    no place in a profile and raises ValueError. Columns are Extended Registers
    in order of first appearance, each cell's status the FNN combined status
    word (:func:`~smgwd.meters.value_status.fnn_status`: CosemError for a meter
    status beyond 32 bits); a row without a value for a column holds null-data.
    """
    rows: dict[datetime, dict[Obis, Reading]] = {}
    columns: dict[Obis, None] = {}
    for reading in readings:
        if isinstance(reading.raw, (bool, bytes)):
            continue
        when = _capture_time(reading)
        if when is None:
            raise ValueError(f"{reading.obis}: no date to place it in a load profile (only a seconds index)")
        rows.setdefault(when, {})[reading.obis] = reading
        columns.setdefault(reading.obis)
    buffer = []
    for when in sorted(rows):
        cells = []
        for obis in columns:
            cell = rows[when].get(obis)
            if cell is None:
                cells.append(NULL)
                continue
            status = DlmsValue(DataType.LONG64_UNSIGNED, fnn_status(cell.status, cell.time_quality, cell.quirks))
            captured = datetime_to_cosem(when, clock_status_of(cell.time_quality))
            cells.append(to_structure(_extended_register(cell, captured, status)))
        buffer.append(tuple(cells))
    return ProfileGeneric(
        logical_name,
        tuple(buffer),
        tuple(CaptureObject(4, obis, 0, 0) for obis in columns),
        capture_period,
        entries_in_use=len(buffer),
        profile_entries=len(buffer),
    )
