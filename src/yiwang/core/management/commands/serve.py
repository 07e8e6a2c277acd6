"""``yiwang serve``: run the portal with gunicorn (falls back to Django's server with --dev)."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the platform on http://127.0.0.1:8000 (gunicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("YIWANG_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("YIWANG_WORKERS", "2")))
        parser.add_argument("--dev", action="store_true", help="Django's auto-reloading development server")

    def handle(self, *args, **opts):
        from yiwang.core.startup import check_production_safety

        problem = check_production_safety()
        if problem:
            raise CommandError(problem)
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"一网 Yiwang: http://{opts['bind']}/  (Ctrl+C 停止 / to stop)")
        if opts["dev"]:
            call_command("runserver", opts["bind"])
            return
        argv = [sys.executable, "-m", "gunicorn", "yiwang.wsgi:application", "--bind", opts["bind"],
                "--workers", str(opts["workers"]), "--access-logfile", "-", "--timeout", "60"]
        os.execvp(argv[0], argv)
