"""``yiwang audit verify``: walk the hash chain; exit non-zero naming the first bad entry."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from yiwang.core import audit


class Command(BaseCommand):
    help = "Audit trail tools: verify (walk the hash chain), append (write test entries)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="verify the whole chain")
        append = sub.add_parser("append", help="append N entries (load and concurrency checks)")
        append.add_argument("count", type=int)
        append.add_argument("--label", default="cli")

    def handle(self, *args, **opts):
        if opts["action"] == "append":
            with audit.acting_as(f"system:{opts['label']}"):
                for i in range(opts["count"]):
                    audit.record("audit.probe", "Probe", f"{opts['label']}-{i}", detail={"n": i})
            self.stdout.write(f"appended {opts['count']}")
            return
        result = audit.verify()
        if not result.ok:
            raise CommandError(f"审计链校验失败 / audit chain broken at entry {result.seq}: {result.problem}")
        self.stdout.write(f"审计链完整，共 {result.checked} 条 / audit chain intact: {result.checked} entries; "
                          f"head {result.head}")
