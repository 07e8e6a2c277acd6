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
