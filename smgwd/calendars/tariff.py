"""A time-of-use tariff calendar (TAF2): which tariff zone holds at each instant.

How this works: a calendar names its zones (tariff register 1, 2, ... in
order) and one or more seasons, each from a day of the year (``"MM-DD"``) to
the next season's start, wrapping over New Year. A season has a day program
per day kind: ``workday`` (Monday to Friday), ``saturday``, ``sunday`` and
``holiday`` (the nationwide German holidays plus ``holidays`` the calendar
adds, e.g. a state's), each a list of local switch times ``"HH:MM ZONE"`` that
starts at ``00:00``. A missing program takes another's: saturday the
workday's, sunday the saturday's, holiday the sunday's. Switch times are local
wall-clock times in the calendar's time zone (:func:`~smgwd.calendars.periods.local_instant`
resolves those a DST switch skips or repeats). :meth:`TariffCalendar.switches`
lists the instants where the zone changes.

:func:`parse_calendar` checks a TOML table and names the key path of every
problem (:class:`CalendarError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smgwd.calendars.holidays import GermanHolidays
from smgwd.calendars.periods import local_instant

__all__ = ["CalendarError", "DAY_KINDS", "MAX_ZONES", "Season", "TariffCalendar", "parse_calendar", "time_zone"]

DAY_KINDS = ("workday", "saturday", "sunday", "holiday")
_WEEKDAYS = ("workday",) * 5 + ("saturday", "sunday")
_FALLBACK = {"saturday": "workday", "sunday": "saturday", "holiday": "sunday"}
#: tariff registers 1..62 (OBIS value group E); 63 is the error register
MAX_ZONES = 62
_SWITCH = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\s+(\S+)")
_MONTH_DAY = re.compile(r"(\d\d)-(\d\d)")

#: a day program: (minute of the local day, zone index), from minute 0, times rising
Program = tuple[tuple[int, int], ...]


class CalendarError(ValueError):
    """A tariff calendar that cannot be used: ``where`` is the key path, ``problem`` what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class Season:
    """From ``start`` (month, day) to the next season's start: a program per day kind."""

    start: tuple[int, int]
    programs: Mapping[str, Program]


