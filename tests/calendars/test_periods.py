"""Local periods as UTC instants: DST days, skipped and repeated wall times, week/month/year starts, properties."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from smgwd.calendars.periods import PERIODS, Period, local_instant, next_start, period_start, starts

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # DST moves the clock by 30 minutes
ADELAIDE = ZoneInfo("Australia/Adelaide")  # +09:30/+10:30: local hours are not UTC hours
ZONES = (ZoneInfo("UTC"), BERLIN, ZoneInfo("Australia/Sydney"), ADELAIDE, LORD_HOWE)
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)  # Berlin's DST days in 2026 (both Sundays)
#: how far a starts() range reaches per period, so a list stays a few hundred long
SPANS: dict[Period, timedelta] = {"quarter_hour": timedelta(days=3), "hour": timedelta(days=10),
                                  "day": timedelta(days=120), "week": timedelta(days=730),
                                  "month": timedelta(days=3650), "year": timedelta(days=36500)}
CASES = [(zone, period) for zone in ZONES for period in PERIODS]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall time of ``moment`` in ``zone``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def day_starts(day: date, period: Period, zone: ZoneInfo = BERLIN) -> list[datetime]:
    """The starts of the ``period``s inside local ``day``."""
    begin = local_instant(day, time(0), zone)
    return list(starts(begin, next_start(begin, "day", zone), period, zone))


@lru_cache(maxsize=None)
def transition_days(zone: ZoneInfo, year: int) -> tuple[date, ...]:
    """The local days of ``year`` on which ``zone``'s offset changes."""
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        noon = datetime.combine(day, time(12), zone)
        if noon.utcoffset() != (noon - timedelta(days=1)).astimezone(zone).utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


# --- DST days, skipped and repeated wall times ------------------------------------------------------

@pytest.mark.parametrize(("day", "quarters", "hours"), [(SPRING, 92, 23), (AUTUMN, 100, 25),
                                                        (date(2026, 6, 15), 96, 24)])
def test_a_berlin_day_has_92_96_or_100_quarter_hours(day: date, quarters: int, hours: int) -> None:
    assert len(day_starts(day, "quarter_hour")) == quarters
    assert len(day_starts(day, "hour")) == hours
    begin = local_instant(day, time(0), BERLIN)
    assert next_start(begin, "day", BERLIN) - begin == timedelta(hours=hours)


def test_the_quarter_hours_of_the_spring_day_skip_two_oclock() -> None:
    walls = [wall(q, BERLIN).time() for q in day_starts(SPRING, "quarter_hour")]
    assert time(1, 45) in walls and time(3, 0) in walls
    assert not any(time(2) <= w < time(3) for w in walls)
    assert walls[walls.index(time(1, 45)) + 1] == time(3, 0)


def test_the_quarter_hours_of_the_autumn_day_show_two_oclock_twice() -> None:
    quarters = day_starts(AUTUMN, "quarter_hour")
    walls = [wall(q, BERLIN).time() for q in quarters]
    for minute in (0, 15, 30, 45):
        assert walls.count(time(2, minute)) == 2
    assert len(set(quarters)) == 100
    assert quarters[walls.index(time(2, 0))] == utc(2026, 10, 25, 0, 0)  # summer time, +02:00
    assert quarters[len(walls) - 1 - walls[::-1].index(time(2, 0))] == utc(2026, 10, 25, 1, 0)  # +01:00


@pytest.mark.parametrize(("day", "at", "expected"), [
    (SPRING, time(2, 30), utc(2026, 3, 29, 1, 0)),  # skipped: the jump, 03:00 CEST
    (SPRING, time(2, 0), utc(2026, 3, 29, 1, 0)),
    (SPRING, time(2, 59), utc(2026, 3, 29, 1, 0)),
    (SPRING, time(1, 59), utc(2026, 3, 29, 0, 59)),
    (SPRING, time(3, 0), utc(2026, 3, 29, 1, 0)),
    (AUTUMN, time(2, 30), utc(2026, 10, 25, 0, 30)),  # repeated: the first, 02:30 CEST
    (AUTUMN, time(2, 0), utc(2026, 10, 25, 0, 0)),
    (AUTUMN, time(3, 0), utc(2026, 10, 25, 2, 0)),
    (date(2026, 6, 15), time(0), utc(2026, 6, 14, 22, 0)),
    (date(2026, 1, 15), time(23, 45), utc(2026, 1, 15, 22, 45)),
])
def test_local_instant_in_berlin(day: date, at: time, expected: datetime) -> None:
    found = local_instant(day, at, BERLIN)
    assert found == expected
    assert found.tzinfo is UTC


