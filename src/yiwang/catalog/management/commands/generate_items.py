"""``yiwang generate_items N [--seed S]``: bulk-load N synthetic published items (benchmarks, load tests)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from yiwang.catalog import synthetic


class Command(BaseCommand):
    help = "生成 N 个已发布的模拟实施清单事项（用于性能测试）/ create N synthetic published items."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="事项数量 / number of items")
        parser.add_argument("--seed", type=int, default=1, help="随机种子（相同种子生成相同内容）/ random seed")

    def handle(self, *args, count: int, seed: int, **opts):
        if count < 1 or count > 2_000_000:
            raise CommandError("数量应在 1 到 2000000 之间 / count must be between 1 and 2,000,000")
        started = time.monotonic()
        verbose = opts.get("verbosity", 1) >= 2

        def progress(done: int) -> None:
            if verbose:
                self.stdout.write(f"  {done}/{count}  {time.monotonic() - started:.1f}s")

        try:
            result = synthetic.generate(count, seed=seed, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"已生成 {result.created} 个事项，用时 {time.monotonic() - started:.1f} 秒"
            f"（新建机构 {result.organizations_created} 个，基本目录事项 {result.basic_items_created} 个）"
            f" / created {result.created} items")
