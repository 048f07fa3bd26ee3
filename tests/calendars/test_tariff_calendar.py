"""Tariff calendars (TAF2): key paths of config errors, day kinds and holidays, zones and switches across DST
days and seasons, and properties of switches against zone_at."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.calendars.holidays import easter_sunday
from smgwd.calendars.periods import local_instant
from smgwd.calendars.tariff import MAX_ZONES, CalendarError, TariffCalendar, parse_calendar, time_zone

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
WHERE = "tariffs.t"
HT, NT = 0, 1
WORKDAY = ["00:00 NT", "06:00 HT", "22:00 NT"]


def base(**changes: Any) -> dict[str, Any]:
    """A valid calendar table (HT, NT; one season, workday only) with top-level ``changes``."""
    table: dict[str, Any] = {"zones": ["HT", "NT"], "seasons": [{"from": "01-01", "workday": list(WORKDAY)}]}
    table.update(changes)
    return table


def season(**changes: Any) -> dict[str, Any]:
    """The valid calendar with its one season's keys changed (a value None removes the key)."""
    table = base()
    table["seasons"][0].update(changes)
    table["seasons"][0] = {k: v for k, v in table["seasons"][0].items() if v is not None}
    return table


def calendar(table: dict[str, Any], zone: ZoneInfo = BERLIN) -> TariffCalendar:
    return parse_calendar("t", table, WHERE, zone)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- config errors name their key path --------------------------------------------------------------

