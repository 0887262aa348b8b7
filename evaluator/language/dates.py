"""Calendar arithmetic: days and weeks exactly, months and years with month-end clamping."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months; a day past the target month's end clamps to its last day.

    2024-02-29 minus 12 months is 2023-02-28; 2024-01-31 plus 1 month is 2024-02-29.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def shift(day: date, amount: int, unit: str) -> date:
    """`day` moved by `amount` units (day, week, month, year); negative amounts go back.

    A move beyond the calendar (years 1 to 9999) stops at its first or last day: `date + 9999
    years` is later than every date there is, `within 5000 years` holds all of a history, and
    a condition never fails on a date it cannot write."""
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    try:
        if unit == "day":
            return day + timedelta(days=amount)
        if unit == "week":
            return day + timedelta(weeks=amount)
        return add_months(day, amount if unit == "month" else 12 * amount)
    except (OverflowError, ValueError):  # (out of the calendar's range)
        return date.max if amount > 0 else date.min


_UNITS = ("day", "week", "month", "year")


def iso_week(day: date) -> tuple[int, int]:
    """(ISO week-year, ISO week number): 2027-01-01 is (2026, 53)."""
    year, week, _ = day.isocalendar()
    return year, week


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def whole_years(start: date, end: date) -> int:
    """Whole years from `start` to `end` (an age on `end` for a birth date `start`): the largest
    n with start + n years <= end, month ends clamped as in `shift` (born on 29 February, a
    year older on 28 February in a year that has no 29th). Negative when `end` is earlier."""
    years = end.year - start.year
    # start + years lands in end's year, start + (years + 1) after it: one of the two is n.
    return years - 1 if add_months(start, 12 * years) > end else years
