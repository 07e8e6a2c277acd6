"""``yiwang serve``: run the portal with gunicorn (falls back to Django's server with --dev).

With the database job queue (the default, ``YIWANG_JOBS_BACKEND=db``) it also runs one
``yiwang worker`` beside the web server, restarts it if it dies, and stops both together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the platform on http://127.0.0.1:8000 (gunicorn) with a background job worker."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("YIWANG_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("YIWANG_WORKERS", "2")))
        parser.add_argument("--dev", action="store_true", help="Django's auto-reloading development server")
        parser.add_argument("--no-job-worker", action="store_true",
                            help="do not start `yiwang worker` (run workers separately)")

    def handle(self, *args, **opts):
        from yiwang.core import jobs
        from yiwang.core.startup import check_production_safety

        problem = check_production_safety()
        if problem:
            raise CommandError(problem)
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"一网 Yiwang: http://{opts['bind']}/  (Ctrl+C 停止 / to stop)")
        if opts["dev"]:
            web = [sys.executable, "-m", "django", "runserver", opts["bind"]]
        else:
            web = [sys.executable, "-m", "gunicorn", "yiwang.wsgi:application", "--bind", opts["bind"],
                   "--workers", str(opts["workers"]), "--access-logfile", "-", "--timeout", "60"]
        if opts["no_job_worker"] or jobs.backend() != "db":
            os.execvp(web[0], web)
        self.stdout.write("后台任务进程随服务启动 / a background job worker runs beside the server")
        self.stdout.flush()
        sys.exit(_supervise(web, [sys.executable, "-m", "yiwang", "worker"]))


def _supervise(web_argv: list[str], worker_argv: list[str]) -> int:
    """Run the web server and the worker; restart the worker if it dies; stop both together."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE",
                                                                    "yiwang.settings")}
    web = subprocess.Popen(web_argv, env=env)
    worker = subprocess.Popen(worker_argv, env=env)
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for child in (web, worker):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while web.poll() is None:
            if worker.poll() is not None and not stopping:
                print(f"后台任务进程已退出（{worker.returncode}），重新启动 / job worker exited, restarting",
                      file=sys.stderr, flush=True)
                time.sleep(1)
                worker = subprocess.Popen(worker_argv, env=env)
            time.sleep(0.5)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)  # let the running job finish
        except subprocess.TimeoutExpired:
            worker.kill()  # its job's lease runs out and another worker takes it
        if web.poll() is None:
            web.send_signal(signal.SIGTERM)
            web.wait()
    return web.returncode or 0
