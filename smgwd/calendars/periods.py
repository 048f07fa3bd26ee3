"""Periods in a local time zone: quarter hours, hours, days, weeks, months, years, as UTC instants.

How this works: a period is named by its kind; :func:`period_start` floors an
instant to the start of its period and :func:`next_start` gives the start of
the next one. Days, weeks (from Monday), months and years begin at local
midnight, so a local day is 23, 24 or 25 hours long across a DST switch
(92, 96 or 100 quarter hours). Quarter hours and hours are floored on the
local wall clock's grid at the instant's own offset; where an offset change
is not a whole number of periods (Lord Howe Island's 30 minutes, against an
hour) the period that holds the change is cut there, so periods never
overlap and the next one is back on the grid. Every instant in and out is
timezone-aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Iterator, Literal
from zoneinfo import ZoneInfo

__all__ = ["PERIODS", "Period", "local_instant", "next_start", "period_start", "starts"]

Period = Literal["quarter_hour", "hour", "day", "week", "month", "year"]
PERIODS: tuple[Period, ...] = ("quarter_hour", "hour", "day", "week", "month", "year")
_SECONDS = {"quarter_hour": 900, "hour": 3600}


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the local wall clock of ``zone`` shows ``at`` on ``day``.

    A wall time the DST switch skips takes effect when the clock jumps (the end
    of the gap); one it shows twice, the first time.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # skipped: the earliest instant whose wall time is past ``naive`` is the jump itself
    return _first(naive.replace(tzinfo=zone, fold=1).astimezone(timezone.utc), first,
                  lambda middle: middle.astimezone(zone).replace(tzinfo=None) >= naive)


def _first(low: datetime, high: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole second in (low, high] where ``reached`` holds (it holds from there on, and at high)."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if reached(middle):
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)  # within a second past the change, and changes fall on whole seconds


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return local_instant(day, time(0), zone)


def _first_day(day: date, period: Period) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


def period_start(moment: datetime, period: Period, zone: ZoneInfo) -> datetime:
    """The start of the period of kind ``period`` that holds ``moment``."""
    moment = moment.astimezone(timezone.utc)
    if period in _SECONDS:
        step = _SECONDS[period]
        offset = moment.astimezone(zone).utcoffset()
        wall = int((moment + (offset or timedelta(0))).timestamp())
        start = datetime.fromtimestamp(wall - wall % step, timezone.utc) - (offset or timedelta(0))
        if start.astimezone(zone).utcoffset() != offset:  # the offset changed within the period: cut there
            start = _first(start, moment, lambda middle: middle.astimezone(zone).utcoffset() == offset)
        return start
    return _midnight(_first_day(moment.astimezone(zone).date(), period), zone)


def next_start(start: datetime, period: Period, zone: ZoneInfo) -> datetime:
    """The start of the period after the one that begins at ``start``."""
    if period in _SECONDS:
        return period_start(start + timedelta(seconds=_SECONDS[period]), period, zone)
    day = start.astimezone(zone).date()
    if period == "day":
        following = day + timedelta(days=1)
    elif period == "week":
        following = day + timedelta(days=7)
    elif period == "month":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        following = day.replace(year=day.year + 1)
    return _midnight(following, zone)


def starts(begin: datetime, end: datetime, period: Period, zone: ZoneInfo) -> Iterator[datetime]:
    """The starts of the periods from the one holding ``begin`` up to, not including, ``end``."""
    current = period_start(begin, period, zone)
    while current < end:
        yield current
        current = next_start(current, period, zone)
