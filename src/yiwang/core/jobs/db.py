"""The database queue: the embedded default backend and its worker (``yiwang worker``).

Claiming a job sets a lease (``locked_by``, ``lease_until``) in a short transaction:
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait for each other; on
SQLite the IMMEDIATE transaction (settings) serialises claims. The job then runs outside any
transaction while a heartbeat thread extends the lease. If the worker dies, the lease runs out
and the next worker claims the job again: nothing is lost, and the attempt counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from yiwang.core import jobs
from yiwang.core.jobs import schedule
from yiwang.core.models import Job

logger = logging.getLogger("yiwang.jobs")

_ERROR_LIMIT = 4000  # characters of traceback kept on the row
_OUTCOMES = {Job.Status.SUCCEEDED: "完成 / done", Job.Status.QUEUED: "出错，稍后重试 / error, will retry",
             Job.Status.FAILED: "失败，不再重试 / failed, no more attempts"}


def enqueue(definition: jobs.JobDefinition, kwargs: dict[str, Any], *, delay: float = 0,
            dedupe_key: str = "") -> Job | None:
    """Write the job row in the caller's transaction; ``None`` if an equal pending job exists."""
    job = Job(name=definition.name, kwargs=kwargs, max_attempts=definition.max_attempts,
              run_after=timezone.now() + dt.timedelta(seconds=delay), dedupe_key=dedupe_key)
    if not dedupe_key:
        job.save()
        return job
    if Job.objects.filter(dedupe_key=dedupe_key, status=Job.Status.QUEUED, attempts=0).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction intact
            job.save()
    except IntegrityError:
        return None
    return job


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_seconds() -> float:
    return float(getattr(settings, "YIWANG_JOBS_LEASE_SECONDS", 300))


def claim(worker_id: str, lease: float | None = None) -> Job | None:
    """Take the next due job (or one whose worker's lease ran out) and lease it to ``worker_id``."""
    lease = lease_seconds() if lease is None else lease
    while True:
        now = timezone.now()
        with transaction.atomic():
            job = (Job.objects.select_for_update(skip_locked=True)
                   .filter(Q(status=Job.Status.QUEUED, run_after__lte=now)
                           | Q(status=Job.Status.RUNNING, lease_until__lt=now))
                   .order_by("run_after", "id").first())
            if job is None:
                return None
            if job.status == Job.Status.RUNNING and job.attempts >= job.max_attempts:
                # Its worker died during the last allowed attempt: keep it as failed.
                job.status = Job.Status.FAILED
                job.finished_at = now
                job.lease_until = None
                job.last_error = (f"执行进程 {job.locked_by} 在第 {job.attempts} 次执行中中断 / worker "
                                  f"{job.locked_by} stopped during attempt {job.attempts}\n{job.last_error}"
                                  )[:_ERROR_LIMIT]
                job.save(update_fields=["status", "finished_at", "lease_until", "last_error"])
                logger.warning("job %s %s failed: worker lost on the last attempt", job.pk, job.name)
                continue
            job.status = Job.Status.RUNNING
            job.attempts += 1
            job.locked_by = worker_id
            job.lease_until = now + dt.timedelta(seconds=lease)
            job.started_at = now
            job.save(update_fields=["status", "attempts", "locked_by", "lease_until", "started_at"])
            return job


