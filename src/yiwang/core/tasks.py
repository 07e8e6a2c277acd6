"""Housekeeping jobs of the platform itself."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from yiwang.core import jobs

PRUNE_BATCH = 5000


@jobs.periodic(every_seconds=6 * 3600)
def prune_finished_jobs() -> dict[str, int]:
    """Delete finished jobs of the database queue once they are old: succeeded ones after
    ``YIWANG_JOBS_KEEP_DAYS`` (default 7), failed ones after ``YIWANG_JOBS_KEEP_FAILED_DAYS``
    (default 30, time to look into them). Queued and running jobs are never touched."""
    from yiwang.core.models import Job

    now = timezone.now()
    keep = {Job.Status.SUCCEEDED: int(getattr(settings, "YIWANG_JOBS_KEEP_DAYS", 7)),
            Job.Status.FAILED: int(getattr(settings, "YIWANG_JOBS_KEEP_FAILED_DAYS", 30))}
    removed = {}
    for status, days in keep.items():
        before = now - dt.timedelta(days=days)
        total = 0
        while True:  # in batches: a big backlog never holds one long lock
            ids = list(Job.objects.filter(status=status, finished_at__lt=before).order_by("pk")
                       .values_list("pk", flat=True)[:PRUNE_BATCH])
            if not ids:
                break
            total += Job.objects.filter(pk__in=ids).delete()[0]
        removed[status] = total
    return removed
