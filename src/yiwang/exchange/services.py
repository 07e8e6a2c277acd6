"""Use cases of data exchange: webhook subscriptions, resending deliveries, department clients.

Organisation administrators manage the subscriptions of their organisation (and its
sub-units), platform administrators those of any. Each function is one transaction with its
audit entry; secrets are returned once and never audited.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from yiwang.core import audit, jobs
from yiwang.core.errors import NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization
from yiwang.exchange import webhooks
from yiwang.exchange.models import DepartmentClient, WebhookDelivery, WebhookSubscription
from yiwang.identity import scoping
from yiwang.identity.models import Role, StaffAccount

INVALID = "填写有误，请按提示修改 / please correct the marked fields"
MAX_SUBSCRIPTIONS_PER_ORG = 20
CASE_SCOPES = ("cases:read", "cases:write")


def may_manage(user, organization_id: int) -> bool:
    """机构管理员 for the organisation (or a parent), or a platform administrator."""
    return scoping.is_platform_admin(user) or scoping.can_act_for(user, organization_id, Role.ORG_ADMIN)


def manageable_subscriptions(user):
    qs = WebhookSubscription.objects.select_related("organization")
    if scoping.is_platform_admin(user):
        return qs
    return scoping.scope_queryset(qs, user, role=Role.ORG_ADMIN)


def get_subscription_for(user, pk: int) -> WebhookSubscription:
    sub = manageable_subscriptions(user).filter(pk=pk).first()
    if sub is None:
        raise NotFound("未找到该订阅 / subscription not found")
    return sub


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _snapshot(sub: WebhookSubscription) -> dict[str, Any]:
    return {"organization": sub.organization.uscc, "target_url": sub.target_url,
            "event_types": list(sub.event_types), "is_active": sub.is_active}


@transaction.atomic
def create_subscription(user, *, organization: Organization | None, target_url: str, event_types,
                        description: str = "") -> tuple[WebhookSubscription, str]:
    """新建事件订阅. Returns the subscription and its signing secret (the only time it is shown)."""
    errors: dict[str, list[str]] = {}
    if organization is None:
        errors["organization"] = ["请选择机构 / choose the organisation"]
    elif not may_manage(user, organization.pk):
        raise NotPermitted("只有本机构的机构管理员或平台管理员可以管理事件订阅 / only the organisation's "
                           "administrators may manage its subscriptions")
    target_url = (target_url or "").strip()
    problem = webhooks.url_problem(target_url)
    if problem:
        errors["target_url"] = [problem]
    chosen = list(dict.fromkeys(str(e) for e in (event_types or [])))
    wrong = [e for e in chosen if e not in webhooks.EVENT_TYPES]
    if wrong:
        errors["event_types"] = [f"未知的事件类型：{'、'.join(wrong)} / unknown event types: {' '.join(wrong)}"]
    elif not chosen:
        errors["event_types"] = ["请至少选择一种事件 / choose at least one event type"]
    description = (description or "").strip()
    if len(description) > 200:
        errors["description"] = ["说明不超过200字 / at most 200 characters"]
    if organization is not None and not errors and WebhookSubscription.objects.filter(
            organization=organization, is_active=True).count() >= MAX_SUBSCRIPTIONS_PER_ORG:
        errors["target_url"] = [(f"每个机构最多 {MAX_SUBSCRIPTIONS_PER_ORG} 个在用订阅 / at most "
                                 f"{MAX_SUBSCRIPTIONS_PER_ORG} active subscriptions per organisation")]
    if errors:
        raise ValidationFailed(INVALID, fields=errors)
    secret = new_secret()
    sub = WebhookSubscription.objects.create(
        organization=organization, target_url=target_url, secret=secret,
        event_types=[e for e in webhooks.EVENT_TYPES if e in chosen], description=description,
        created_by=user if getattr(user, "pk", None) else None)
    audit.record("exchange.webhook.create", "WebhookSubscription", str(sub.pk), after=_snapshot(sub),
                 actor=audit.actor_name(user))
    return sub, secret


@transaction.atomic
def deactivate_subscription(user, subscription: WebhookSubscription) -> WebhookSubscription:
    """停用: nothing more is sent to it; pending deliveries end as failed at their next attempt."""
    sub = WebhookSubscription.objects.select_for_update().select_related("organization").get(pk=subscription.pk)
    if not may_manage(user, sub.organization_id):
        raise NotFound("未找到该订阅 / subscription not found")
    if not sub.is_active:
        raise StateError("该订阅已停用 / the subscription is already inactive")
    before = _snapshot(sub)
    sub.is_active, sub.deactivated_at = False, timezone.now()
    sub.save(update_fields=["is_active", "deactivated_at"])
    audit.record("exchange.webhook.deactivate", "WebhookSubscription", str(sub.pk), before=before,
                 after=_snapshot(sub), actor=audit.actor_name(user))
    return sub


@transaction.atomic
def resend_delivery(user, delivery: WebhookDelivery) -> WebhookDelivery:
    """重新投递: the same event (same id and body, freshly signed), with a new round of attempts."""
    from yiwang.exchange.tasks import deliver_webhook

    d = WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
    if not may_manage(user, d.subscription.organization_id):
        raise NotFound("未找到该投递记录 / delivery not found")
    if not d.subscription.is_active:
        raise StateError("订阅已停用，不能重新投递 / the subscription is inactive")
    if d.status == WebhookDelivery.Status.PENDING and d.attempts == d.round_start:
        raise StateError("该事件正在等待投递 / this delivery is already waiting to be sent")
    d.status, d.round_start, d.delivered_at, d.next_attempt_at = (WebhookDelivery.Status.PENDING, d.attempts,
                                                                  None, timezone.now())
    d.save(update_fields=["status", "round_start", "delivered_at", "next_attempt_at"])
    jobs.enqueue(deliver_webhook, delivery_id=d.pk, dedupe_key=f"webhook:{d.pk}:{d.round_start}")
    audit.record("exchange.webhook.resend", "WebhookDelivery", str(d.event_id),
                 detail={"subscription": d.subscription_id, "event_type": d.event_type, "case": d.case_number},
                 actor=audit.actor_name(user))
    return d


# ----------------------------------------------------------------------------- department systems
@transaction.atomic
def register_department_client(user, *, organization: Organization, name: str,
                               scopes=CASE_SCOPES, description: str = "") -> tuple[DepartmentClient, str]:
    """登记部门系统: a confidential client-credentials client bound to ``organization``, with a
    service staff account (reviewer, approver) it acts as. Returns it and the client secret
    (shown once)."""
    from oauth2_provider.generators import generate_client_secret
    from oauth2_provider.models import Application

    from yiwang.identity.models import ClientPolicy

    if not scoping.is_platform_admin(user):
        raise NotPermitted("只有平台管理员可以登记部门系统 / only platform administrators may register "
                           "department systems")
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = ["请填写系统名称（不超过100字）/ enter a name of at most 100 characters"]
    elif Application.objects.filter(name__iexact=name).exists():
        errors["name"] = ["已有同名应用，请换一个名称 / another client has this name"]
    scopes = list(dict.fromkeys(scopes or ()))
    if not scopes or any(s not in CASE_SCOPES for s in scopes):
        errors["scopes"] = ["权限范围只能是 cases:read、cases:write / scopes must be cases:read and/or cases:write"]
    if errors:
        raise ValidationFailed(INVALID, fields=errors)
    secret = generate_client_secret()
    app = Application.objects.create(
        name=name, client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, redirect_uris="",
        client_secret=secret, hash_client_secret=True, skip_authorization=False,
        algorithm=Application.NO_ALGORITHM)
    ClientPolicy.objects.create(application=app, allowed_scopes=scopes, description=description[:200],
                                created_by=user)
    account = get_user_model().objects.create_user(username=f"system-{app.client_id[:20].lower()}")
    account.set_unusable_password()  # it never signs in to the pages; only its client's tokens act as it
    account.save()
    staff = StaffAccount.objects.create(user=account, organization=organization,
                                        roles=[Role.REVIEWER, Role.APPROVER], display_name=f"{name}（部门系统）"[:60])
    client = DepartmentClient.objects.create(application=app, organization=organization, service_account=staff,
                                             created_by=user)
    audit.record("exchange.department_client.create", "Application", app.client_id,
                 after={"name": name, "organization": organization.uscc, "scopes": scopes,
                        "service_account": account.get_username()}, actor=audit.actor_name(user))
    return client, secret


def client_for_token(token) -> DepartmentClient | None:
    """The department client behind an access token issued by the client-credentials grant."""
    if token is None or getattr(token, "user_id", None) is not None or not token.application_id:
        return None
    return (DepartmentClient.objects.select_related("service_account__user", "service_account__organization",
                                                    "organization")
            .filter(application_id=token.application_id).first())
