"""German public holidays: the nine nationwide ones of any year, plus state holidays a caller adds.

Shared by the simulator's load profiles (holidays count as Sundays) and the
gateway's tariff calendars (a holiday has its own day program). Easter comes
from the anonymous Gregorian computus.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

__all__ = ["GermanHolidays", "NATIONAL_HOLIDAYS", "easter_sunday", "national_holidays"]


def easter_sunday(year: int) -> date:
    """Easter Sunday of a Gregorian year (the anonymous Gregorian computus)."""
    golden = year % 19
    century, year_in_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    moon_correction = (century + 8) // 25
    solar_correction = (century - moon_correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - solar_correction + 15) % 30
    leap_years, year_rest = divmod(year_in_century, 4)
    weekday_shift = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7
    late_correction = (golden + 11 * epact + 22 * weekday_shift) // 451
    month, day = divmod(epact + weekday_shift - 7 * late_correction + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def national_holidays(year: int) -> frozenset[date]:
    """The nine public holidays observed in all German states in ``year``."""
    easter = easter_sunday(year)
    return frozenset({
        date(year, 1, 1),  # Neujahr
        easter - timedelta(days=2),  # Karfreitag
        easter + timedelta(days=1),  # Ostermontag
        date(year, 5, 1),  # Tag der Arbeit
        easter + timedelta(days=39),  # Christi Himmelfahrt
        easter + timedelta(days=50),  # Pfingstmontag
        date(year, 10, 3),  # Tag der Deutschen Einheit
        date(year, 12, 25),  # 1. Weihnachtstag
        date(year, 12, 26),  # 2. Weihnachtstag
    })


class GermanHolidays:
    """Nationwide German public holidays of any year, plus extra dates (state holidays).

    Supports ``d in holidays``; that is all :func:`day_type` needs.
    """

    __slots__ = ("extra",)

    def __init__(self, extra: Iterable[date] = ()) -> None:
        self.extra: frozenset[date] = frozenset(extra)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, date):
            return False
        return item in self.extra or item in national_holidays(item.year)

    def __repr__(self) -> str:
        return f"GermanHolidays(extra={sorted(self.extra)!r})"


NATIONAL_HOLIDAYS = GermanHolidays()