ERRORS: list[tuple[str, Any, str, str]] = [
    # (id, table, key path, a word of the problem)
    ("not a table", ["zones"], WHERE, "table"),
    ("unknown top key", base(colour="red"), f"{WHERE}.colour", "unknown key"),
    ("unknown top keys: the first by name", base(zz=1, aa=2), f"{WHERE}.aa", "unknown key"),
    ("zones missing", {"seasons": base()["seasons"]}, f"{WHERE}.zones", "distinct zone names"),
    ("zones a string", base(zones="HT NT"), f"{WHERE}.zones", "distinct zone names"),
    ("zones empty", base(zones=[]), f"{WHERE}.zones", "distinct zone names"),
    ("zones too many", base(zones=[f"Z{n}" for n in range(MAX_ZONES + 1)]), f"{WHERE}.zones", "1..62"),
    ("zone name with a space", base(zones=["H T", "NT"]), f"{WHERE}.zones", "without spaces"),
    ("zone name too long", base(zones=["H" * 33, "NT"]), f"{WHERE}.zones", "distinct zone names"),
    ("zone name not text", base(zones=[1, "NT"]), f"{WHERE}.zones", "distinct zone names"),
    ("zone names repeated", base(zones=["HT", "HT"]), f"{WHERE}.zones", "distinct"),
    ("seasons missing", {"zones": ["HT", "NT"]}, f"{WHERE}.seasons", "at least one"),
    ("seasons empty", base(seasons=[]), f"{WHERE}.seasons", "at least one"),
    ("seasons a table", base(seasons={"from": "01-01", "workday": WORKDAY}), f"{WHERE}.seasons", "seasons"),
    ("season not a table", base(seasons=[{"workday": WORKDAY}, "summer"]), f"{WHERE}.seasons[1]", "table"),
    ("unknown day kind", season(weekend=["00:00 NT"]), f"{WHERE}.seasons[0].weekend", "unknown key"),
    ("holidays inside a season", season(holidays=["2026-06-04"]), f"{WHERE}.seasons[0].holidays", "unknown key"),
    ("season from month 13", season(**{"from": "13-01"}), f"{WHERE}.seasons[0].from", '"MM-DD"'),
    ("season from 02-30", season(**{"from": "02-30"}), f"{WHERE}.seasons[0].from", '"MM-DD"'),
    ("season from one digit", season(**{"from": "4-01"}), f"{WHERE}.seasons[0].from", '"MM-DD"'),
    ("season from slashes", season(**{"from": "04/01"}), f"{WHERE}.seasons[0].from", '"MM-DD"'),
    ("season from a number", season(**{"from": 401}), f"{WHERE}.seasons[0].from", '"MM-DD"'),
    ("workday missing", season(workday=None, sunday=["00:00 NT"]), f"{WHERE}.seasons[0].workday", "missing"),
    ("program a string", season(workday="00:00 NT"), f"{WHERE}.seasons[0].workday", "list of switch times"),
    ("program empty", season(saturday=[]), f"{WHERE}.seasons[0].saturday", "list of switch times"),
    ("hour one digit", season(workday=["00:00 NT", "6:00 HT"]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("hour 24", season(workday=["00:00 NT", "24:00 HT"]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("minute 60", season(workday=["00:00 NT", "06:60 HT"]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("no zone", season(workday=["00:00 NT", "06:00"]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("two zones", season(workday=["00:00 NT", "06:00 HT NT"]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("switch not text", season(workday=["00:00 NT", 360]), f"{WHERE}.seasons[0].workday[1]", '"HH:MM ZONE"'),
    ("unknown zone", season(sunday=["00:00 NT", "10:00 XT"]), f"{WHERE}.seasons[0].sunday[1]", "'XT'"),
    ("times repeated", season(workday=["00:00 NT", "06:00 HT", "06:00 NT"]), f"{WHERE}.seasons[0].workday[2]",
     "not later"),
    ("times falling", season(holiday=["00:00 NT", "22:00 HT", "06:00 NT"]), f"{WHERE}.seasons[0].holiday[2]",
     "not later"),
    ("not from midnight", season(workday=["06:00 HT", "22:00 NT"]), f"{WHERE}.seasons[0].workday[0]", "00:00"),
    ("from a minute past", season(saturday=["00:01 NT"]), f"{WHERE}.seasons[0].saturday[0]", "00:00"),
    ("the second season's path", base(seasons=[{"workday": WORKDAY}, {"from": "04-01", "workday": WORKDAY,
                                                                      "saturday": ["00:00 NT", "7:00 HT"]}]),
     f"{WHERE}.seasons[1].saturday[1]", '"HH:MM ZONE"'),
    ("two seasons on one day", base(seasons=[{"workday": WORKDAY}, {"from": "01-01", "workday": WORKDAY}]),
     f"{WHERE}.seasons", "same day"),
    ("holidays a string", base(holidays="2026-06-04"), f"{WHERE}.holidays", '"YYYY-MM-DD"'),
    ("holiday 02-30", base(holidays=["2026-06-04", "2026-02-30"]), f"{WHERE}.holidays[1]", '"YYYY-MM-DD"'),
    ("holiday a number", base(holidays=[20260604]), f"{WHERE}.holidays[0]", '"YYYY-MM-DD"'),
    ("holiday text", base(holidays=["Fronleichnam"]), f"{WHERE}.holidays[0]", "'Fronleichnam'"),
]


@pytest.mark.parametrize(("table", "where", "problem"), [case[1:] for case in ERRORS], ids=[c[0] for c in ERRORS])
def test_a_config_error_names_its_key_path(table: Any, where: str, problem: str) -> None:
    with pytest.raises(CalendarError) as caught:
        calendar(table)
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert str(caught.value) == f"{where}: {caught.value.problem}"
    assert isinstance(caught.value, ValueError)


def test_the_limits_that_still_parse() -> None:
    many = calendar(base(zones=[f"Z{n}" for n in range(MAX_ZONES)], seasons=[{"workday": ["00:00 Z61"]}]))
    assert len(many.zones) == MAX_ZONES and many.zone_at(utc(2026, 1, 5)) == 61
    assert calendar(season(**{"from": "02-29"})).seasons[0].start == (2, 29)
    assert calendar(season(workday=[" 00:00   NT ", "23:59 HT"])).seasons[0].programs["workday"] == ((0, 1), (1439, 0))
    assert calendar(season(**{"from": None})).seasons[0].start == (1, 1)  # from defaults to 01-01


def test_time_zone_names_an_unknown_zone() -> None:
    assert time_zone("Europe/Berlin") == BERLIN
    for name in ("Europe/Nowhere", "Berlin", "", "../etc/passwd", "Europe/Berlin "):
        with pytest.raises(ValueError) as caught:
            time_zone(name)
        assert not isinstance(caught.value, CalendarError)
        assert f"unknown time zone {name!r}" in str(caught.value)


# --- day kinds, fallbacks and holidays --------------------------------------------------------------

FULL = season(saturday=["00:00 NT", "08:00 HT"], sunday=["00:00 NT", "10:00 HT"], holiday=["00:00 NT", "12:00 HT"])


@pytest.mark.parametrize(("day", "kind"), [
    (date(2026, 3, 23), "workday"),  # Monday
    (date(2026, 3, 27), "workday"),  # Friday
    (date(2026, 3, 28), "saturday"),
    (date(2026, 3, 29), "sunday"),
    (date(2026, 4, 3), "holiday"),  # Karfreitag
    (date(2026, 4, 5), "sunday"),  # Easter Sunday is no nationwide holiday, a Sunday anyway
    (date(2026, 4, 6), "holiday"),  # Ostermontag
    (date(2026, 5, 14), "holiday"),  # Christi Himmelfahrt
    (date(2026, 5, 25), "holiday"),  # Pfingstmontag
    (date(2026, 6, 4), "workday"),  # Fronleichnam: a state holiday, not listed here
    (date(2026, 10, 3), "holiday"),  # a Saturday, still a holiday
    (date(2026, 10, 31), "saturday"),  # Reformationstag: not nationwide
    (date(2026, 11, 18), "workday"),  # Buß- und Bettag: Saxony only
    (date(2026, 12, 24), "workday"),
    (date(2026, 12, 26), "holiday"),
    (date(2027, 1, 1), "holiday"),
])
def test_day_kinds(day: date, kind: str) -> None:
    cal = calendar(FULL)
    assert cal.day_kind(day) == kind
    assert cal.program(day) == cal.seasons[0].programs[kind]


def test_listed_holidays_are_holidays_on_top_of_the_national_ones() -> None:
    cal = calendar({**FULL, "holidays": ["2026-06-04", "2026-10-31"]})
    assert cal.day_kind(date(2026, 6, 4)) == "holiday"
    assert cal.day_kind(date(2026, 10, 31)) == "holiday"
    assert cal.day_kind(date(2027, 5, 27)) == "workday"  # a listed date is one day, not every year's
    assert cal.day_kind(date(2026, 4, 6)) == "holiday"
    # 10:00 HT on Sundays, 12:00 HT on holidays
    assert cal.zone_at(local_instant(date(2026, 6, 4), time(11), BERLIN)) == NT
    assert cal.zone_at(local_instant(date(2026, 6, 4), time(12), BERLIN)) == HT


@pytest.mark.parametrize("easter", [date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2027, 3, 28),
                                    date(2038, 4, 25)])
def test_the_easter_holidays_of_published_years(easter: date) -> None:
    assert easter_sunday(easter.year) == easter
    cal = calendar(FULL)
    for offset, kind in ((-3, "workday"), (-2, "holiday"), (-1, "saturday"), (0, "sunday"), (1, "holiday"),
                         (2, "workday"), (39, "holiday"), (49, "sunday"), (50, "holiday")):
        assert cal.day_kind(easter + timedelta(days=offset)) == kind, offset


@pytest.mark.parametrize(("given_kinds", "expected"), [
    ({}, {"saturday": "workday", "sunday": "workday", "holiday": "workday"}),
    ({"saturday"}, {"saturday": "saturday", "sunday": "saturday", "holiday": "saturday"}),
    ({"sunday"}, {"saturday": "workday", "sunday": "sunday", "holiday": "sunday"}),
    ({"holiday"}, {"saturday": "workday", "sunday": "workday", "holiday": "holiday"}),
    ({"saturday", "holiday"}, {"saturday": "saturday", "sunday": "saturday", "holiday": "holiday"}),
])
def test_a_missing_program_takes_saturday_workday_sunday_saturday_holiday_sunday(
        given_kinds: set[str], expected: dict[str, str]) -> None:
    own = {kind: program for kind, program in FULL["seasons"][0].items() if kind in given_kinds}
    programs = calendar(season(**own)).seasons[0].programs
    reference = calendar(FULL).seasons[0].programs
    for kind, source in expected.items():
        assert programs[kind] == reference[source], kind


# --- zone_at and switches -----------------------------------------------------------------------------

DST = season(sunday=["00:00 NT", "02:30 HT", "04:00 NT"])  # 02:30 does not exist on 2026-03-29


def test_a_switch_in_the_spring_gap_takes_effect_at_the_jump() -> None:
    cal = calendar(DST)
    begin, end = utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)  # the Sunday, 23 hours
    assert cal.switches(begin, end) == [(begin, NT), (utc(2026, 3, 29, 1, 0), HT), (utc(2026, 3, 29, 2, 0), NT)]
    assert cal.zone_at(utc(2026, 3, 29, 0, 59, 59)) == NT
    assert cal.zone_at(utc(2026, 3, 29, 1, 0)) == HT
    assert cal.zone_at(utc(2026, 3, 29, 1, 59, 59)) == HT
    assert cal.zone_at(utc(2026, 3, 29, 2, 0)) == NT


def test_a_switch_in_the_repeated_hour_takes_effect_the_first_time() -> None:
    cal = calendar(DST)
    begin, end = utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0)  # the Sunday, 25 hours
    assert cal.switches(begin, end) == [(begin, NT), (utc(2026, 10, 25, 0, 30), HT), (utc(2026, 10, 25, 3, 0), NT)]
    second_pass = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)  # 01:10 UTC: the first 02:30 has passed
    assert cal.zone_at(second_pass) == HT
    assert cal.zone_at(datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=0)) == NT


def test_switches_a_gap_merges_take_the_later_zone() -> None:
    cal = calendar(base(zones=["A", "B", "C"], seasons=[{"workday": ["00:00 A"],
                                                         "sunday": ["00:00 A", "02:15 B", "02:45 C", "05:00 A"]}]))
    jump = utc(2026, 3, 29, 1, 0)
    begin, end = utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)
    assert cal.switches(begin, end) == [(begin, 0), (jump, 2), (utc(2026, 3, 29, 3, 0), 0)]
    assert cal.zone_at(jump) == 2
    back = calendar(base(zones=["A", "B"], seasons=[{"workday": ["00:00 A"],
                                                     "sunday": ["00:00 A", "02:15 B", "02:45 A", "05:00 B"]}]))
    assert back.switches(begin, end) == [(begin, 0), (utc(2026, 3, 29, 3, 0), 1)]  # B for no instant at all
    assert back.zone_at(jump) == 0


def test_switches_across_season_starts_and_the_new_year() -> None:
    cal = calendar(base(seasons=[{"from": "10-01", "workday": ["00:00 HT"]},  # listed out of order
                                 {"from": "04-01", "workday": WORKDAY}]))
    assert [s.start for s in cal.seasons] == [(4, 1), (10, 1)]
    for day, start in ((date(2026, 1, 15), (10, 1)), (date(2026, 3, 31), (10, 1)), (date(2026, 4, 1), (4, 1)),
                       (date(2026, 9, 30), (4, 1)), (date(2026, 10, 1), (10, 1)), (date(2026, 12, 31), (10, 1))):
        assert cal.season(day).start == start, day
    # Tue 03-31 HT all day (winter), Wed 04-01 from midnight CEST the summer program
    assert cal.switches(utc(2026, 3, 30, 22, 0), utc(2026, 4, 2, 22, 0)) == [
        (utc(2026, 3, 30, 22, 0), HT), (utc(2026, 3, 31, 22, 0), NT), (utc(2026, 4, 1, 4, 0), HT),
        (utc(2026, 4, 1, 20, 0), NT), (utc(2026, 4, 2, 4, 0), HT), (utc(2026, 4, 2, 20, 0), NT)]
    # Wed 09-30 ends NT at 22:00, Thu 10-01 is HT from midnight
    assert cal.switches(utc(2026, 9, 30, 12, 0), utc(2026, 10, 1, 12, 0)) == [
        (utc(2026, 9, 30, 12, 0), HT), (utc(2026, 9, 30, 20, 0), NT), (utc(2026, 9, 30, 22, 0), HT)]


def test_switches_range_is_begin_inclusive_and_end_exclusive() -> None:
    cal = calendar(base())
    six, ten = utc(2026, 1, 5, 5, 0), utc(2026, 1, 5, 21, 0)  # Monday 06:00 and 22:00 CET
    assert cal.switches(six, ten) == [(six, HT)]
    assert cal.switches(six, ten + timedelta(microseconds=1)) == [(six, HT), (ten, NT)]
    assert cal.switches(six - timedelta(microseconds=1), ten) == [(six - timedelta(microseconds=1), NT), (six, HT)]
    assert cal.zone_at(six - timedelta(microseconds=1)) == NT and cal.zone_at(six) == HT


# --- properties --------------------------------------------------------------------------------------

ZONES = (BERLIN, ZoneInfo("Australia/Sydney"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC"))
DST_DAYS = (date(2026, 3, 29), date(2026, 10, 25), date(2026, 4, 5), date(2026, 10, 4))  # Berlin, Australia
minutes = st.one_of(st.integers(1, 1439), st.integers(100, 200))  # often in the small hours DST moves


@st.composite
def programs(draw: st.DrawFn, zones: list[str]) -> list[str]:
    times = sorted({0} | draw(st.sets(minutes, max_size=5)))
    return [f"{m // 60:02d}:{m % 60:02d} {draw(st.sampled_from(zones))}" for m in times]


@st.composite
def calendars(draw: st.DrawFn) -> TariffCalendar:
    zones = [f"Z{n}" for n in range(draw(st.integers(1, 3)))]
    starts = draw(st.sets(st.dates(date(2024, 1, 1), date(2024, 12, 31)), min_size=1, max_size=3))
    seasons = []
    for start in starts:
        table: dict[str, Any] = {"from": start.strftime("%m-%d"), "workday": draw(programs(zones))}
        for kind in ("saturday", "sunday", "holiday"):
            if draw(st.booleans()):
                table[kind] = draw(programs(zones))
        seasons.append(table)
    extra = draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=3))
    table = {"zones": zones, "seasons": seasons, "holidays": [d.isoformat() for d in extra]}
    return parse_calendar("random", copy.deepcopy(table), WHERE, draw(st.sampled_from(ZONES)))


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime]:
    if draw(st.booleans()):
        begin = datetime.combine(draw(st.sampled_from(DST_DAYS)), time(0), UTC) \
            + draw(st.timedeltas(timedelta(hours=-36), timedelta(hours=12)))
    else:
        begin = draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)))
    return begin, begin + draw(st.timedeltas(timedelta(0), timedelta(days=4)))


