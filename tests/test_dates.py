from datetime import date

import pytest

from evaluator.language.dates import add_months, iso_week, shift, week_start


@pytest.mark.parametrize("day, months, expected", [
    (date(2024, 2, 29), -12, date(2023, 2, 28)),   # leap day back a year clamps
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2024, 2, 29), 48, date(2028, 2, 29)),    # to the next leap year keeps the day
    (date(2024, 1, 31), 1, date(2024, 2, 29)),     # month end into a leap February
    (date(2023, 1, 31), 1, date(2023, 2, 28)),
    (date(2024, 3, 31), -1, date(2024, 2, 29)),
    (date(2024, 5, 31), -1, date(2024, 4, 30)),
    (date(2025, 12, 15), 1, date(2026, 1, 15)),    # across new year
    (date(2026, 1, 15), -1, date(2025, 12, 15)),
    (date(2025, 3, 3), 0, date(2025, 3, 3)),
])
def test_add_months_clamps_at_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_shift_units():
    d = date(2025, 1, 30)
    assert shift(d, 3, "day") == date(2025, 2, 2)
    assert shift(d, -2, "week") == date(2025, 1, 16)
    assert shift(d, 1, "month") == date(2025, 2, 28)
    assert shift(date(2024, 2, 29), -1, "year") == date(2023, 2, 28)
    with pytest.raises(ValueError):
        shift(d, 1, "fortnight")


@pytest.mark.parametrize("day, expected", [
    (date(2026, 12, 31), (2026, 53)),   # 2026 has 53 ISO weeks
    (date(2027, 1, 1), (2026, 53)),
    (date(2027, 1, 3), (2026, 53)),     # Sunday, still week 53
    (date(2027, 1, 4), (2027, 1)),      # Monday, week 1
    (date(2025, 12, 29), (2026, 1)),    # Monday in December, week 1 of the next year
    (date(2026, 1, 4), (2026, 1)),
    (date(2025, 12, 28), (2025, 52)),   # Sunday before
    (date(2021, 1, 3), (2020, 53)),
])
def test_iso_week_at_new_year(day, expected):
    assert iso_week(day) == expected


def test_week_start_is_monday():
    assert week_start(date(2027, 1, 3)) == date(2026, 12, 28)
    assert week_start(date(2025, 3, 3)) == date(2025, 3, 3)


def test_whole_years_is_an_age_with_month_ends_clamped():
    from evaluator.language.dates import whole_years

    born = date(2006, 3, 15)
    assert whole_years(born, date(2025, 3, 14)) == 18
    assert whole_years(born, date(2025, 3, 15)) == 19
    assert whole_years(born, date(2026, 3, 14)) == 19  # "up to and including 19"
    assert whole_years(born, date(2026, 3, 15)) == 20
    leap = date(2004, 2, 29)
    assert whole_years(leap, date(2005, 2, 27)) == 0
    assert whole_years(leap, date(2005, 2, 28)) == 1
    assert whole_years(leap, date(2008, 2, 28)) == 3 and whole_years(leap, date(2008, 2, 29)) == 4
    assert whole_years(date(2020, 6, 1), date(2019, 6, 2)) == -1  # the largest n with start + n years <= end
    assert whole_years(date(2020, 6, 1), date(2020, 6, 1)) == 0


@pytest.mark.parametrize("day, amount, unit, expected", [
    (date(2025, 1, 1), 9999, "year", date.max),
    (date(2025, 1, 1), -5000, "year", date.min),
    (date(2025, 1, 1), -99_999_999, "month", date.min),
    (date.max, 1, "day", date.max),
    (date.min, -1, "week", date.min),
    (date(2025, 1, 1), 10**12, "day", date.max),
    (date(9999, 12, 1), 1, "month", date.max),
])
def test_a_move_beyond_the_calendar_stops_at_its_first_or_last_day(day, amount, unit, expected):
    assert shift(day, amount, unit) == expected


def test_an_unknown_unit_is_still_an_error():
    with pytest.raises(ValueError):
        shift(date(2025, 1, 1), 1, "fortnight")
