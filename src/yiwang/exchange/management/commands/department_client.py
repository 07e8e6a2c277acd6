"""``yiwang department_client``: register a department system for the case API (部门系统登记)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError
from yiwang.core.models import Organization
from yiwang.exchange import services


class Command(BaseCommand):
    help = ("Register a department system (client credentials, scopes cases:read and cases:write) bound to an "
            "organisation; prints its client_id and client_secret once.")

    def add_arguments(self, parser):
        parser.add_argument("organization", help="统一社会信用代码 / the organisation's USCC")
        parser.add_argument("name", help="系统名称 / the system's name")
        parser.add_argument("--by", required=True, help="登记人（平台管理员用户名）/ a platform administrator")
        parser.add_argument("--read-only", action="store_true", help="只授予 cases:read / only cases:read")

    def handle(self, *args, **opts):
        admin = get_user_model().objects.filter(username=opts["by"]).first()
        organization = Organization.objects.filter(uscc=opts["organization"]).first()
        if admin is None:
            raise CommandError(f"没有用户 {opts['by']} / no such user")
        if organization is None:
            raise CommandError(f"没有机构 {opts['organization']} / no such organisation")
        scopes = ["cases:read"] if opts["read_only"] else list(services.CASE_SCOPES)
        try:
            client, secret = services.register_department_client(admin, organization=organization,
                                                                  name=opts["name"], scopes=scopes)
        except DomainError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from None
        self.stdout.write(f"client_id={client.application.client_id}")
        self.stdout.write(f"client_secret={secret}")
        self.stdout.write(f"scopes={' '.join(scopes)}")
        self.stdout.write("密钥只显示这一次 / the secret is shown only this once")
