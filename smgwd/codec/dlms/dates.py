"""COSEM date-time (12 octets), date (5) and time (4) as the meters send them.

How this works: the fields are read as sent; 0xFF (0xFFFF for the year, 0x8000 for the
deviation) means "not specified", as the Blue Book defines. A value is ``valid`` when every
specified field is in its range (month 1..12 or the DST codes 0xFD/0xFE, a real calendar day
or 0xFD/0xFE last days, hour 0..23, minute and second 0..59, hundredths 0..99, deviation
-720..720 minutes). :meth:`CosemDateTime.to_datetime` gives an aware UTC datetime only when
the date, the time and the deviation are all specified and valid; else None. The deviation
is "local time minus UTC" in minutes with the sign the Blue Book gives (a meter in CET
sends -60: UTC = local + deviation).
"""

from __future__ import annotations

import calendar
import datetime as _dt
from typing import NamedTuple

__all__ = ["CosemDate", "CosemDateTime", "CosemTime", "decode_date", "decode_date_time", "decode_time"]

NOT_SPECIFIED = 0xFF
DEVIATION_NOT_SPECIFIED = -0x8000
STATUS_DST = 0x80


class CosemDateTime(NamedTuple):
    year: int | None
    month: int | None
    day: int | None
    weekday: int | None
    hour: int | None
    minute: int | None
    second: int | None
    hundredths: int | None
    deviation: int | None  # minutes; None = not specified
    status: int | None
    valid: bool
    data: bytes

    def to_datetime(self) -> _dt.datetime | None:
        """The moment in UTC, or None when not fully specified (or invalid)."""
        if not self.valid or None in (self.year, self.month, self.day, self.hour, self.minute, self.deviation):
            return None
        assert self.year is not None and self.month is not None and self.day is not None
        assert self.hour is not None and self.minute is not None and self.deviation is not None
        if self.month > 12 or self.day > 31 or not 1 <= self.year <= 9999:
            return None
        try:
            local = _dt.datetime(self.year, self.month, self.day, self.hour, self.minute, self.second or 0,
                                 (self.hundredths or 0) * 10_000)
            return (local + _dt.timedelta(minutes=self.deviation)).replace(tzinfo=_dt.timezone.utc)
        except (ValueError, OverflowError):  # beyond what a datetime holds once the deviation is applied
            return None

    def local_isoformat(self) -> str | None:
        """The meter's local date and time as ISO 8601 text (no zone), or None."""
        if not self.valid or None in (self.year, self.month, self.day, self.hour, self.minute):
            return None
        if (self.month or 0) > 12 or (self.day or 0) > 31:
            return None
        return (f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}:{self.minute:02d}"
                f":{self.second or 0:02d}")


class CosemDate(NamedTuple):
    year: int | None
    month: int | None
    day: int | None
    weekday: int | None
    valid: bool
    data: bytes


class CosemTime(NamedTuple):
    hour: int | None
    minute: int | None
    second: int | None
    hundredths: int | None
    valid: bool
    data: bytes


def _spec(value: int) -> int | None:
    return None if value == NOT_SPECIFIED else value


def _date_fields(b: bytes) -> tuple[int | None, int | None, int | None, int | None, bool]:
    year_raw = b[0] << 8 | b[1]
    year = None if year_raw == 0xFFFF else year_raw
    month, day, weekday = _spec(b[2]), _spec(b[3]), _spec(b[4])
    ok = True
    if month is not None and not (1 <= month <= 12 or month in (0xFD, 0xFE)):
        ok = False
    if weekday is not None and not 1 <= weekday <= 7:
        ok = False
    if day is not None:
        if day in (0xFD, 0xFE):
            pass
        elif not 1 <= day <= 31:
            ok = False
        elif year is not None and month is not None and 1 <= month <= 12 and day > calendar.monthrange(year, month)[1]:
            ok = False
    return year, month, day, weekday, ok


def _time_fields(b: bytes) -> tuple[int | None, int | None, int | None, int | None, bool]:
    hour, minute, second, hundredths = (_spec(x) for x in b[:4])
    ok = ((hour is None or hour <= 23) and (minute is None or minute <= 59) and (second is None or second <= 59)
          and (hundredths is None or hundredths <= 99))
    return hour, minute, second, hundredths, ok


def decode_date_time(data: bytes) -> CosemDateTime:
    """Decode 12 octets (raises ValueError for another length)."""
    if len(data) != 12:
        raise ValueError(f"a COSEM date-time has 12 octets, not {len(data)}")
    year, month, day, weekday, date_ok = _date_fields(data[:5])
    hour, minute, second, hundredths, time_ok = _time_fields(data[5:9])
    raw_dev = int.from_bytes(data[9:11], "big", signed=True)
    deviation = None if raw_dev == DEVIATION_NOT_SPECIFIED else raw_dev
    dev_ok = deviation is None or -720 <= deviation <= 720
    status = _spec(data[11])
    return CosemDateTime(year, month, day, weekday, hour, minute, second, hundredths, deviation, status,
                         date_ok and time_ok and dev_ok, bytes(data))


def decode_date(data: bytes) -> CosemDate:
    if len(data) != 5:
        raise ValueError(f"a COSEM date has 5 octets, not {len(data)}")
    return CosemDate(*_date_fields(data), bytes(data))


def decode_time(data: bytes) -> CosemTime:
    if len(data) != 4:
        raise ValueError(f"a COSEM time has 4 octets, not {len(data)}")
    return CosemTime(*_time_fields(data), bytes(data))