def test_a_skipped_wall_time_on_lord_howe_takes_the_half_hour_jump() -> None:
    # 2026-10-04 02:00 LHST (+10:30) the clock jumps to 02:30 LHDT (+11:00), 15:30 UTC the day before
    jump = utc(2026, 10, 3, 15, 30)
    assert local_instant(date(2026, 10, 4), time(2, 15), LORD_HOWE) == jump
    assert local_instant(date(2026, 10, 4), time(2, 30), LORD_HOWE) == jump
    assert local_instant(date(2026, 10, 4), time(1, 59), LORD_HOWE) == utc(2026, 10, 3, 15, 29)


@pytest.mark.parametrize(("fold", "minute", "quarter", "hour"), [
    (0, 10, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 0)),
    (0, 50, utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 0, 0)),
    (1, 10, utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 0)),
    (1, 50, utc(2026, 10, 25, 1, 45), utc(2026, 10, 25, 1, 0)),
])
def test_period_start_in_the_repeated_hour_follows_the_instant_not_the_wall_clock(
        fold: int, minute: int, quarter: datetime, hour: datetime) -> None:
    moment = datetime(2026, 10, 25, 2, minute, 17, tzinfo=BERLIN, fold=fold)
    for given_as in (moment, moment.astimezone(UTC)):
        assert period_start(given_as, "quarter_hour", BERLIN) == quarter
        assert period_start(given_as, "hour", BERLIN) == hour
    assert next_start(quarter, "quarter_hour", BERLIN) == quarter + timedelta(minutes=15)


# --- days, weeks, months, years --------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "period", "start", "following"), [
    # Sunday 2026-03-29 23:30 CEST: its week began Monday 03-23 00:00 CET; the next Monday is CEST
    (utc(2026, 3, 29, 21, 30), "week", utc(2026, 3, 22, 23, 0), utc(2026, 3, 29, 22, 0)),
    (utc(2026, 3, 22, 23, 0), "week", utc(2026, 3, 22, 23, 0), utc(2026, 3, 29, 22, 0)),  # a start is its own
    (utc(2026, 3, 22, 22, 59, 59), "week", utc(2026, 3, 15, 23, 0), utc(2026, 3, 22, 23, 0)),
    (utc(2026, 3, 29, 12, 0), "day", utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)),
    # 2026-10-31 23:30 UTC is 2026-11-01 00:30 CET
    (utc(2026, 10, 31, 23, 30), "month", utc(2026, 10, 31, 23, 0), utc(2026, 11, 30, 23, 0)),
    (utc(2026, 10, 31, 22, 30), "month", utc(2026, 9, 30, 22, 0), utc(2026, 10, 31, 23, 0)),
    (utc(2028, 2, 15), "month", utc(2028, 1, 31, 23, 0), utc(2028, 2, 29, 23, 0)),  # a leap February
    (utc(2026, 12, 20), "month", utc(2026, 11, 30, 23, 0), utc(2026, 12, 31, 23, 0)),
    (utc(2026, 12, 31, 23, 30), "year", utc(2026, 12, 31, 23, 0), utc(2027, 12, 31, 23, 0)),
    (utc(2026, 12, 31, 22, 59), "year", utc(2025, 12, 31, 23, 0), utc(2026, 12, 31, 23, 0)),
])
def test_days_weeks_months_and_years_start_at_local_midnight(
        moment: datetime, period: Period, start: datetime, following: datetime) -> None:
    found = period_start(moment, period, BERLIN)
    assert found == start and found.tzinfo is UTC
    assert next_start(found, period, BERLIN) == following


def test_a_southern_week_across_the_april_switch_is_an_hour_longer() -> None:
    sydney = ZoneInfo("Australia/Sydney")  # 2026-04-05 03:00 AEDT back to 02:00 AEST
    start = period_start(utc(2026, 4, 4), "week", sydney)
    assert wall(start, sydney) == datetime(2026, 3, 30)  # Monday
    assert next_start(start, "week", sydney) - start == timedelta(days=7, hours=1)


def test_starts_begins_with_the_period_holding_begin_and_excludes_end() -> None:
    begin, end = utc(2026, 1, 1, 10, 7), utc(2026, 1, 1, 11, 0)  # 11:07 to 12:00 CET
    assert list(starts(begin, end, "quarter_hour", BERLIN)) == [
        utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 10, 45)]
    assert list(starts(end, end, "hour", BERLIN)) == []
    assert list(starts(begin, begin, "hour", BERLIN)) == [utc(2026, 1, 1, 10, 0)]  # it holds begin


def test_hours_on_lord_howe_across_the_half_hour_switch() -> None:
    """The hour that holds a 30-minute offset change is cut at the change; the next is on the grid again."""
    # 2026-04-05 02:00 LHDT (+11:00) back to 01:30 LHST (+10:30), at 15:00 UTC the day before
    start = period_start(utc(2026, 4, 4, 15, 0), "hour", LORD_HOWE)
    assert start == utc(2026, 4, 4, 15, 0)  # 01:30 LHST, not 01:00 LHST (14:30 UTC, still in LHDT's hour)
    assert period_start(start, "hour", LORD_HOWE) == start
    assert period_start(utc(2026, 4, 4, 14, 59), "hour", LORD_HOWE) == utc(2026, 4, 4, 14, 0)  # 01:00 LHDT
    assert list(starts(utc(2026, 4, 4, 14, 0), utc(2026, 4, 4, 17, 0), "hour", LORD_HOWE)) == [
        utc(2026, 4, 4, 14, 0), utc(2026, 4, 4, 15, 0), utc(2026, 4, 4, 15, 30), utc(2026, 4, 4, 16, 30)]


