"""证照共享: authorised use of a certificate (授权用证), every access to it (用证记录), the applicant's
consent to use a certificate instead of an upload (免提交), and bulk imports of historic certificates.

Imported at the end of ``certificates.models`` so the app's migrations see these models.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from yiwang.core.fields import EncryptedTextField
from yiwang.core.models import Organization

__all__ = ["CertificateGrant", "CertificateAccess", "CertificateConsent", "ImportRun"]


class CertificateGrant(models.Model):
    """授权用证: the holder lets one department or one OIDC client read one certificate, for a purpose,
    until a date; revocable at once."""

    class Grantee(models.TextChoices):
        ORGANIZATION = "organization", "部门"
        CLIENT = "client", "应用（OIDC 客户端）"

    class Scope(models.TextChoices):
        FACE = "face", "仅照面信息"
        FILE = "face_file", "照面信息和证照文件"

    certificate = models.ForeignKey("certificates.Certificate", on_delete=models.CASCADE, related_name="grants",
                                    verbose_name="证照")
    grantee_kind = models.CharField("被授权方类别", max_length=12, choices=Grantee.choices)
    grantee_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                             related_name="certificate_grants", verbose_name="被授权部门")
    grantee_application = models.ForeignKey("oauth2_provider.Application", null=True, blank=True,
                                            on_delete=models.CASCADE, related_name="certificate_grants",
                                            verbose_name="被授权应用")
    purpose = models.CharField("用证事由", max_length=200)
    scope = models.CharField("授权范围", max_length=10, choices=Scope.choices, default=Scope.FACE)
    valid_until = models.DateField("有效期至")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="授权人")
    on_behalf_of = models.CharField("代表", max_length=60, blank=True, help_text="enterprise:<信用代码>，本人为空")
    created_at = models.DateTimeField("授权时间", auto_now_add=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="撤销人")

    class Meta:
        verbose_name = verbose_name_plural = "授权用证"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["grantee_organization", "valid_until"]),
                   models.Index(fields=["grantee_application", "valid_until"])]
        constraints = [models.CheckConstraint(
            name="certificate_grant_one_grantee",
            condition=(models.Q(grantee_kind="organization", grantee_organization__isnull=False,
                                grantee_application__isnull=True)
                       | models.Q(grantee_kind="client", grantee_organization__isnull=True,
                                  grantee_application__isnull=False)))]

    def __str__(self) -> str:
        return f"{self.certificate_id} → {self.grantee_label}"

    @property
    def grantee_label(self) -> str:
        if self.grantee_kind == self.Grantee.ORGANIZATION:
            return getattr(self.grantee_organization, "name", "")
        return getattr(self.grantee_application, "name", "") or getattr(self.grantee_application, "client_id", "")

    @property
    def includes_file(self) -> bool:
        return self.scope == self.Scope.FILE

    def state(self, today=None) -> str:
        """active | revoked | expired"""
        if self.revoked_at is not None:
            return "revoked"
        if self.valid_until < (today or timezone.localdate()):
            return "expired"
        return "active"

    @property
    def state_label(self) -> str:
        return {"active": "有效", "revoked": "已撤销", "expired": "已过期"}[self.state()]


class CertificateAccess(models.Model):
    """用证记录: who read a certificate, when, why, what, through which path — refused attempts too."""

    class Channel(models.TextChoices):
        OFFICE = "office", "部门工作台（授权用证）"
        API = "api", "接口（授权用证）"
        CASE = "case", "办件材料（免提交）"

    class What(models.TextChoices):
        LIST = "list", "列表"
        FACE = "face", "照面信息"
        FILE = "file", "证照文件"

    certificate = models.ForeignKey("certificates.Certificate", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="accesses", verbose_name="证照")
    grant = models.ForeignKey(CertificateGrant, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="accesses", verbose_name="授权")
    channel = models.CharField("途径", max_length=8, choices=Channel.choices)
    what = models.CharField("查看内容", max_length=6, choices=What.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name="查看人")
    actor_name = models.CharField("查看人姓名", max_length=60, blank=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name="查看部门")
    client_id = models.CharField("应用标识", max_length=100, blank=True)
    client_name = models.CharField("应用名称", max_length=255, blank=True)
    purpose = models.CharField("事由", max_length=200, blank=True)
    case_number = models.CharField("办件编号", max_length=50, blank=True)
    allowed = models.BooleanField("是否准许", default=True)
    refusal = models.CharField("拒绝原因", max_length=200, blank=True)
    created_at = models.DateTimeField("时间", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = verbose_name_plural = "用证记录"
        ordering = ["-created_at", "-id"]

    @property
    def who(self) -> str:
        if self.client_id:
            return f"应用 {self.client_name or self.client_id}"
        org = getattr(self.organization, "name", "")
        return f"{org} {self.actor_name}".strip()


class CertificateConsent(models.Model):
    """免提交同意: the applicant agreed that this certificate stands in for this item's material."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="申请人")
    enterprise = models.ForeignKey("identity.Enterprise", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", verbose_name="代表企业")
    certificate = models.ForeignKey("certificates.Certificate", on_delete=models.CASCADE, related_name="consents",
                                    verbose_name="证照")
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.CASCADE, related_name="+", verbose_name="事项")
    material_name = models.CharField("材料名称", max_length=200)
    created_at = models.DateTimeField("同意时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "免提交同意"
        constraints = [models.UniqueConstraint(fields=["user", "certificate", "item", "material_name"],
                                               name="unique_certificate_consent")]


class ImportRun(models.Model):
    """存量证照导入: one uploaded file for one type — validated, then issued all at once by a job."""

    class State(models.TextChoices):
        INVALID = "invalid", "校验未通过"
        VALIDATED = "validated", "校验通过，待确认"
        QUEUED = "queued", "排队中"
        RUNNING = "running", "导入中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败（未导入任何证照）"

    certificate_type = models.ForeignKey("certificates.CertificateType", on_delete=models.PROTECT,
                                         related_name="import_runs", verbose_name="证照类型")
    file_name = models.CharField("文件名", max_length=120)
    file_sha256 = models.CharField("文件摘要", max_length=64)
    # The validated rows (holder codes included), kept encrypted until the run ends.
    rows_json = EncryptedTextField("待导入数据", context="certificate_import_rows", default="[]")
    total = models.PositiveIntegerField("总行数", default=0)
    done = models.PositiveIntegerField("已导入", default=0)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.VALIDATED)
    errors = models.JSONField("问题", default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="导入人")
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "存量证照导入"
        ordering = ["-created_at", "-id"]

    @property
    def rows(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.rows_json or "[]")
        except ValueError:
            return []
        return value if isinstance(value, list) else []

    @rows.setter
    def rows(self, value: list[dict[str, Any]]) -> None:
        self.rows_json = json.dumps(value, ensure_ascii=False)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED, self.State.INVALID)
