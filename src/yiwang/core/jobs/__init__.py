"""Background work: one small interface, three backends (docs/jobs.md).

    from yiwang.core import jobs

    @jobs.job(max_attempts=5, backoff_seconds=10)
    def send_notification(notification_id: int) -> None: ...

    jobs.enqueue(send_notification, notification_id=7)          # runs after the commit
    jobs.periodic(every_seconds=300)(sweep_time_limits)           # once per period, any workers

Jobs are registered by dotted name (``module.function``) and take JSON-serialisable keyword
arguments. The backend comes from ``YIWANG_JOBS_BACKEND``:

- ``db`` (default): a row in the database queue, written in the caller's transaction, so a
  rolled-back transaction enqueues nothing; ``yiwang worker`` runs it.
- ``celery``: sent to Celery (Redis broker) when the transaction commits.
- ``immediate``: run synchronously when the transaction commits (tests, quick scripts).

Jobs must be safe to run more than once: delivery is at least once (a worker that dies after
the work but before recording success causes a second run).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings

BACKENDS = ("db", "celery", "immediate")


class JobError(Exception):
    """A job could not be registered or enqueued (unknown name, bad arguments, bad backend)."""


@dataclasses.dataclass(frozen=True)
class JobDefinition:
    name: str
    func: Callable[..., Any]
    max_attempts: int = 5
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0

    def delay_before_attempt(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2, 3, …): exponential, with jitter.

        The jitter (×0.8–1.2) spreads retries of many jobs that failed together; the doubling
        outgrows it, so each wait is longer than the one before.
        """
        scale = float(getattr(settings, "YIWANG_JOBS_BACKOFF_SCALE", 1.0))
        base = min(self.backoff_seconds * 2 ** max(attempt - 2, 0), self.max_backoff_seconds)
        return base * scale * random.uniform(0.8, 1.2)


@dataclasses.dataclass(frozen=True)
class PeriodicDefinition:
    name: str
    every_seconds: int


_registry: dict[str, JobDefinition] = {}
_periodic: dict[str, PeriodicDefinition] = {}
_discovered = False


def job(max_attempts: int = 5, backoff_seconds: float = 10.0, *, name: str | None = None,
        max_backoff_seconds: float = 3600.0) -> Callable[[Callable], Callable]:
    """Register a function as a job under its dotted name; the function itself is unchanged."""
    if max_attempts < 1:
        raise JobError("max_attempts 至少为 1 / max_attempts must be at least 1")

    def register(func: Callable) -> Callable:
        job_name = name or f"{func.__module__}.{func.__qualname__}"
        _registry[job_name] = JobDefinition(job_name, func, max_attempts, float(backoff_seconds),
                                            float(max_backoff_seconds))
        func.job_name = job_name
        return func

    return register


def periodic(every_seconds: int, *, name: str | None = None) -> Callable[[Callable], Callable]:
    """Run a job every ``every_seconds``, once per period however many workers run.

    The function is registered as a job (with default retry settings) unless it already is.
    """
    if every_seconds < 1:
        raise JobError("every_seconds 至少为 1 / every_seconds must be at least 1")

    def register(func: Callable) -> Callable:
        if not hasattr(func, "job_name") or (name and func.job_name != name):
            job(name=name)(func)
        _periodic[func.job_name] = PeriodicDefinition(func.job_name, int(every_seconds))
        return func

    return register


def discover() -> None:
    """Import every installed app's ``tasks`` module and ``YIWANG_JOBS_MODULES``, once."""
    global _discovered
    if _discovered:
        return
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    for module in getattr(settings, "YIWANG_JOBS_MODULES", []):
        importlib.import_module(module)
    _discovered = True


def definition(name_or_func: str | Callable) -> JobDefinition:
    name = name_or_func if isinstance(name_or_func, str) else getattr(name_or_func, "job_name", None)
    if name is None:
        raise JobError(f"{name_or_func!r} 不是已登记的任务 / is not a registered job (use @jobs.job)")
    if name not in _registry:
        discover()
    try:
        return _registry[name]
    except KeyError:
        raise JobError(f"未知任务 {name} / unknown job {name}") from None


def registered() -> dict[str, JobDefinition]:
    discover()
    return dict(_registry)


def periodic_jobs() -> dict[str, PeriodicDefinition]:
    discover()
    return dict(_periodic)


def backend() -> str:
    chosen = getattr(settings, "YIWANG_JOBS_BACKEND", "db")
    if chosen not in BACKENDS:
        raise JobError(f"YIWANG_JOBS_BACKEND 应为 {'、'.join(BACKENDS)} / must be one of "
                       f"{', '.join(BACKENDS)}; got {chosen!r}")
    return chosen


def enqueue(job_ref: str | Callable, /, *, delay: float = 0, dedupe_key: str | None = None,
            **kwargs: Any) -> None:
    """Run ``job_ref(**kwargs)`` later, once the current transaction (if any) commits.

    ``delay`` holds it back that many seconds. With ``dedupe_key``, a second enqueue while a job
    with the same key waits to start is a no-op.
    """
    definition_ = definition(job_ref)
    try:
        kwargs = json.loads(json.dumps(kwargs))
    except (TypeError, ValueError) as exc:
        raise JobError(f"任务参数必须可转为 JSON / job arguments must be JSON-serialisable: {exc}") from None
    if delay < 0:
        raise JobError("delay 不能为负 / delay must not be negative")
    chosen = backend()
    if chosen == "db":
        from yiwang.core.jobs import db

        db.enqueue(definition_, kwargs, delay=delay, dedupe_key=dedupe_key or "")
    elif chosen == "celery":
        from yiwang.core.jobs import celery_backend

        celery_backend.enqueue(definition_, kwargs, delay=delay, dedupe_key=dedupe_key or "")
    else:
        from django.db import transaction

        transaction.on_commit(lambda: run_now(definition_.name, kwargs))


def run_now(name: str, kwargs: dict[str, Any]) -> Any:
    """Run a job in this process, attributing its audit entries to the job."""
    from yiwang.core import audit

    definition_ = definition(name)
    with audit.acting_as(f"system:job:{name}"):
        return definition_.func(**kwargs)
