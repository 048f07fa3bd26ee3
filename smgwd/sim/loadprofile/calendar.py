"""The calendar of the BDEW standard load profiles: holidays, seasons, day types.

How this works: every local date maps to one of nine typical days, a season
(winter 01.11.-20.03., summer 15.05.-14.09., transition otherwise) and a day
type (workday, saturday, sunday). Public holidays count as Sundays; 24.12. and
31.12. count as Saturdays unless they are Sundays. The holidays are the nine
nationwide German ones, computed for any year (Easter by the Gregorian
computus), plus whatever state holidays the caller adds.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from typing import Literal

from smgwd.calendars.holidays import NATIONAL_HOLIDAYS, GermanHolidays, easter_sunday, national_holidays

__all__ = [
    "DayType",
    "GermanHolidays",
    "NATIONAL_HOLIDAYS",
    "Season",
    "day_type",
    "easter_sunday",
    "national_holidays",
    "season",
]

Season = Literal["winter", "summer", "transition"]
DayType = Literal["workday", "saturday", "sunday"]


def season(day: date) -> Season:
    """The BDEW season of a date."""
    month_day = (day.month, day.day)
    if month_day >= (11, 1) or month_day <= (3, 20):
        return "winter"
    if (5, 15) <= month_day <= (9, 14):
        return "summer"
    return "transition"


def day_type(day: date, holidays: Container[date] = NATIONAL_HOLIDAYS) -> DayType:
    """The BDEW day type of a date.

    Holidays and Sundays are "sunday"; 24.12. and 31.12. are "saturday" unless
    they are Sundays (a holiday on those dates, which no German state has, would
    win as "sunday"); other Saturdays are "saturday", the rest "workday".
    """
    weekday = day.weekday()
    if weekday == 6 or day in holidays:
        return "sunday"
    if weekday == 5 or (day.month == 12 and day.day in (24, 31)):
        return "saturday"
    return "workday"
