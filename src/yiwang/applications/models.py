"""网上申报: each item version's application form, and applicants' saved drafts."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from yiwang.core.fields import EncryptedTextField


class ItemForm(models.Model):
    """电子表单: the form of one item version (JSON Schema + layout); versioned with the item."""

    version = models.OneToOneField("catalog.ItemVersion", on_delete=models.CASCADE, related_name="form")
    definition = models.JSONField("表单定义")
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "电子表单"


class Draft(models.Model):
    """申请草稿: what an applicant has filled in so far (auto-saved)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="application_drafts")
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.CASCADE, related_name="+")
    enterprise = models.ForeignKey("identity.Enterprise", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    data = EncryptedTextField("已填内容（JSON）", context="draft_form", blank=True, default="{}")
    delivery = models.CharField("送达方式", max_length=12, blank=True, default="window")
    updated_at = models.DateTimeField("保存时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "申请草稿"
        # One draft per applicant, item and acting identity (oneself, or each enterprise).
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], condition=models.Q(enterprise__isnull=True),
                                    name="unique_own_draft"),
            models.UniqueConstraint(fields=["user", "item", "enterprise"],
                                    condition=models.Q(enterprise__isnull=False), name="unique_enterprise_draft"),
        ]


def draft_file_path(instance: "DraftFile", filename: str) -> str:
    import os
    import secrets

    return f"drafts/{instance.draft_id}/{secrets.token_hex(12)}{os.path.splitext(filename)[1].lower()}"


class DraftFile(models.Model):
    """A material already uploaded to a draft, kept until the application is submitted."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="files")
    material = models.ForeignKey("catalog.Material", on_delete=models.CASCADE, related_name="+")
    file = models.FileField("文件", upload_to=draft_file_path)
    original_name = models.CharField("原文件名", max_length=120)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_at = models.DateTimeField("上传时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "草稿材料"
        constraints = [models.UniqueConstraint(fields=["draft", "material"], name="unique_draft_material")]
