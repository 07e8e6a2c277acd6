"""yiwang demo: load the demo city 临江市 (idempotent)."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "加载演示数据：临江市的区划、机构、账号和政务服务事项（可重复执行）/ load the demo city"

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true",
                            help="在生产环境中也加载（不建议）/ load even when YIWANG_ENV=production")

    def handle(self, *args, force: bool = False, **options):
        production = getattr(settings, "PRODUCTION", False) or os.environ.get("YIWANG_ENV") == "production"
        if production and not force:
            raise CommandError("生产环境（YIWANG_ENV=production）不加载演示数据；确需加载请加 --force / "
                               "refusing to load demo data in production; pass --force to override")
        from yiwang.demo import load_demo

        started = time.monotonic()
        summary = load_demo()
        for line in summary.lines():
            self.stdout.write(line)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"演示数据已就绪（用时 {elapsed:.1f} 秒）/ demo data ready"))