def last_before(switches: list[tuple[datetime, int]], moment: datetime) -> int:
    return [zone for at, zone in switches if at <= moment][-1]


def wall_clock_zone(cal: TariffCalendar, moment: datetime) -> int:
    """The zone by the local wall clock: the last switch time of the local day not after it (valid off fold)."""
    local = moment.astimezone(cal.zone)
    minute = local.hour * 60 + local.minute
    return [index for at, index in cal.program(local.date()) if at <= minute][-1]


@settings(max_examples=150)
@given(calendars(), ranges(), st.lists(st.floats(0, 1, exclude_max=True), max_size=10))
def test_switches_are_the_changes_of_zone_at(
        cal: TariffCalendar, span: tuple[datetime, datetime], fractions: list[float]) -> None:
    begin, end = span
    found = cal.switches(begin, end)
    assert found[0] == (begin, cal.zone_at(begin))
    for (earlier, before), (later, after) in zip(found, found[1:]):
        assert earlier < later < end
        assert before != after
    # zone_at only changes at a day program's switch instants: checking at each of them (and just before)
    # proves the switches give zone_at everywhere in [begin, end)
    candidates = []
    day = begin.astimezone(cal.zone).date() - timedelta(days=1)
    while day <= end.astimezone(cal.zone).date():
        candidates += [local_instant(day, time(m // 60, m % 60), cal.zone) for m, _ in cal.program(day)]
        day += timedelta(days=1)
    assert {at for at, _ in found[1:]} <= set(candidates)
    probes = [c for c in candidates if begin <= c < end]
    probes += [c - timedelta(microseconds=1) for c in probes if c > begin]
    probes += [begin + (end - begin) * f for f in fractions]
    for moment in probes:
        assert cal.zone_at(moment) == last_before(found, moment), moment
        if moment.astimezone(cal.zone).fold == 0:
            assert cal.zone_at(moment) == wall_clock_zone(cal, moment), moment
