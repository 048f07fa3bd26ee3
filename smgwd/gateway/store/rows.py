"""A :class:`Reading` as one row of the ``readings`` table, and back, losslessly.

How this works: integers that fit int64 are stored as INTEGER, larger ones
(unsigned 64-bit counters and status words occur) as their TEXT decimal;
``raw_kind`` (0 integer, 1 boolean, 2 octet string) tells a boolean's 0/1
from an integer, so each value reads back as the same Python type. Times are
integer microseconds since 1970 UTC; a naive ``datetime`` is taken as UTC.
Quirks are a JSON array (NULL when there are none).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from smgwd.cosem.obis import Obis
from smgwd.reading import MeterTime, MeterTimeKind, RawValue, Reading, TimeQuality

__all__ = [
    "READING_COLUMNS", "decode_reading", "encode_reading", "from_us", "now_us", "to_us",
]

#: The columns :func:`encode_reading` fills, in order (``id`` is left to SQLite).
READING_COLUMNS = (
    "meter_id", "obis", "raw_kind", "raw", "scaler", "unit", "status",
    "meter_time_kind", "meter_time", "meter_time_offset", "gateway_time", "time_quality",
    "quirks", "wire_raw_kind", "wire_raw",
)

RAW_INT, RAW_BOOL, RAW_OCTETS = 0, 1, 2
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)

Row = tuple[Any, ...]


def now_us() -> int:
    """The current time in microseconds since 1970 UTC."""
    return time.time_ns() // 1000


def to_us(moment: datetime) -> int:
    """Microseconds since 1970 UTC (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    """The UTC datetime of ``to_us``."""
    return _EPOCH + timedelta(microseconds=us)


def _int_out(value: int) -> int | str:
    return value if _INT64_MIN <= value <= _INT64_MAX else str(value)


def _int_in(value: int | str) -> int:
    return value if isinstance(value, int) else int(value)


def _raw_out(raw: RawValue) -> tuple[int, int | str | bytes]:
    if isinstance(raw, bool):
        return RAW_BOOL, int(raw)
    if isinstance(raw, int):
        return RAW_INT, _int_out(raw)
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return RAW_OCTETS, bytes(raw)
    raise TypeError(f"a raw value is an int, bool or bytes, got {type(raw).__name__}")


def _raw_in(kind: int, value: int | str | bytes) -> RawValue:
    if kind == RAW_OCTETS:
        assert isinstance(value, bytes)
        return value
    assert not isinstance(value, bytes)
    number = _int_in(value)
    return bool(number) if kind == RAW_BOOL else number


def encode_reading(reading: Reading) -> Row:
    """The row of ``reading`` in :data:`READING_COLUMNS` order; TypeError for a malformed one."""
    raw_kind, raw = _raw_out(reading.raw)
    wire_kind, wire = (None, None) if reading.wire_raw is None else _raw_out(reading.wire_raw)
    meter_time = reading.meter_time
    gateway_time = reading.gateway_time
    return (
        reading.meter_id,
        str(reading.obis),
        raw_kind,
        raw,
        reading.scaler,
        reading.unit,
        None if reading.status is None else _int_out(reading.status),
        None if meter_time is None else meter_time.kind._value_,  # _value_: the value without a descriptor call
        None if meter_time is None else _int_out(meter_time.value),
        None if meter_time is None else meter_time.offset_minutes,
        None if gateway_time is None else to_us(gateway_time),
        None if reading.time_quality is None else reading.time_quality._value_,
        json.dumps(list(reading.quirks)) if reading.quirks else None,
        wire_kind,
        wire,
    )


@lru_cache(maxsize=4096)
def _obis(text: str) -> Obis:
    return Obis.parse(text)


def decode_reading(row: Row) -> Reading:
    """The :class:`Reading` of a row selected in :data:`READING_COLUMNS` order."""
    (meter_id, obis, raw_kind, raw, scaler, unit, status, mt_kind, mt_value, mt_offset,
     gateway_time, quality, quirks, wire_kind, wire) = row
    return Reading(
        meter_id=meter_id,
        obis=_obis(obis),
        raw=_raw_in(raw_kind, raw),
        scaler=scaler,
        unit=unit,
        status=None if status is None else _int_in(status),
        meter_time=None if mt_kind is None else MeterTime(MeterTimeKind(mt_kind), _int_in(mt_value), mt_offset),
        gateway_time=None if gateway_time is None else from_us(gateway_time),
        time_quality=None if quality is None else TimeQuality(quality),
        quirks=tuple(json.loads(quirks)) if quirks else (),
        wire_raw=None if wire_kind is None else _raw_in(wire_kind, wire),
    )
