"""Working days: the State Council's holidays and make-up days (调休) from chinesecalendar,
corrected and extended by administrator overrides (``HolidayOverride``).

For a date neither source knows (a year not yet published), weekdays count as working days
and weekends do not; the calendar never raises for an unknown year.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache

import chinese_calendar

from yiwang.core.models import HolidayOverride

# Overrides are read at most every few seconds per process; a change made in this process
# is seen at once, one made in another process within OVERRIDE_TTL seconds.
OVERRIDE_TTL = 10.0
_cache: tuple[float, dict[dt.date, bool]] | None = None


def invalidate_overrides() -> None:
    global _cache
    _cache = None


def overrides() -> dict[dt.date, bool]:
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > OVERRIDE_TTL:
        _cache = (now, dict(HolidayOverride.objects.values_list("date", "is_workday")))
    return _cache[1]


@lru_cache(maxsize=16384)
def statutory_is_workday(day: dt.date) -> bool | None:
    """What the published calendar says, or None when it has no data for that year."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def is_workday(day: dt.date, extra: dict[dt.date, bool] | None = None) -> bool:
    table = overrides() if extra is None else extra
    if day in table:
        return table[day]
    known = statutory_is_workday(day)
    if known is not None:
        return known
    return day.weekday() < 5


def is_known(day: dt.date) -> bool:
    """True when the day's status comes from the published calendar or an override."""
    return day in overrides() or statutory_is_workday(day) is not None


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start`` (the start day itself is not counted).

    With ``days == 0`` the result is ``start`` if it is a working day, else the next one
    (a period ending on a holiday ends on the next working day).
    """
    if days < 0:
        raise ValueError("工作日数不能为负 / days must not be negative")
    table = overrides()
    day = start
    if days == 0:
        while not is_workday(day, table):
            day += dt.timedelta(days=1)
        return day
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_workday(day, table):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(end, start)
    table = overrides()
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_workday(day, table):
            count += 1
    return count
