"""The Celery application: the production backend of background jobs (docs/jobs.md).

    YIWANG_JOBS_BACKEND=celery celery -A yiwang.celery worker --loglevel=INFO
    YIWANG_JOBS_BACKEND=celery celery -A yiwang.celery beat   # exactly one: periodic jobs

Every job travels as one task, ``yiwang.jobs.run``, carrying the job's registered name and
arguments (shown under the job's own name in Celery's tools). Messages are acknowledged after
the job ends (``acks_late``) and given back when a worker dies (``reject_on_worker_lost``), so
Redis hands a killed worker's job to another worker. Beat only sends ``yiwang.jobs.trigger``;
which periodic jobs are due is decided in the database (``yiwang.core.jobs.schedule``), so a
second beat by mistake still runs each job once per period.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")

import django
from django.apps import apps

if not apps.ready:
    django.setup()

from celery import Celery
from django.conf import settings
from django.db import close_old_connections

app = Celery("yiwang")
app.conf.update(
    broker_url=settings.YIWANG_CELERY_BROKER_URL,
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": settings.YIWANG_CELERY_VISIBILITY_TIMEOUT,
        # How often a worker looks for jobs of dead workers whose visibility timeout ran out.
        "unacked_restore_interval": settings.YIWANG_CELERY_RESTORE_SECONDS,
        "unacked_restore_throttle": 1,
    },
    task_default_queue=settings.YIWANG_CELERY_QUEUE,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    enable_utc=True,
    beat_schedule={
        "yiwang-periodic-jobs": {"task": "yiwang.jobs.trigger",
                                 "schedule": settings.YIWANG_CELERY_BEAT_SECONDS},
    },
)


@app.task(name="yiwang.jobs.run", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, name: str, kwargs: dict[str, Any], dedupe_key: str = "") -> None:
    """Run one registered job; retry it with backoff; keep it as failed after the last attempt."""
    from yiwang.core import jobs
    from yiwang.core.jobs import celery_backend

    if dedupe_key and self.request.retries == 0:
        celery_backend.release_dedupe_key(dedupe_key)  # started: a new enqueue is new work
    attempt = self.request.retries + 1
    definition = jobs.registered().get(name)  # unknown here: fails, and is retried like any error
    max_attempts = definition.max_attempts if definition else 5
    close_old_connections()
    try:
        jobs.run_now(name, kwargs)
    except Exception as exc:
        if attempt < max_attempts:
            wait = definition.delay_before_attempt(attempt + 1) if definition else 60.0
            # The retry waits in a worker unacknowledged; past the visibility timeout Redis
            # would hand it to a second worker as well.
            wait = min(wait, settings.YIWANG_CELERY_VISIBILITY_TIMEOUT * 0.9)
            raise self.retry(exc=exc, countdown=wait, max_retries=max_attempts - 1) from exc
        celery_backend.record_failure(name, kwargs, attempt, max_attempts,
                                      traceback.format_exc(), worker=self.request.hostname or "")
        raise
    finally:
        close_old_connections()


@app.task(name="yiwang.jobs.trigger", acks_late=True)
def trigger_periodic() -> list[str]:
    """Enqueue the periodic jobs whose period has come (sent by beat)."""
    from yiwang.core.jobs import schedule

    close_old_connections()
    try:
        return schedule.trigger_due("celery-beat")
    finally:
        close_old_connections()