@dataclass(frozen=True)
class TariffCalendar:
    """Zones, seasons and holidays in one time zone (see the module comment)."""

    name: str
    zones: tuple[str, ...]
    seasons: tuple[Season, ...]  # by start
    holidays: GermanHolidays
    zone: ZoneInfo

    def day_kind(self, day: date) -> str:
        if day in self.holidays:
            return "holiday"
        return _WEEKDAYS[day.weekday()]

    def season(self, day: date) -> Season:
        key = (day.month, day.day)
        current = self.seasons[-1]  # before the first start of the year: the last season, wrapped
        for season in self.seasons:
            if season.start <= key:
                current = season
        return current

    def program(self, day: date) -> Program:
        """The switch times of a local day."""
        return self.season(day).programs[self.day_kind(day)]

    def zone_at(self, moment: datetime) -> int:
        """The zone index that holds at ``moment``."""
        day = moment.astimezone(self.zone).date()
        zone = self.program(day - timedelta(days=1))[-1][1]
        for at, index in self._day(day):
            if at <= moment:
                zone = index
        return zone

    def _day(self, day: date) -> list[tuple[datetime, int]]:
        return [(local_instant(day, time(minute // 60, minute % 60), self.zone), index)
                for minute, index in self.program(day)]

    def switches(self, begin: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """``(begin, zone there)``, then every instant in (begin, end) where the zone changes, with the new zone."""
        result = [(begin, self.zone_at(begin))]
        day = begin.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for at, index in self._day(day):
                if begin < at < end:
                    if result[-1][0] == at:
                        result.pop()  # two switch times a DST gap merged: the later one holds
                    if result[-1][1] != index:
                        result.append((at, index))
            day += timedelta(days=1)
        return result


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when the system has no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin): {error}") \
            from None


def _program(where: str, value: Any, zones: tuple[str, ...]) -> Program:
    if not isinstance(value, list) or not value:
        raise CalendarError(where, 'expected a list of switch times such as ["00:00 NT", "06:00 HT"]')
    program: list[tuple[int, int]] = []
    for number, item in enumerate(value):
        match = _SWITCH.fullmatch(item.strip()) if isinstance(item, str) else None
        if match is None:
            raise CalendarError(f"{where}[{number}]", f'expected "HH:MM ZONE", got {item!r}')
        minute = int(match[1]) * 60 + int(match[2])
        if match[3] not in zones:
            raise CalendarError(f"{where}[{number}]", f"zone {match[3]!r} is not one of {', '.join(zones)}")
        if program and minute <= program[-1][0]:
            raise CalendarError(f"{where}[{number}]", f"{item!r} is not later than the switch before it")
        if not program and minute != 0:
            raise CalendarError(f"{where}[0]", f"a day program starts at 00:00, got {item!r}")
        program.append((minute, zones.index(match[3])))
    return tuple(program)


def _season(where: str, table: Any, zones: tuple[str, ...]) -> Season:
    if not isinstance(table, dict):
        raise CalendarError(where, "expected a table with from and the day programs")
    unknown = sorted(set(table) - {"from", *DAY_KINDS})
    if unknown:
        raise CalendarError(f"{where}.{unknown[0]}", f"unknown key (expected from, {', '.join(DAY_KINDS)})")
    start = table.get("from", "01-01")
    match = _MONTH_DAY.fullmatch(start) if isinstance(start, str) else None
    try:
        date(2000, int(match[1]), int(match[2])) if match else None
    except ValueError:
        match = None
    if match is None:
        raise CalendarError(f"{where}.from", f'expected a day of the year "MM-DD", got {start!r}')
    if "workday" not in table:
        raise CalendarError(f"{where}.workday", "missing: every season needs at least the workday program")
    programs: dict[str, Program] = {}
    for kind in DAY_KINDS:
        if kind in table:
            programs[kind] = _program(f"{where}.{kind}", table[kind], zones)
        else:
            programs[kind] = programs[_FALLBACK[kind]]
    return Season((int(match[1]), int(match[2])), programs)


def parse_calendar(name: str, table: Any, where: str, zone: ZoneInfo) -> TariffCalendar:
    """The calendar ``name`` from its TOML table (found at key path ``where``); CalendarError otherwise."""
    if not isinstance(table, dict):
        raise CalendarError(where, "expected a table with zones and seasons")
    unknown = sorted(set(table) - {"zones", "seasons", "holidays"})
    if unknown:
        raise CalendarError(f"{where}.{unknown[0]}", "unknown key (expected zones, seasons, holidays)")
    zones = table.get("zones")
    if (not isinstance(zones, list) or not 1 <= len(zones) <= MAX_ZONES
            or not all(isinstance(z, str) and re.fullmatch(r"\S{1,32}", z) for z in zones)
            or len(set(zones)) != len(zones)):
        raise CalendarError(f"{where}.zones", f"expected a list of 1..{MAX_ZONES} distinct zone names without spaces")
    seasons_table = table.get("seasons")
    if not isinstance(seasons_table, list) or not seasons_table:
        raise CalendarError(f"{where}.seasons", "expected [[...seasons]] tables, at least one")
    seasons = [_season(f"{where}.seasons[{n}]", s, tuple(zones)) for n, s in enumerate(seasons_table)]
    starts = [s.start for s in seasons]
    if len(set(starts)) != len(starts):
        raise CalendarError(f"{where}.seasons", "two seasons start on the same day")
    extra: list[date] = []
    holidays = table.get("holidays", [])
    if not isinstance(holidays, list):
        raise CalendarError(f"{where}.holidays", 'expected a list of dates "YYYY-MM-DD"')
    for number, text in enumerate(holidays):
        try:
            extra.append(date.fromisoformat(text))
        except (TypeError, ValueError):
            raise CalendarError(f"{where}.holidays[{number}]", f'expected a date "YYYY-MM-DD", got {text!r}') from None
    return TariffCalendar(name, tuple(zones), tuple(sorted(seasons, key=lambda s: s.start)),
                          GermanHolidays(extra), zone)

