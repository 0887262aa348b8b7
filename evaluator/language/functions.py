"""The functions a condition can call: each one's signature and implementation, in one table."""

from __future__ import annotations

from dataclasses import dataclass

from .dates import whole_years
from .types import INTEGER, Type


@dataclass(frozen=True)
class Function:
    """A function of the condition language: the kinds of values it takes (`date`, `list`), the
    type it gives, what it does, and a line for a reader. It is called only with known values:
    an unknown argument makes the call unknown before it is made."""

    params: tuple[str, ...]
    result: Type
    implementation: object
    doc: str


FUNCTIONS: dict[str, Function] = {
    "iso_week": Function(("date",), INTEGER, lambda d: d.isocalendar()[1], "the ISO week number of a date"),
    "iso_year": Function(("date",), INTEGER, lambda d: d.isocalendar()[0], "the year an ISO week belongs to"),
    "weekday": Function(("date",), INTEGER, lambda d: d.isoweekday(), "the day of the week, 1 (Monday) to 7"),
    "year_of": Function(("date",), INTEGER, lambda d: d.year, "the year of a date"),
    "month_of": Function(("date",), INTEGER, lambda d: d.month, "the month of a date, 1 to 12"),
    "day_of": Function(("date",), INTEGER, lambda d: d.day, "the day of the month"),
    "length": Function(("list",), INTEGER, len, "how many items a list holds"),
    # An age: years_between(birth_date, date), with month ends clamped as in date arithmetic:
    # born 2004-02-29, 1 year old on 2005-02-28.
    "years_between": Function(("date", "date"), INTEGER, whole_years,
                              "whole years from the first date to the second (an age)"),
}
