"""BDEW standard load profiles: the shipped tables, the project's reference sums, DST, scaling."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from smgwd.sim.loadprofile.calendar import GermanHolidays
from smgwd.sim.loadprofile.slp import (
    BERLIN,
    KINDS,
    StandardLoadProfile,
    dynamisation_factor,
    local_year_bounds,
    series,
    table,
)

# The shipped table (from demandlib) is quantised to 0.04 W; the published BDEW tables
# quoted below give W with one decimal (+-0.05). Both renderings agree within 0.07 W.
PUBLISHED_TOLERANCE_W = 0.07
SPOT_INDICES = (0, 12, 28, 48, 76, 95)  # 00:00, 03:00, 07:00, 12:00, 19:00, 23:45 local

# H0, W per 1000 kWh/a, at SPOT_INDICES. Source: SES-fortiss/SmartGridCoSimulation,
# core/gridarchitect/src/main/java/helper/standardLastProfil/{Winter,Sommer,Uebergang}Profile.java
# (96 values per typical day, from BDEW's VDEW tables).
H0_PUBLISHED = {
    ("winter", "workday"): (67.6, 38.8, 121.6, 125.4, 184.7, 74.9),
    ("winter", "saturday"): (70.8, 40.3, 68.9, 162.4, 213.2, 94.1),
    ("winter", "sunday"): (87.5, 42.4, 44.0, 211.8, 171.5, 73.2),
    ("summer", "workday"): (86.3, 47.5, 123.5, 151.5, 157.9, 96.5),
    ("summer", "saturday"): (89.8, 50.3, 80.0, 179.0, 177.8, 109.0),
    ("summer", "sunday"): (100.1, 51.5, 59.2, 213.7, 142.8, 91.6),
    ("transition", "workday"): (77.8, 43.0, 121.8, 142.6, 164.9, 86.6),
    ("transition", "saturday"): (80.2, 44.4, 77.5, 177.7, 196.5, 101.5),
    ("transition", "sunday"): (93.4, 45.5, 53.9, 213.5, 155.5, 80.7),
}

# G0 at SPOT_INDICES. Source: ie3-institute/PowerSystemDataModel,
# src/main/resources/load/lpts_g0.csv (columns WiWd ... TrSu, quarterHour 0..95).
G0_PUBLISHED = {
    ("winter", "workday"): (65.5, 47.9, 97.6, 233.0, 131.3, 68.2),
    ("winter", "saturday"): (70.0, 63.4, 98.0, 203.0, 96.3, 65.4),
    ("winter", "sunday"): (63.2, 43.0, 51.8, 76.0, 93.1, 58.9),
    ("summer", "workday"): (71.5, 53.1, 86.6, 205.1, 110.1, 73.8),
    ("summer", "saturday"): (74.6, 66.9, 93.3, 184.1, 79.4, 70.1),
    ("summer", "sunday"): (68.8, 49.6, 50.5, 76.0, 77.3, 63.5),
    ("transition", "workday"): (73.0, 54.1, 91.9, 216.3, 112.1, 75.7),
    ("transition", "saturday"): (75.8, 67.0, 91.0, 194.9, 84.7, 70.1),
    ("transition", "sunday"): (68.3, 45.7, 47.2, 81.9, 81.4, 63.5),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_table_has_nine_typical_days_of_96(kind: str) -> None:
    days = table(kind)
    assert sorted(days) == sorted(
        (s, d) for s in ("winter", "summer", "transition") for d in ("workday", "saturday", "sunday")
    )
    assert all(len(values) == 96 and min(values) > 0 for values in days.values())


@pytest.mark.parametrize(("kind", "published"), [("h0", H0_PUBLISHED), ("g0", G0_PUBLISHED)])
def test_tables_match_published_values(kind: str, published: dict[tuple[str, str], tuple[float, ...]]) -> None:
    days = table(kind)
    for key, values in published.items():
        ours = tuple(days[key][i] for i in SPOT_INDICES)  # type: ignore[index]
        assert ours == pytest.approx(values, abs=PUBLISHED_TOLERANCE_W), key


def test_more_published_values() -> None:
    # flrd/standardlastprofile, README.md (str(load_profiles)): H0 winter Saturday from 00:00.
    h0_winter_saturday = (70.8, 68.2, 65.9, 63.3, 59.5, 55, 50.5, 46.6, 43.9, 42.3)
    assert table("h0")[("winter", "saturday")][:10] == pytest.approx(h0_winter_saturday, abs=PUBLISHED_TOLERANCE_W)
    # flrd/standardlastprofile, dev/articles/algorithm-step-by-step.md: G5 on Friday 2023-12-22.
    g5_winter_workday = (50.1, 47.4, 44.9, 43.3, 43.0, 43.8)
    assert table("g5")[("winter", "workday")][:6] == pytest.approx(g5_winter_workday, abs=PUBLISHED_TOLERANCE_W)
    # ie3-institute/PowerSystemDataModel, src/main/resources/load/lpts_l0.csv.
    l0 = table("L0")
    assert l0[("winter", "workday")][0] == pytest.approx(72.4, abs=PUBLISHED_TOLERANCE_W)
    assert l0[("winter", "workday")][35] == pytest.approx(219.5, abs=PUBLISHED_TOLERANCE_W)
    assert l0[("summer", "sunday")][48] == pytest.approx(144.6, abs=PUBLISHED_TOLERANCE_W)
    assert l0[("transition", "saturday")][76] == pytest.approx(188.7, abs=PUBLISHED_TOLERANCE_W)


def test_row_0000_is_the_first_quarter_hour_of_the_local_day() -> None:
    profile = StandardLoadProfile("h0", 1000, normalise=False)
    saturday = datetime(2025, 1, 4, 0, 5, tzinfo=BERLIN)  # winter Saturday, 00:05 local
    assert profile.power_at(saturday) * 1000 == pytest.approx(70.84)
    assert profile.power_at(saturday - timedelta(minutes=10)) * 1000 == pytest.approx(
        table("h0")[("winter", "workday")][95]  # 23:55 on Friday
    )


# --- ops.md §4.2 reference numbers (an independent computation) --------------------------
# They use 96 quarter hours every day (no DST), 1000 kWh/a and BDEW's plain scaling:
# dst=False, normalise=False here.


def _year_kwh(year: int, dynamic: bool) -> float:
    return sum(kwh for _, _, kwh in series("h0", year, 1000, dynamic, dst=False, normalise=False))


def _static_day_kwh(day: date) -> float:
    return sum(StandardLoadProfile("h0", 1000, normalise=False).day_powers(day)) * 0.25


def _tie_days_kwh(year: int) -> float:
    """ops.md rounds F half-to-even at the exact ties t = 50, 150, 250, we half up: +1e-4 each."""
    return sum(_static_day_kwh(date(year, 1, 1) + timedelta(days=t - 1)) for t in (50, 150, 250))


def test_dynamisation_factor() -> None:
    # ops.md: F(1)=1.24203, F(182)=0.79594, min 0.7847 on day 202, max 1.2572 on day 365
    assert dynamisation_factor(1) == 1.242
    assert dynamisation_factor(182) == 0.7959
    assert dynamisation_factor(202) == 0.7847
    assert dynamisation_factor(365) == 1.2572
    assert min(dynamisation_factor(t) for t in range(1, 367)) == dynamisation_factor(202)
    # exact ties of the polynomial, rounded half up
    assert (dynamisation_factor(50), dynamisation_factor(150), dynamisation_factor(250)) == (1.2071, 0.8571, 0.8463)


@pytest.mark.parametrize(("year", "expected"), [(2025, 999.7332), (2024, 1002.3574)])
def test_static_year_reference(year: int, expected: float) -> None:
    assert _year_kwh(year, False) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("year", "expected"), [(2025, 998.8251), (2024, 1002.1146)])
def test_dynamised_year_reference(year: int, expected: float) -> None:
    assert _year_kwh(year, True) == pytest.approx(expected + 1e-4 * _tie_days_kwh(year), abs=5e-5)


def test_first_quarter_hours_of_2025_dynamised() -> None:
    profile = StandardLoadProfile("h0", 1000, dynamic=True, normalise=False)
    kwh = [kw * 0.25 for kw in profile.day_powers(date(2025, 1, 1))[:4]]
    assert kwh == pytest.approx([0.027150, 0.025188, 0.023288, 0.021449], abs=1e-6)
    static = StandardLoadProfile("h0", 1000, normalise=False).day_powers(date(2025, 1, 1))[0]
    assert static == pytest.approx(0.08744)


def test_summer_workday_total_2025() -> None:
    day = date(2025, 7, 1)
    assert _static_day_kwh(day) == pytest.approx(2.8141, abs=1e-4)
    dynamised = sum(StandardLoadProfile("h0", 1000, dynamic=True, normalise=False).day_powers(day)) * 0.25
    assert dynamised == pytest.approx(2.2397, abs=1e-4)  # ops.md prints 2.23975 as 2.2397
    assert dynamised == pytest.approx(_static_day_kwh(day) * 0.7959)


def test_dst_days_cancel_in_2025_for_the_static_profile() -> None:
    # 30 March and 26 October 2025 are both transition Sundays: the skipped and the repeated
    # hour carry the same table values, so the DST-aware year equals the reference.
    aware = sum(kwh for _, _, kwh in series("h0", 2025, 1000, dst=True, normalise=False))
    assert aware == pytest.approx(999.7332, abs=5e-5)


# --- DST, scaling, normalisation --------------------------------------------------------


@pytest.mark.parametrize(("year", "spring", "autumn", "total"), [
    (2025, date(2025, 3, 30), date(2025, 10, 26), 35040),
    (2024, date(2024, 3, 31), date(2024, 10, 27), 35136),
    (2026, date(2026, 3, 29), date(2026, 10, 25), 35040),
])
def test_series_walks_local_quarter_hours(year: int, spring: date, autumn: date, total: int) -> None:
    rows = list(series("g0", year, 1000))
    assert len(rows) == total
    start, end = local_year_bounds(year)
    assert rows[0][0] == start and rows[-1][0] == end - timedelta(minutes=15)
    assert all(b[0] - a[0] == timedelta(minutes=15) for a, b in zip(rows, rows[1:]))
    per_day = Counter(row[0].astimezone(BERLIN).date() for row in rows)
    assert per_day[spring] == 92 and per_day[autumn] == 100
    assert set(per_day.values()) == {92, 96, 100} and len(per_day) == (366 if year == 2024 else 365)


def test_dst_day_values() -> None:
    profile = StandardLoadProfile("g0", 1000)
    for day, table_indices in (
        (date(2025, 3, 30), [*range(8), *range(12, 96)]),  # 02:00-03:00 local skipped
        (date(2025, 10, 26), [*range(12), *range(8, 96)]),  # 02:00-03:00 local twice
    ):
        powers = profile.day_powers(day)
        rows = [row for row in profile.series(2025) if row[0].astimezone(BERLIN).date() == day]
        assert [kw for _, kw, _ in rows] == [powers[i] for i in table_indices]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_annual_sum_is_the_configured_energy(kind: str, year: int) -> None:
    dynamic = (False, True) if kind == "h0" else (False,)
    for dyn in dynamic:
        assert sum(kwh for _, _, kwh in series(kind, year, 4321.0, dyn)) == pytest.approx(4321.0, rel=1e-9)
        plain = sum(kwh for _, _, kwh in series(kind, year, 4321.0, dyn, normalise=False))
        assert plain == pytest.approx(4321.0, rel=0.02)  # BDEW arithmetic: calendars differ by up to 1.6 %


def test_scaling_is_linear_and_plain_scaling_is_the_table() -> None:
    small = StandardLoadProfile("g1", 1000)
    large = StandardLoadProfile("G1", 3500)
    day = date(2025, 2, 3)
    assert large.day_powers(day) == pytest.approx([3.5 * kw for kw in small.day_powers(day)])
    plain = StandardLoadProfile("g1", 3500, normalise=False)
    assert plain.power_kw(day, 40) == pytest.approx(table("g1")[("winter", "workday")][40] * 3500 / 1e6)


def test_power_at_matches_the_series_everywhere() -> None:
    profile = StandardLoadProfile("h0", 3500, dynamic=True)
    for start, kw, kwh in profile.series(2025):
        assert profile.power_at(start + timedelta(seconds=899)) == kw
        assert kwh == kw * 0.25
    # any aware zone; the next year has its own normalisation
    assert profile.power_at(datetime(2026, 1, 1, 0, 7, tzinfo=BERLIN)) == pytest.approx(
        profile.day_powers(date(2026, 1, 1))[0]
    )


def test_holidays_and_24_december() -> None:
    profile = StandardLoadProfile("g0", 1000, normalise=False)
    days = table("g0")
    assert profile.day_powers(date(2025, 4, 18)) == pytest.approx(
        [w / 1000 for w in days[("transition", "sunday")]]
    )  # Karfreitag
    assert profile.day_powers(date(2025, 12, 24)) == pytest.approx([w / 1000 for w in days[("winter", "saturday")]])
    bavaria = StandardLoadProfile("g0", 1000, holidays=GermanHolidays([date(2025, 6, 19)]), normalise=False)
    assert bavaria.day_powers(date(2025, 6, 19)) == pytest.approx([w / 1000 for w in days[("summer", "sunday")]])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="h0 only"):
        StandardLoadProfile("g0", 1000, dynamic=True)
    with pytest.raises(ValueError, match="unknown load profile kind"):
        StandardLoadProfile("h25", 1000)
    with pytest.raises(ValueError, match="annual_kwh"):
        StandardLoadProfile("h0", float("nan"))
    with pytest.raises(ValueError, match="timezone-aware"):
        StandardLoadProfile("h0", 1000).power_at(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="quarter_index"):
        StandardLoadProfile("h0", 1000).power_kw(date(2025, 1, 1), 96)


def test_zero_consumption() -> None:
    assert {kw for _, kw, _ in series("l2", 2025, 0)} == {0.0}


def test_power_at_accepts_utc_and_local_instants_alike() -> None:
    profile = StandardLoadProfile("h0", 1000)
    utc = datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc)  # 02:30 CEST, the first 02:30
    assert profile.power_at(utc) == profile.power_at(utc.astimezone(BERLIN))
    later = utc + timedelta(hours=1)  # 02:30 CET, the second 02:30: same table value
    assert profile.power_at(later) == profile.power_at(utc)
