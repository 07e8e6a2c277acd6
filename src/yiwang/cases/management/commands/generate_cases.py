"""``yiwang generate_cases N [--seed S]``: bulk-load N synthetic cases (demo, load tests, benchmarks)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from yiwang.cases import synthetic


class Command(BaseCommand):
    help = "生成 N 个模拟办件（各种状态，用于演示和性能测试）/ create N synthetic cases in every state."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="办件数量 / number of cases")
        parser.add_argument("--seed", type=int, default=1, help="随机种子（相同种子生成相同内容）/ random seed")

    def handle(self, *args, count: int, seed: int, **opts):
        if count < 1 or count > 10_000_000:
            raise CommandError("数量应在 1 到 10000000 之间 / count must be between 1 and 10,000,000")
        started = time.monotonic()
        verbose = opts.get("verbosity", 1) >= 2

        def progress(done: int) -> None:
            if verbose or done % 100_000 == 0:
                self.stdout.write(f"  {done}/{count}  {time.monotonic() - started:.1f}s")

        try:
            result = synthetic.generate(count, seed=seed, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        mix = "，".join(f"{k} {v}" for k, v in sorted(result.by_status.items()))
        self.stdout.write(
            f"已生成 {result.created} 个办件，用时 {time.monotonic() - started:.1f} 秒（{mix}；"
            f"新注册申请人 {result.applicants_registered} 个） / created {result.created} cases")
