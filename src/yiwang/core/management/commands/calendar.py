"""``yiwang calendar``: working-day arithmetic and administrator overrides."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from yiwang.core import calendar


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD: {value!r}") from None


class Command(BaseCommand):
    help = "Working days: add-workdays DATE N, between START END, check DATE, set DATE workday|holiday [NAME]."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add-workdays")
        add.add_argument("date")
        add.add_argument("days", type=int)
        between = sub.add_parser("between")
        between.add_argument("start")
        between.add_argument("end")
        check = sub.add_parser("check")
        check.add_argument("date")
        setp = sub.add_parser("set", help="record an override (e.g. next year's holidays)")
        setp.add_argument("date")
        setp.add_argument("kind", choices=["workday", "holiday"])
        setp.add_argument("name", nargs="?", default="")

    def handle(self, *args, **opts):
        action = opts["action"]
        if action == "add-workdays":
            if opts["days"] < 0:
                raise CommandError("工作日数不能为负 / days must not be negative")
            self.stdout.write(calendar.add_working_days(_date(opts["date"]), opts["days"]).isoformat())
        elif action == "between":
            self.stdout.write(str(calendar.working_days_between(_date(opts["start"]), _date(opts["end"]))))
        elif action == "check":
            day = _date(opts["date"])
            known = "" if calendar.is_known(day) else "（无官方数据，按周末推定 / no published data: weekday rule）"
            self.stdout.write(f"{day} {'工作日 workday' if calendar.is_workday(day) else '休息日 day off'}{known}")
        else:
            from yiwang.core.services_calendar import set_override

            o = set_override(_date(opts["date"]), opts["kind"] == "workday", opts["name"])
            self.stdout.write(f"已记录 / recorded: {o}")
