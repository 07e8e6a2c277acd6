"""``yiwang jobs``: look at and act on the background job queue.

    yiwang jobs status               counts by state, the failed jobs and the periodic ones
    yiwang jobs enqueue NAME [--kwargs JSON] [--delay S] [--dedupe-key K]
    yiwang jobs retry ID             send a failed job again with a fresh set of attempts
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from yiwang.core import audit, jobs
from yiwang.core.models import Job, PeriodicJob


class Command(BaseCommand):
    requires_system_checks = ()  # needs the models only, not the pages' URLs or templates
    help = "Background jobs: status, enqueue, retry."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="counts by state, failed and periodic jobs")
        status.add_argument("--limit", type=int, default=20, help="failed jobs listed (newest first)")
        enqueue = sub.add_parser("enqueue", help="enqueue a registered job")
        enqueue.add_argument("name", help="dotted name, e.g. yiwang.cases.tasks.sweep_time_limits")
        enqueue.add_argument("--kwargs", default="{}", help='JSON object, e.g. \'{"case_id": 7}\'')
        enqueue.add_argument("--delay", type=float, default=0)
        enqueue.add_argument("--dedupe-key", default=None)
        retry = sub.add_parser("retry", help="send a failed job again")
        retry.add_argument("job_id", type=int)

    def handle(self, *args, **opts):
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except jobs.JobError as exc:
            raise CommandError(str(exc)) from None

    def _status(self, opts):
        counts = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
        self.stdout.write(f"后台任务 / jobs (backend: {jobs.backend()})")
        for status in Job.Status:
            self.stdout.write(f"  {status.label} / {status.value}: {counts.get(status.value, 0)}")
        stale = Job.objects.filter(status=Job.Status.RUNNING, lease_until__lt=timezone.now()).count()
        if stale:
            self.stdout.write(f"  租约过期（执行进程已中断，将重新执行）/ lease expired, will run again: {stale}")
        failed = Job.objects.filter(status=Job.Status.FAILED).order_by("-finished_at", "-id")
        if failed.exists():
            self.stdout.write("失败的任务 / failed jobs:")
            for job in failed[: opts["limit"]]:
                last_line = (job.last_error.strip().splitlines() or [""])[-1][:160]
                self.stdout.write(f"  #{job.pk} {job.name} {json.dumps(job.kwargs, ensure_ascii=False)} "
                                  f"attempts {job.attempts}/{job.max_attempts} "
                                  f"at {_local(job.finished_at)}: {last_line}")
        periodic = PeriodicJob.objects.all()
        if periodic.exists():
            self.stdout.write("周期任务 / periodic jobs:")
            for row in periodic:
                last = _local(row.last_run_at) if row.last_run_at else "—"
                self.stdout.write(f"  {row.name} every {row.every_seconds}s, last {last}, "
                                  f"next {_local(row.next_run_at)}")

    def _enqueue(self, opts):
        try:
            kwargs = json.loads(opts["kwargs"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--kwargs 不是合法的 JSON / is not valid JSON: {exc}") from None
        if not isinstance(kwargs, dict):
            raise CommandError("--kwargs 必须是 JSON 对象 / must be a JSON object")
        jobs.enqueue(opts["name"], delay=opts["delay"], dedupe_key=opts["dedupe_key"], **kwargs)
        self.stdout.write(f"已加入队列 / enqueued: {opts['name']}")

    def _retry(self, opts):
        job = Job.objects.filter(pk=opts["job_id"], status=Job.Status.FAILED).first()
        if job is None:
            raise CommandError(f"任务 #{opts['job_id']} 不存在或未失败 / "
                               f"job #{opts['job_id']} does not exist or has not failed")
        with audit.acting_as("system:cli"), transaction.atomic():
            if jobs.backend() == "db":
                from yiwang.core.jobs import db

                db.retry_failed(job.pk)
            else:
                # Sent afresh through the configured backend; the failed row is replaced.
                jobs.enqueue(job.name, **job.kwargs)
                Job.objects.filter(pk=job.pk).delete()
            audit.record("jobs.retry", "Job", str(job.pk), detail={"name": job.name})
        self.stdout.write(f"已重新加入队列 / queued again: #{job.pk} {job.name}")


def _local(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"
