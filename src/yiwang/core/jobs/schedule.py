"""Periodic jobs: one row per job with ``next_run_at``, claimed by compare-and-set.

Any number of processes may call :func:`trigger_due` (every DB worker does, and Celery beat does
through a task): the conditional ``UPDATE … WHERE next_run_at = <the value read>`` succeeds for
exactly one of them per period, and that one enqueues the job in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from yiwang.core import jobs
from yiwang.core.models import PeriodicJob


def trigger_due(claimed_by: str) -> list[str]:
    """Enqueue every periodic job whose period has come; returns the names this caller won."""
    definitions = jobs.periodic_jobs()
    if not definitions:
        return []
    now = timezone.now()
    rows = {row.name: row for row in PeriodicJob.objects.filter(name__in=definitions)}
    for name, definition in definitions.items():
        if name not in rows:
            try:
                with transaction.atomic():
                    rows[name] = PeriodicJob.objects.create(
                        name=name, every_seconds=definition.every_seconds, next_run_at=now)
            except IntegrityError:  # another process created it first
                rows[name] = PeriodicJob.objects.get(name=name)
    won = []
    for name, definition in definitions.items():
        row = rows[name]
        period = dt.timedelta(seconds=definition.every_seconds)
        if row.next_run_at > now:
            if row.every_seconds != definition.every_seconds and row.next_run_at > now + period:
                # The period was shortened: do not wait out the old, longer one.
                PeriodicJob.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
                    every_seconds=definition.every_seconds, next_run_at=now + period)
            continue
        # Keep the rhythm, but skip periods that were missed (no burst of catch-up runs).
        following = row.next_run_at + period
        if following <= now:
            following = now + period
        with transaction.atomic():
            claimed = PeriodicJob.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
                next_run_at=following, last_run_at=now, last_claimed_by=claimed_by,
                every_seconds=definition.every_seconds)
            if claimed:
                jobs.enqueue(name, dedupe_key=f"periodic:{name}")
        if claimed:
            won.append(name)
    return won
