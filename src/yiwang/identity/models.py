"""Staff accounts bound to an organisation, with roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from yiwang.core.models import Organization


class Role(models.TextChoices):
    CLERK = "clerk", "综合窗口"
    REVIEWER = "reviewer", "审查人员"
    APPROVER = "approver", "审批人员"
    CATALOG_ADMIN = "catalog_admin", "事项管理员"
    ORG_ADMIN = "org_admin", "机构管理员"
    SUPERVISOR = "supervisor", "电子监察"
    PLATFORM_ADMIN = "platform_admin", "平台管理员"


class StaffAccount(models.Model):
    """工作人员: a user who acts for one organisation (and, by role, its children)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    organization = models.ForeignKey(Organization, verbose_name="所属机构", on_delete=models.PROTECT,
                                     related_name="staff")
    roles = models.JSONField("角色", default=list)
    display_name = models.CharField("姓名", max_length=60, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "工作人员"

    def __str__(self) -> str:
        return f"{self.display_name or self.user.get_username()}（{self.organization}）"

    def has_role(self, role: str) -> bool:
        return role in self.roles
