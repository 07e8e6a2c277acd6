"""数据交换: signed webhooks to department systems, their delivery log, and department API clients.

A subscription belongs to one organisation and receives the events of that organisation's
cases (as owner or as accepting window). Each event becomes one ``WebhookDelivery`` per
subscription, written in the same transaction as the case change, so a rolled-back change
sends nothing. The body is stored exactly as sent: the signature covers those bytes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from yiwang.core.fields import EncryptedTextField
from yiwang.core.models import Organization


class WebhookSubscription(models.Model):
    """事件订阅: where a department's system wants case events sent, and the key to sign them."""

    organization = models.ForeignKey(Organization, verbose_name="所属机构", on_delete=models.PROTECT,
                                     related_name="webhook_subscriptions")
    target_url = models.URLField("接收地址", max_length=500)
    secret = EncryptedTextField("签名密钥", context="exchange.webhook_secret")
    event_types = models.JSONField("事件类型", default=list)
    description = models.CharField("说明", max_length=200, blank=True)
    is_active = models.BooleanField("在用", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="创建人")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    deactivated_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "事件订阅"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "is_active"], name="webhook_org_active")]

    def __str__(self) -> str:
        return f"{self.organization} → {self.target_url}"


class WebhookDelivery(models.Model):
    """事件投递记录: one event sent (or being sent) to one subscription, with every attempt counted."""

    class Status(models.TextChoices):
        PENDING = "pending", "待投递"
        DELIVERED = "delivered", "已送达"
        FAILED = "failed", "投递失败"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries",
                                     verbose_name="订阅")
    event_id = models.UUIDField("事件标识", default=uuid.uuid4, db_index=True, editable=False)
    event_type = models.CharField("事件类型", max_length=60)
    case_number = models.CharField("办件编号", max_length=50, db_index=True)
    body = models.TextField("请求体（JSON，按发送原样）")
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    round_start = models.PositiveSmallIntegerField("本轮起始次数", default=0)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    last_status_code = models.PositiveSmallIntegerField("最近 HTTP 状态", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=500, blank=True)
    next_attempt_at = models.DateTimeField("下次尝试（约）", null=True, blank=True)
    created_at = models.DateTimeField("产生时间", auto_now_add=True)
    last_attempt_at = models.DateTimeField("最近尝试", null=True, blank=True)
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "事件投递记录"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_recent"),
                   models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]
        # One event goes to several subscriptions under the same CloudEvents id.
        constraints = [models.UniqueConstraint(fields=["subscription", "event_id"], name="unique_webhook_event")]

    @property
    def event_label(self) -> str:
        from yiwang.exchange.webhooks import EVENT_TYPES

        return EVENT_TYPES.get(self.event_type, self.event_type)


class DepartmentClient(models.Model):
    """部门系统: an OAuth 2 client (client credentials) bound to one organisation.

    Its requests act as a service staff account of that organisation (roles reviewer and
    approver), so the case services' permission checks and organisation scoping apply to it
    exactly as to a person at the workbench.
    """

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE,
                                       related_name="department_client", verbose_name="应用")
    organization = models.ForeignKey(Organization, verbose_name="所属机构", on_delete=models.PROTECT,
                                     related_name="department_clients")
    service_account = models.OneToOneField("identity.StaffAccount", on_delete=models.PROTECT,
                                           related_name="department_client", verbose_name="服务账号")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="登记人")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "部门系统"

    def __str__(self) -> str:
        return f"{self.application.name}（{self.organization}）"
