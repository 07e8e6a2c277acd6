"""``yiwang worker``: run background jobs from the database queue until SIGTERM or Ctrl+C."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError

from yiwang.core import jobs


class Command(BaseCommand):
    requires_system_checks = ()  # needs the models only, not the pages' URLs or templates
    help = "Run background jobs from the database queue and trigger periodic jobs."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true",
                            help="exit as soon as no job is due (cron, scripts)")
        parser.add_argument("--poll", type=float, default=None,
                            help="seconds between looks at an empty queue (YIWANG_JOBS_POLL_SECONDS)")
        parser.add_argument("--no-periodic", action="store_true", help="do not trigger periodic jobs")
        parser.add_argument("--id", default=None, help="worker name shown on claimed jobs")

    def handle(self, *args, **opts):
        if jobs.backend() == "celery":
            raise CommandError("YIWANG_JOBS_BACKEND=celery：请运行 celery -A yiwang.celery worker / "
                               "run the Celery worker instead")
        from yiwang.core.jobs.db import Worker

        jobs.discover()
        worker = Worker(worker_id=opts["id"], poll_seconds=opts["poll"],
                        periodic=not opts["no_periodic"], log=self._log)
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        self._log(f"后台任务进程已启动 / job worker started: {worker.worker_id}, "
                  f"{len(jobs.registered())} jobs, {len(jobs.periodic_jobs())} periodic")
        worker.run(burst=opts["burst"])
        self._log(f"后台任务进程已停止 / job worker stopped: {worker.worker_id}")

    def _log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