# --- properties --------------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC))


@st.composite
def near_switches(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    """An instant, often within a day of one of ``zone``'s offset changes."""
    days = transition_days(zone, draw(st.integers(2000, 2100)))
    if not days or draw(st.booleans()):
        return draw(moments)
    midnight = local_instant(draw(st.sampled_from(days)), time(0), zone)
    return midnight + draw(st.timedeltas(timedelta(0), timedelta(days=1)))


@st.composite
def case_and_moment(draw: st.DrawFn) -> tuple[ZoneInfo, Period, datetime]:
    zone, period = draw(st.sampled_from(CASES))
    return zone, period, draw(near_switches(zone))


@settings(max_examples=200)
@given(case_and_moment())
def test_the_period_holding_a_moment(case: tuple[ZoneInfo, Period, datetime]) -> None:
    """period_start(m) <= m < next_start(period_start(m)); a start is its own start and sits on the local grid."""
    zone, period, moment = case
    start = period_start(moment, period, zone)
    following = next_start(start, period, zone)
    assert start <= moment < following
    assert start.utcoffset() == timedelta(0) and following.utcoffset() == timedelta(0)
    assert period_start(start, period, zone) == start
    assert period_start(following, period, zone) == following
    local = start.astimezone(zone)
    if period == "quarter_hour":
        assert following - start == timedelta(minutes=15)
        assert (local.minute % 15, local.second, local.microsecond) == (0, 0, 0)
    elif period == "hour":
        assert following - start == timedelta(hours=1)
        assert (local.minute, local.second, local.microsecond) == (0, 0, 0)
    else:
        assert local.time() == time(0)  # none of these zones skips midnight
        if period == "day":
            assert local.date() == moment.astimezone(zone).date()
            assert abs(following - start - timedelta(days=1)) <= timedelta(hours=1)
        if period == "week":
            assert local.weekday() == 0
        if period in ("month", "year"):
            assert local.day == 1
        if period == "year":
            assert local.month == 1


@st.composite
def ranges(draw: st.DrawFn) -> tuple[ZoneInfo, Period, datetime, datetime]:
    zone, period = draw(st.sampled_from(CASES))
    begin = draw(near_switches(zone))
    return zone, period, begin, begin + draw(st.timedeltas(timedelta(0), SPANS[period]))


@settings(max_examples=150)
@given(ranges())
def test_starts_are_contiguous_from_the_period_holding_begin_to_before_end(
        case: tuple[ZoneInfo, Period, datetime, datetime]) -> None:
    zone, period, begin, end = case
    found = list(starts(begin, end, period, zone))
    first = period_start(begin, period, zone)  # <= begin <= end
    assert found[:1] == ([first] if first < end else [])
    assert all(start < end for start in found)
    for previous, current in zip(found, found[1:]):
        assert previous < current == next_start(previous, period, zone)
    if found:
        assert next_start(found[-1], period, zone) >= end


@st.composite
def wall_times(draw: st.DrawFn) -> tuple[ZoneInfo, date, time]:
    """A zone and a local wall time, often on a day (and at an hour) the zone's offset changes."""
    zone = draw(st.sampled_from(ZONES))
    days = transition_days(zone, draw(st.integers(2000, 2100)))
    if days and draw(st.integers(0, 3)) > 0:
        day = draw(st.sampled_from(days))
        at = time(draw(st.integers(1, 3)), draw(st.integers(0, 59)), draw(st.sampled_from([0, 0, 1, 59])))
    else:
        day = draw(st.dates(date(2000, 1, 1), date(2100, 12, 31)))
        at = draw(st.times())
    return zone, day, at


@settings(max_examples=200)
@given(wall_times())
def test_local_instant_shows_the_wall_time_first_or_is_the_jump_over_it(case: tuple[ZoneInfo, date, time]) -> None:
    zone, day, at = case
    naive = datetime.combine(day, at)
    found = local_instant(day, at, zone)
    assert found.tzinfo is UTC
    shown = {c for fold in (0, 1) if wall(c := naive.replace(tzinfo=zone, fold=fold).astimezone(UTC), zone) == naive}
    event("shown twice" if len(shown) == 2 else "shown once" if shown else "skipped")
    if shown:
        assert found == min(shown)
    else:  # skipped: the first whole second whose wall time is past it
        assert wall(found, zone) > naive > wall(found - timedelta(seconds=1), zone)
        assert found.microsecond == 0
