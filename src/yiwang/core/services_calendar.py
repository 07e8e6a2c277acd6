"""Use cases for calendar overrides (kept apart from region/organisation services)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from yiwang.core import audit, calendar
from yiwang.core.errors import ValidationFailed
from yiwang.core.models import HolidayOverride


@transaction.atomic
def set_override(day: dt.date, is_workday: bool, name: str = "", user=None) -> HolidayOverride:
    """Record that ``day`` is a working day or a day off, overriding the published calendar."""
    if len(name) > 60:
        raise ValidationFailed("说明过长", fields={"name": ["不超过60字 / at most 60 characters"]})
    before = HolidayOverride.objects.filter(date=day).values("date", "is_workday", "name").first()
    obj, _ = HolidayOverride.objects.update_or_create(date=day, defaults={"is_workday": is_workday, "name": name})
    audit.record("calendar.override.set", "HolidayOverride", day.isoformat(), before=before,
                 after={"date": day, "is_workday": is_workday, "name": name},
                 actor=audit.actor_name(user) if user else None)
    calendar.invalidate_overrides()
    return obj


@transaction.atomic
def remove_override(day: dt.date, user=None) -> None:
    before = HolidayOverride.objects.filter(date=day).values("date", "is_workday", "name").first()
    if before is None:
        return
    HolidayOverride.objects.filter(date=day).delete()
    audit.record("calendar.override.remove", "HolidayOverride", day.isoformat(), before=before,
                 actor=audit.actor_name(user) if user else None)
    calendar.invalidate_overrides()
