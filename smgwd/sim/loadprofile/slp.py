"""BDEW standard load profiles (1999 VDEW tables) as power over time.

How this works: the shipped table gives, per profile kind, season and day type,
96 quarter-hour average powers in W per 1000 kWh/a of German LOCAL time. A day's
kW are the table's typical day times a scale, and for dynamised H0 times the
BDEW factor F(t) of the day of the year. The scale is annual_kwh / 10**6 (W ->
kW, per 1000 kWh/a -> per annual_kwh) with ``normalise=False``, the BDEW
arithmetic, whose years sum to 0.2-1.6 % more or less than annual_kwh because
calendars differ. By default (``normalise=True``) the scale is chosen per local
calendar year so that the year's quarter hours sum to exactly annual_kwh, as a
simulated meter configured for 3500 kWh/a should; the shape is unchanged.

Local time matters on DST days: a local day is walked in UTC quarter hours, so
30 March 2025 has 92 (local 02:00-03:00 does not exist; its table values are
skipped) and 26 October 2025 has 100 (local 02:00-03:00 happens twice and
repeats the table's 02:00-03:00 values). ``_day_slots`` holds that mapping once
per date, shared by all profiles. ``power_at`` keeps the current local day (UTC
start, end, per-slot kW), so a call within that day costs one ``timestamp()``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo

from smgwd.sim.loadprofile.calendar import NATIONAL_HOLIDAYS, DayType, Season, day_type, season

__all__ = [
    "BERLIN",
    "KINDS",
    "QUARTER_HOURS",
    "SeriesRow",
    "StandardLoadProfile",
    "dynamisation_factor",
    "local_days",
    "local_year_bounds",
    "series",
    "table",
]

BERLIN: Final = ZoneInfo("Europe/Berlin")
QUARTER_HOURS: Final = 96
QH_SECONDS: Final = 900
KINDS: Final = ("h0", "g0", "g1", "g2", "g3", "g4", "g5", "g6", "l0", "l1", "l2")
_CET: Final = timezone(timedelta(hours=1))  # German standard time, for dst=False
_DATA_FILE: Final = "bdew_vdew1999.csv"

SeriesRow = tuple[datetime, float, float]
"""(start of the quarter hour in UTC, average kW, kWh)."""

_DayKey = tuple[Season, DayType]
_Table = dict[_DayKey, tuple[float, ...]]


@lru_cache(maxsize=1)
def _load_tables() -> dict[str, _Table]:
    text = resources.files(__package__).joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    values: dict[str, dict[_DayKey, list[float]]] = {kind: {} for kind in KINDS}
    for row in rows:
        key = (row["season"], row["day_type"])
        for kind in KINDS:
            values[kind].setdefault(key, []).append(float(row[kind]))  # type: ignore[arg-type]
    tables = {kind: {key: tuple(day) for key, day in days.items()} for kind, days in values.items()}
    for kind, days in tables.items():
        if len(days) != 9 or any(len(day) != QUARTER_HOURS for day in days.values()):
            raise RuntimeError(f"{_DATA_FILE}: profile {kind} is not 9 typical days of 96 values")
    return tables


def table(kind: str) -> _Table:
    """The typical days of one profile kind: (season, day type) -> 96 values in W per 1000 kWh/a."""
    try:
        return _load_tables()[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown load profile kind {kind!r} (one of {', '.join(KINDS)})") from None


@lru_cache(maxsize=366)
def dynamisation_factor(day_of_year: int) -> float:
    """The BDEW H0 dynamisation factor F(t), t = day of the year (1 = 1 January).

    F(t) = -3.92e-10 t^4 + 3.2e-7 t^3 - 7.02e-5 t^2 + 2.1e-3 t + 1.24, rounded to
    four decimals as BDEW recommends. Evaluated exactly (integer arithmetic in
    units of 1e-12) and rounded half up, the commercial rule of spreadsheet
    ROUND: F is an exact tie at t = 50, 150, 250 (1.20705, 0.85705, 0.84625),
    where float evaluation would round either way by accident. The dynamised
    values themselves are not rounded (BDEW rounds them to three decimals of
    kWh per 1 GWh/a; at one meter's scale that would only add quantisation).
    """
    t = day_of_year
    exact = (((-392 * t + 320_000) * t - 70_200_000) * t + 2_100_000_000) * t + 1_240_000_000_000
    tenthousandths, rest = divmod(exact, 100_000_000)
    if 2 * rest >= 100_000_000:
        tenthousandths += 1
    return tenthousandths / 10_000


@dataclass(frozen=True, slots=True)
class _DaySlots:
    """One local day in UTC: start and end (Unix seconds) and the table index of each UTC slot."""

    start: float
    end: float
    table_index: tuple[int, ...]


_IDENTITY: Final = tuple(range(QUARTER_HOURS))


@lru_cache(maxsize=800)
def _day_slots(day: date, dst: bool) -> _DaySlots:
    zone = BERLIN if dst else _CET
    start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
    count = round((end - start) / QH_SECONDS)
    if count == QUARTER_HOURS:
        return _DaySlots(start, end, _IDENTITY)
    indices = []
    for slot in range(count):  # a DST day: read the wall clock of every UTC slot
        wall = datetime.fromtimestamp(start + slot * QH_SECONDS, zone)
        indices.append(wall.hour * 4 + wall.minute // 15)
    return _DaySlots(start, end, tuple(indices))


def local_days(year: int) -> Iterator[date]:
    """Every date of a year, in order."""
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def local_year_bounds(year: int) -> tuple[datetime, datetime]:
    """UTC start and end of a German local calendar year (1 Jan 00:00 to 1 Jan 00:00 local)."""
    return (
        datetime(year, 1, 1, tzinfo=BERLIN).astimezone(timezone.utc),
        datetime(year + 1, 1, 1, tzinfo=BERLIN).astimezone(timezone.utc),
    )


class StandardLoadProfile:
    """One BDEW profile kind scaled to an annual consumption.

    ``kind`` is h0, g0..g6 or l0..l2 (any case); ``dynamic`` applies the H0
    dynamisation (H0 only); ``holidays`` is any container of dates counted as
    Sundays (default: the nationwide German holidays; see
    :class:`~smgwd.sim.loadprofile.calendar.GermanHolidays` to add state ones);
    ``normalise`` makes every local calendar year sum to ``annual_kwh`` (see the
    module comment; False gives BDEW's plain value x annual_kwh / 1000).
    """

    def __init__(
        self,
        kind: str,
        annual_kwh: float,
        dynamic: bool = False,
        holidays: Container[date] = NATIONAL_HOLIDAYS,
        normalise: bool = True,
    ) -> None:
        self.kind = kind.lower()
        self._table = table(self.kind)
        if not annual_kwh >= 0:  # also rejects NaN
            raise ValueError(f"annual_kwh must be >= 0, not {annual_kwh!r}")
        if dynamic and self.kind != "h0":
            raise ValueError(f"dynamisation applies to h0 only, not {self.kind}")
        self.annual_kwh = float(annual_kwh)
        self.dynamic = dynamic
        self.holidays = holidays
        self.normalise = normalise
        self._scales: dict[tuple[int, bool], float] = {}
        self._static_days: dict[tuple[_DayKey, float], tuple[float, ...]] = {}
        self._day = _DaySlots(0.0, 0.0, ())  # power_at's current local day ...
        self._day_kw: tuple[float, ...] = ()  # ... and its kW per UTC slot

    def __repr__(self) -> str:
        return (
            f"StandardLoadProfile({self.kind!r}, annual_kwh={self.annual_kwh!r}, "
            f"dynamic={self.dynamic!r}, normalise={self.normalise!r})"
        )

    def day_powers(self, local_date: date) -> tuple[float, ...]:
        """The 96 table quarter hours of a local date in kW (index 0 = 00:00-00:15 local)."""
        return self._powers(local_date, True)

    def power_kw(self, local_date: date, quarter_index: int) -> float:
        """Average kW of one table quarter hour (0..95) of a local date."""
        if not 0 <= quarter_index < QUARTER_HOURS:
            raise ValueError(f"quarter_index must be 0..95, not {quarter_index}")
        return self.day_powers(local_date)[quarter_index]

    def power_at(self, instant_utc: datetime) -> float:
        """Average kW of the local quarter hour containing an aware instant (cheap within a day)."""
        if instant_utc.tzinfo is None:
            raise ValueError(f"instant must be timezone-aware, got naive {instant_utc.isoformat()}")
        ts = instant_utc.timestamp()
        day = self._day
        if not day.start <= ts < day.end:
            local_date = datetime.fromtimestamp(ts, BERLIN).date()
            day = _day_slots(local_date, True)
            powers = self.day_powers(local_date)
            self._day_kw = tuple(powers[index] for index in day.table_index)
            self._day = day
        return self._day_kw[int((ts - day.start) // QH_SECONDS)]

    def series(self, year: int, dst: bool = True) -> Iterator[SeriesRow]:
        """Every quarter hour of a local calendar year in UTC order: (start UTC, kW, kWh).

        With ``dst=False`` every day has the table's 96 quarter hours and local time
        is CET (UTC+1) all year, the convention of demandlib and of the reference
        sums in the project notes.
        """
        for local_date in local_days(year):
            day = _day_slots(local_date, dst)
            powers = self._powers(local_date, dst)
            for slot, index in enumerate(day.table_index):
                kw = powers[index]
                start = datetime.fromtimestamp(day.start + slot * QH_SECONDS, timezone.utc)
                yield start, kw, kw * 0.25

    def _key(self, local_date: date) -> _DayKey:
        return season(local_date), day_type(local_date, self.holidays)

    def _factor(self, local_date: date) -> float:
        return dynamisation_factor(local_date.timetuple().tm_yday) if self.dynamic else 1.0

    def _powers(self, local_date: date, dst: bool) -> tuple[float, ...]:
        key = self._key(local_date)
        scale = self._scale(local_date.year, dst)
        if self.dynamic:
            scale *= self._factor(local_date)
            return tuple(w * scale for w in self._table[key])
        powers = self._static_days.get((key, scale))
        if powers is None:
            powers = self._static_days[(key, scale)] = tuple(w * scale for w in self._table[key])
        return powers

    def _scale(self, year: int, dst: bool) -> float:
        """kW per table unit in a local year."""
        if not self.normalise:
            return self.annual_kwh / 1e6
        scale = self._scales.get((year, dst))
        if scale is None:
            table_energy = 0.0  # the year's table units x hours
            for local_date in local_days(year):
                day = self._table[self._key(local_date)]
                indices = _day_slots(local_date, dst).table_index
                day_sum = sum(day) if indices is _IDENTITY else sum(day[i] for i in indices)
                table_energy += day_sum * self._factor(local_date) * 0.25
            scale = self._scales[(year, dst)] = self.annual_kwh / table_energy
        return scale


def series(
    kind: str,
    year: int,
    annual_kwh: float,
    dynamic: bool = False,
    *,
    dst: bool = True,
    holidays: Container[date] = NATIONAL_HOLIDAYS,
    normalise: bool = True,
) -> Iterator[SeriesRow]:
    """The quarter-hour series of one profile for a year; see :meth:`StandardLoadProfile.series`."""
    return StandardLoadProfile(kind, annual_kwh, dynamic, holidays, normalise).series(year, dst=dst)