class _LeaseKeeper(threading.Thread):
    """Extends a running job's lease every third of its length until stopped."""

    def __init__(self, job_id: int, worker_id: str, lease: float):
        super().__init__(name=f"lease-{job_id}", daemon=True)
        self.job_id, self.worker_id, self.lease = job_id, worker_id, lease
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.lease / 3):
                try:
                    Job.objects.filter(pk=self.job_id, locked_by=self.worker_id,
                                       status=Job.Status.RUNNING).update(
                        lease_until=timezone.now() + dt.timedelta(seconds=self.lease))
                except DatabaseError:
                    logger.warning("could not extend the lease of job %s", self.job_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()


def run_claimed(job: Job, worker_id: str, lease: float | None = None) -> str:
    """Run a claimed job and record the outcome: succeeded, queued (to retry) or failed."""
    lease = lease_seconds() if lease is None else lease
    keeper = _LeaseKeeper(job.pk, worker_id, lease)
    keeper.start()
    error = ""
    try:
        jobs.run_now(job.name, job.kwargs)
    except Exception:  # noqa: BLE001 — any failure of the job is recorded and retried
        error = traceback.format_exc()[-_ERROR_LIMIT:]
    finally:
        keeper.done.set()
        keeper.join()
    now = timezone.now()
    mine = Job.objects.filter(pk=job.pk, locked_by=worker_id, status=Job.Status.RUNNING)
    if not error:
        mine.update(status=Job.Status.SUCCEEDED, finished_at=now, lease_until=None)
        return Job.Status.SUCCEEDED
    if job.attempts >= job.max_attempts:
        mine.update(status=Job.Status.FAILED, finished_at=now, lease_until=None, last_error=error)
        logger.error("job %s %s failed after %s attempts:\n%s", job.pk, job.name, job.attempts, error)
        return Job.Status.FAILED
    try:
        wait = jobs.definition(job.name).delay_before_attempt(job.attempts + 1)
    except jobs.JobError:
        wait = 60.0  # not registered in this process (e.g. a deployment in progress): try later
    mine.update(status=Job.Status.QUEUED, run_after=now + dt.timedelta(seconds=wait),
                lease_until=None, last_error=error)
    logger.warning("job %s %s attempt %s failed; retry in %.1fs", job.pk, job.name, job.attempts, wait)
    return Job.Status.QUEUED


def retry_failed(job_id: int) -> Job:
    """Put a failed job back in the queue with a fresh set of attempts."""
    updated = Job.objects.filter(pk=job_id, status=Job.Status.FAILED).update(
        status=Job.Status.QUEUED, attempts=0, run_after=timezone.now(), finished_at=None,
        lease_until=None)
    if not updated:
        raise jobs.JobError(f"任务 #{job_id} 不存在或未失败 / job #{job_id} does not exist or has not failed")
    return Job.objects.get(pk=job_id)


class Worker:
    """Runs due jobs from the database queue and triggers due periodic jobs until stopped."""

    def __init__(self, *, worker_id: str | None = None, poll_seconds: float | None = None,
                 lease: float | None = None, periodic: bool = True,
                 log: Callable[[str], None] | None = None):
        self.worker_id = worker_id or new_worker_id()
        self.poll_seconds = (float(getattr(settings, "YIWANG_JOBS_POLL_SECONDS", 1.0))
                             if poll_seconds is None else poll_seconds)
        self.lease = lease_seconds() if lease is None else lease
        self.periodic = periodic
        self.log = log or logger.info
        self.stopping = False
        self._last_tick = float("-inf")

    def stop(self, *_: Any) -> None:
        """Finish the running job, then return from :meth:`run` (SIGTERM/SIGINT handler)."""
        self.stopping = True

    def run_once(self) -> bool:
        """Trigger due periodic jobs (at most once per poll interval), then run one due job."""
        if self.periodic and time.monotonic() - self._last_tick >= self.poll_seconds:
            self._last_tick = time.monotonic()
            for name in schedule.trigger_due(self.worker_id):
                self.log(f"周期任务已触发 / periodic job triggered: {name}")
        job = claim(self.worker_id, self.lease)
        if job is None:
            return False
        self.log(f"执行 / running job #{job.pk} {job.name} (attempt {job.attempts}/{job.max_attempts})")
        outcome = run_claimed(job, self.worker_id, self.lease)
        self.log(f"{_OUTCOMES[outcome]}: job #{job.pk} {job.name}")
        return True

    def run(self, *, burst: bool = False) -> None:
        """Loop until :meth:`stop`; with ``burst``, return as soon as no job is due."""
        while not self.stopping:
            if not connection.in_atomic_block:  # (only tests run a worker inside a transaction)
                close_old_connections()  # drop connections past CONN_MAX_AGE or broken
            try:
                ran = self.run_once()
            except DatabaseError:
                logger.exception("database error in the job worker; retrying")
                connection.close()
                ran = False
            if burst and not ran:
                return
            if not ran:
                self._sleep(self.poll_seconds)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
