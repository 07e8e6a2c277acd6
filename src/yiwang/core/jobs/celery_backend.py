"""The Celery backend: send the job when the transaction commits (``yiwang/celery.py`` runs it).

Deduplication uses a key set only-if-absent at send time (``SET NX`` on a Redis broker, else
``cache.add`` on the shared cache) and removed when the job starts.
A job that cannot be sent (broker unreachable) or that fails its last attempt is written to the
job table as failed, so ``yiwang jobs status`` shows it and ``yiwang jobs retry`` sends it again.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yiwang.core import jobs
from yiwang.core.models import Job

logger = logging.getLogger("yiwang.jobs")

_DEDUPE_PREFIX = "yiwang:jobs:dedupe:"
_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis | None:
    url = settings.YIWANG_CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


def _claim_dedupe_key(dedupe_key: str, ttl: int) -> bool:
    client = _redis()
    if client is None:
        from django.core.cache import cache

        return cache.add(_DEDUPE_PREFIX + dedupe_key, 1, ttl)
    return bool(client.set(_DEDUPE_PREFIX + dedupe_key, "1", nx=True, ex=ttl))


def enqueue(definition: jobs.JobDefinition, kwargs: dict[str, Any], *, delay: float = 0,
            dedupe_key: str = "") -> None:
    transaction.on_commit(lambda: send(definition, kwargs, delay=delay, dedupe_key=dedupe_key))


def send(definition: jobs.JobDefinition, kwargs: dict[str, Any], *, delay: float = 0,
         dedupe_key: str = "") -> bool:
    """Publish the job now; False if it was a duplicate or could not be sent (then recorded)."""
    from yiwang.celery import run_job

    try:
        if dedupe_key:
            ttl = int(delay + settings.YIWANG_CELERY_VISIBILITY_TIMEOUT)
            if not _claim_dedupe_key(dedupe_key, max(ttl, 1)):
                return False
        run_job.apply_async(args=[definition.name, kwargs, dedupe_key], countdown=delay or None,
                            shadow=definition.name, retry=True,
                            retry_policy={"max_retries": 3, "interval_start": 0.2,
                                          "interval_step": 0.5, "interval_max": 2})
        return True
    except Exception:  # the commit already happened: keep the job, do not lose it
        logger.exception("could not send job %s to the broker", definition.name)
        if dedupe_key:
            release_dedupe_key(dedupe_key)
        record_failure(definition.name, kwargs, 0, definition.max_attempts,
                       "无法发送到消息队列 / could not be sent to the broker\n" + traceback.format_exc())
        return False


def release_dedupe_key(dedupe_key: str) -> None:
    try:
        client = _redis()
        if client is None:
            from django.core.cache import cache

            cache.delete(_DEDUPE_PREFIX + dedupe_key)
        else:
            client.delete(_DEDUPE_PREFIX + dedupe_key)
    except redis.RedisError:
        logger.warning("could not release the dedupe key %s", dedupe_key, exc_info=True)


def record_failure(name: str, kwargs: dict[str, Any], attempts: int, max_attempts: int,
                   error: str, *, worker: str = "") -> Job:
    now = timezone.now()
    return Job.objects.create(name=name, kwargs=kwargs, status=Job.Status.FAILED, run_after=now,
                              attempts=attempts, max_attempts=max_attempts, last_error=error[-4000:],
                              locked_by=f"celery:{worker}" if worker else "celery",
                              started_at=now, finished_at=now)
