"""The load-profile calendar: Easter, nationwide holidays, BDEW seasons and day types."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.sim.loadprofile.calendar import (
    NATIONAL_HOLIDAYS,
    GermanHolidays,
    day_type,
    easter_sunday,
    national_holidays,
    season,
)


@pytest.mark.parametrize(
    "expected",
    [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2019, 4, 21),
        date(2000, 4, 23),
        date(2008, 3, 23),
        date(2011, 4, 24),
        date(1943, 4, 25),  # the latest possible date
        date(2038, 4, 25),
        date(1818, 3, 22),  # the earliest possible date
        date(2285, 3, 22),
    ],
)
def test_easter_sunday_known_dates(expected: date) -> None:
    assert easter_sunday(expected.year) == expected


@given(st.integers(min_value=1583, max_value=9000))
def test_easter_is_a_sunday_between_22_march_and_25_april(year: int) -> None:
    easter = easter_sunday(year)
    assert easter.weekday() == 6
    assert date(year, 3, 22) <= easter <= date(year, 4, 25)
    holidays = national_holidays(year)
    # Karfreitag (Fri), Ostermontag (Mon), Christi Himmelfahrt (Thu), Pfingstmontag (Mon)
    for offset, weekday in ((-2, 4), (1, 0), (39, 3), (50, 0)):
        feast = easter + timedelta(days=offset)
        assert feast in holidays and feast.weekday() == weekday
    fixed = {date(year, 1, 1), date(year, 5, 1), date(year, 10, 3), date(year, 12, 25), date(year, 12, 26)}
    assert fixed <= holidays
    assert len(holidays) == (8 if easter + timedelta(days=39) == date(year, 5, 1) else 9)


def test_ascension_on_labour_day_counts_once() -> None:
    assert date(2008, 5, 1) == easter_sunday(2008) + timedelta(days=39)
    assert len(national_holidays(2008)) == 8


def test_national_holidays_2025() -> None:
    assert national_holidays(2025) == {
        date(2025, 1, 1),
        date(2025, 4, 18),  # Karfreitag
        date(2025, 4, 21),  # Ostermontag
        date(2025, 5, 1),
        date(2025, 5, 29),  # Christi Himmelfahrt
        date(2025, 6, 9),  # Pfingstmontag
        date(2025, 10, 3),
        date(2025, 12, 25),
        date(2025, 12, 26),
    }


def test_national_holidays_2024_as_published() -> None:
    # The nationwide holidays of 2024 as listed in flrd/standardlastprofile,
    # dev/articles/algorithm-step-by-step.md ("Below are nationwide holidays for 2024").
    assert national_holidays(2024) == {
        date(2024, 1, 1), date(2024, 3, 29), date(2024, 4, 1), date(2024, 5, 1), date(2024, 5, 9),
        date(2024, 5, 20), date(2024, 10, 3), date(2024, 12, 25), date(2024, 12, 26),
    }


def test_state_holidays_are_added_not_replacing() -> None:
    corpus_christi = date(2025, 6, 19)  # Fronleichnam, a Thursday; a holiday in e.g. Bavaria
    bavaria = GermanHolidays(extra=[corpus_christi])
    assert corpus_christi in bavaria and corpus_christi not in NATIONAL_HOLIDAYS
    assert date(2025, 4, 18) in bavaria  # the nationwide ones stay
    assert day_type(corpus_christi, bavaria) == "sunday"
    assert day_type(corpus_christi) == "workday"
    assert "2025-06-19" not in bavaria  # only dates are holidays


@pytest.mark.parametrize(
    ("month", "day", "expected"),
    [
        (1, 1, "winter"),
        (3, 20, "winter"),
        (3, 21, "transition"),
        (5, 14, "transition"),
        (5, 15, "summer"),
        (9, 14, "summer"),
        (9, 15, "transition"),
        (10, 31, "transition"),
        (11, 1, "winter"),
        (12, 31, "winter"),
    ],
)
def test_season_borders(month: int, day: int, expected: str) -> None:
    assert season(date(2025, month, day)) == expected
    assert season(date(2024, month, day)) == expected  # leap years shift nothing


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 2), "workday"),  # Thursday
        (date(2025, 1, 4), "saturday"),
        (date(2025, 1, 5), "sunday"),
        (date(2025, 1, 1), "sunday"),  # Neujahr, a Wednesday
        (date(2025, 4, 18), "sunday"),  # Karfreitag
        (date(2025, 4, 21), "sunday"),  # Ostermontag
        (date(2025, 5, 29), "sunday"),  # Christi Himmelfahrt
        (date(2025, 6, 9), "sunday"),  # Pfingstmontag
        (date(2025, 12, 23), "workday"),
        (date(2025, 12, 24), "saturday"),  # a Wednesday: 24.12. rule
        (date(2025, 12, 31), "saturday"),  # a Wednesday: 31.12. rule
        (date(2023, 12, 24), "sunday"),  # a Sunday stays a Sunday
        (date(2023, 12, 31), "sunday"),
        (date(2022, 12, 24), "saturday"),  # a Saturday anyway
    ],
)
def test_day_types(day: date, expected: str) -> None:
    assert day_type(day) == expected


def test_day_types_as_published() -> None:
    # flrd/standardlastprofile, dev/articles/algorithm-step-by-step.md: 2023-12-22..27 map to
    # workday, saturday, sunday (24.12. on a Sunday), sunday, sunday, workday; all winter.
    start = date(2023, 12, 22)
    days = [start + timedelta(days=n) for n in range(6)]
    assert [day_type(d) for d in days] == ["workday", "saturday", "sunday", "sunday", "sunday", "workday"]
    assert {season(d) for d in days} == {"winter"}
