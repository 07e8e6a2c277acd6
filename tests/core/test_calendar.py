"""Working days under the statutory calendar, make-up days and administrator overrides."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.core import calendar
from yiwang.core.services_calendar import set_override

D = dt.date
pytestmark = pytest.mark.django_db


def test_national_day_holidays_are_skipped():
    # 2026-09-28 (Mon) + 20 working days: 1–7 October are holidays.
    assert calendar.add_working_days(D(2026, 9, 28), 20) == D(2026, 10, 30)


def test_start_day_is_not_counted():
    assert calendar.add_working_days(D(2026, 11, 2), 1) == D(2026, 11, 3)


def test_weekend_make_up_day_counts_as_working_day():
    # 2026-01-04 (Sunday) is a make-up working day after the New Year holiday.
    assert calendar.is_workday(D(2026, 1, 4)) is True
    assert calendar.is_workday(D(2026, 1, 1)) is False


def test_zero_days_ending_on_a_holiday_moves_to_next_working_day():
    assert calendar.add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 8)


def test_unknown_year_never_raises_and_uses_the_weekday_rule(db):
    assert calendar.is_known(D(2027, 3, 1)) is False
    assert calendar.add_working_days(D(2027, 3, 5), 1) == D(2027, 3, 8)  # Fri → Mon


def test_override_turns_a_day_off_and_is_audited(db):
    from yiwang.core.models import AuditEntry

    set_override(D(2027, 2, 8), False, "2027年春节")
    assert calendar.is_workday(D(2027, 2, 8)) is False
    assert calendar.add_working_days(D(2027, 2, 5), 1) == D(2027, 2, 9)
    assert AuditEntry.objects.filter(action="calendar.override.set").count() == 1


def test_cli_prints_the_date(db, capsys):
    from django.core.management import call_command

    call_command("calendar", "add-workdays", "2026-09-28", "20")
    assert capsys.readouterr().out.strip() == "2026-10-30"


def test_cli_rejects_a_bad_date(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("calendar", "add-workdays", "2026-13-01", "3")


dates = st.dates(min_value=D(2018, 1, 1), max_value=D(2028, 12, 31))


@given(start=dates, n=st.integers(0, 60))
def test_adding_n_working_days_spans_exactly_n(start, n):
    end = calendar.add_working_days(start, n)
    assert calendar.is_workday(end)
    if n > 0:
        assert calendar.working_days_between(start, end) == n
        assert end > start


@given(start=dates, a=st.integers(0, 40), b=st.integers(0, 40))
def test_more_days_never_end_earlier(start, a, b):
    lo, hi = sorted((a, b))
    assert calendar.add_working_days(start, lo) <= calendar.add_working_days(start, hi)


@given(a=dates, b=dates)
def test_between_is_antisymmetric(a, b):
    assert calendar.working_days_between(a, b) == -calendar.working_days_between(b, a)
