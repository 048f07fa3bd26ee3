"""EN 13757-3 annex A date and time types G, F, I and J as plain field values.

How this works: each type is cut into its bit fields without any range check, then the fields
are checked (month 1..12, a real calendar day, hour 0..23, minute and second 0..59, year
0..99 on the wire) and the time-invalid flag is read. A value out of range, or one of the
"every ..." placeholders (month 15, hour 31, ...), is kept with ``valid=False``: the record
still decodes and nothing here raises.

Layouts (byte 0 first, as on the wire):

- G (16 bit date): day = b0 & 0x1F, month = b1 & 0x0F, year = (b0 >> 5) | ((b1 & 0xF0) >> 1).
- F (32 bit date and time): minute = b0 & 0x3F, IV (time invalid) = b0 bit 7, hour = b1 & 0x1F,
  hundred years = (b1 >> 5) & 3, SU (summer time) = b1 bit 7, then G in b2, b3.
- I (48 bit): second = b0 & 0x3F, SU = b0 bit 6, minute = b1 & 0x3F, IV = b1 bit 7,
  hour = b2 & 0x1F, day of week = b2 >> 5, then G in b3, b4, week = b5 & 0x3F.
- J (24 bit time): second = b0 & 0x3F, minute = b1 & 0x3F, hour = b2 & 0x1F.

Century: G and I count from 2000; F uses its hundred-year bits, and with those at 0 a year up
to 80 means 20xx (the compatibility rule of libmbus ``mbus_data_tm_decode``), else 19xx.
"""

from __future__ import annotations

import calendar
import datetime as _dt
from dataclasses import dataclass

__all__ = ["MbusDateTime", "decode_date_time"]


@dataclass(frozen=True, slots=True)
class MbusDateTime:
    """A decoded type G/F/I/J value: local meter time fields as sent, never a crash.

    ``year`` is the full year; ``None`` fields are not part of the type. ``valid`` is False
    when a field is out of range or the time-invalid flag is set; :meth:`to_python` then
    returns ``None``.
    """

    type: str
    data: bytes
    year: int | None
    month: int | None
    day: int | None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    summer_time: bool = False
    time_invalid: bool = False
    valid: bool = True

    def to_python(self) -> _dt.datetime | _dt.date | _dt.time | None:
        """The value as a naive ``datetime``/``date``/``time`` (meter local time), or ``None``."""
        if not self.valid:
            return None
        if self.type == "J":
            return _dt.time(self.hour or 0, self.minute or 0, self.second or 0)
        assert self.year is not None and self.month is not None and self.day is not None
        if self.type == "G":
            return _dt.date(self.year, self.month, self.day)
        return _dt.datetime(self.year, self.month, self.day, self.hour or 0, self.minute or 0, self.second or 0)

    def isoformat(self) -> str | None:
        """ISO 8601 text of :meth:`to_python` (``None`` when invalid)."""
        value = self.to_python()
        return None if value is None else value.isoformat()


def _date_ok(year_raw: int, month: int, day: int, year: int) -> bool:
    return year_raw <= 99 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _g(b0: int, b1: int) -> tuple[int, int, int]:
    return (b0 >> 5) | ((b1 & 0xF0) >> 1), b1 & 0x0F, b0 & 0x1F


def decode_date_time(data: bytes) -> MbusDateTime | None:
    """Decode ``data`` by its size: 2 bytes G, 4 F, 6 I, 3 J.

    Returns ``None`` when the size fits no type (the caller then keeps the integer).
    """
    n = len(data)
    if n == 2:
        y, month, day = _g(data[0], data[1])
        year = 2000 + y
        return MbusDateTime("G", data, year, month, day, valid=_date_ok(y, month, day, year))
    if n == 4:
        b0, b1 = data[0], data[1]
        y, month, day = _g(data[2], data[3])
        hundred = (b1 >> 5) & 0x03
        year = 2000 + y if hundred == 0 and y <= 80 else 1900 + 100 * hundred + y
        minute, hour, iv = b0 & 0x3F, b1 & 0x1F, bool(b0 & 0x80)
        ok = not iv and _date_ok(y, month, day, year) and hour <= 23 and minute <= 59
        return MbusDateTime("F", data, year, month, day, hour, minute, None, bool(b1 & 0x80), iv, ok)
    if n == 6:
        b0, b1, b2 = data[0], data[1], data[2]
        y, month, day = _g(data[3], data[4])
        year = 2000 + y
        second, minute, hour, iv = b0 & 0x3F, b1 & 0x3F, b2 & 0x1F, bool(b1 & 0x80)
        ok = not iv and _date_ok(y, month, day, year) and hour <= 23 and minute <= 59 and second <= 59
        return MbusDateTime("I", data, year, month, day, hour, minute, second, bool(b0 & 0x40), iv, ok)
    if n == 3:
        second, minute, hour = data[0] & 0x3F, data[1] & 0x3F, data[2] & 0x1F
        ok = hour <= 23 and minute <= 59 and second <= 59
        return MbusDateTime("J", data, None, None, None, hour, minute, second, valid=ok)
    return None
