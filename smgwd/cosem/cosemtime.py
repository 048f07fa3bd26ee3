"""COSEM date-time octets (12 bytes) to and from aware ``datetime``.

How this works: the layout is year (2 bytes, big-endian), month, day of month,
day of week (1 = Monday), hour, minute, second, hundredths, deviation (int16,
minutes) and clock status. 0xFF (0xFFFF for year) means "not specified",
deviation 0x8000 means "not specified". The deviation is UTC minus local time:
-60 means local time is UTC+01:00 (shared/reference/dlms.md §3).

:func:`datetime_to_cosem` writes the canonical UTC form (deviation 0, the
given clock status, 0x00 unless told); :func:`cosem_to_datetime` reads any fully
specified value and returns it in UTC, :func:`clock_status` its status byte.
Values with unspecified fields have no single instant and are refused.

Clock status bits (Blue Book, class Clock): 0x01 invalid value, 0x02 doubtful
value, 0x04 different clock base, 0x08 invalid clock status, 0x80 daylight
saving active; 0xFF is "not specified".
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

from smgwd.cosem.errors import CosemError

__all__ = [
    "CLOCK_DOUBTFUL", "CLOCK_INVALID", "UNSPECIFIED_DATE_TIME", "clock_status", "cosem_to_datetime",
    "datetime_to_cosem",
]

_LAYOUT = struct.Struct(">HBBBBBBBhB")
_DEVIATION_UNSPECIFIED = -0x8000

#: Clock status bit: the time could not be recovered and is not to be trusted.
CLOCK_INVALID = 0x01
#: Clock status bit: the time may be off (it could be recovered but is not guaranteed).
CLOCK_DOUBTFUL = 0x02

#: A date-time with every field "not specified".
UNSPECIFIED_DATE_TIME = _LAYOUT.pack(0xFFFF, *[0xFF] * 7, _DEVIATION_UNSPECIFIED, 0xFF)


def datetime_to_cosem(moment: datetime, status: int = 0x00) -> bytes:
    """The 12 octets of an aware ``datetime`` in UTC, to the hundredth of a second, with clock ``status``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CosemError(f"date-time needs an aware datetime, got naive {moment!r}")
    if type(status) is not int or not 0 <= status <= 0xFF:
        raise CosemError(f"a clock status is one octet, got {status!r}")
    utc = moment.astimezone(timezone.utc)
    return _LAYOUT.pack(utc.year, utc.month, utc.day, utc.isoweekday(), utc.hour,
                        utc.minute, utc.second, utc.microsecond // 10_000, 0, status)


def clock_status(octets: bytes) -> int:
    """The clock status octet of a COSEM date-time (0xFF: not specified)."""
    if len(octets) != _LAYOUT.size:
        raise CosemError(f"a COSEM date-time is 12 octets, got {len(octets)}")
    return octets[-1]


def cosem_to_datetime(octets: bytes) -> datetime:
    """The UTC instant of a fully specified COSEM date-time (hundredths 0xFF read as 0)."""
    if len(octets) != _LAYOUT.size:
        raise CosemError(f"a COSEM date-time is 12 octets, got {len(octets)}")
    (year, month, day, _weekday, hour, minute, second, hundredths,
     deviation, _status) = _LAYOUT.unpack(octets)
    if 0xFFFF == year or 0xFF in (month, day, hour, minute, second):
        raise CosemError(f"date-time {octets.hex()} has unspecified fields")
    if deviation == _DEVIATION_UNSPECIFIED:
        raise CosemError(f"date-time {octets.hex()} has no deviation from UTC")
    if not -720 <= deviation <= 720:
        raise CosemError(f"date-time {octets.hex()}: deviation {deviation} is outside -720..720")
    if hundredths == 0xFF:
        hundredths = 0
    try:
        local = datetime(year, month, day, hour, minute, second, hundredths * 10_000,
                         tzinfo=timezone(timedelta(minutes=-deviation)))
        return local.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise CosemError(f"date-time {octets.hex()}: {exc}") from None
