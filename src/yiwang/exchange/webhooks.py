"""Signed webhooks: case events as CloudEvents 1.0 JSON, signed with HMAC-SHA256 (docs/webhooks.md).

``publish(case, event_type, data)`` is called by the case services inside their transaction. It
writes one ``WebhookDelivery`` per matching active subscription of the case's organisation (and
of the accepting organisation when different) and enqueues the job that sends it, so a
rolled-back case change sends nothing, and a committed one is sent at least once.

Every request carries::

    Yiwang-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>
    Yiwang-Event-Id: <the CloudEvents id; the same on every retry>

Receivers check it with :func:`verify_signature`. Redirects are never followed; a 2xx answer
is delivered, anything else (or no answer within the timeout) is retried with growing delays
by the jobs layer, up to ``MAX_ATTEMPTS`` attempts in all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yiwang.core.masking import mask_name

# event type (CloudEvents type: cn.yiwang.case.<event type>) → label
EVENT_TYPES: dict[str, str] = {
    "submitted": "提交申请",
    "accepted": "受理",
    "not_accepted": "不予受理",
    "correction_requested": "一次性告知补正",
    "resubmitted": "补正后重新提交",
    "step_completed": "环节办理完成",
    "decided": "作出决定",
    "completed": "办结",
    "withdrawn": "申请人撤回",
    "suspended": "特别程序开始",
    "resumed": "特别程序结束",
    "extended": "批准延期",
    "warning": "时限预警",
}
TYPE_PREFIX = "cn.yiwang.case."
SOURCE = "urn:yiwang:cases"
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 5
SIGNATURE_HEADER = "Yiwang-Signature"
EVENT_ID_HEADER = "Yiwang-Event-Id"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_ERROR = 500


class UnknownEvent(ValueError):
    """A case service named an event type that does not exist (a programming error)."""


# ----------------------------------------------------------------------------- target addresses
def allow_http_loopback() -> bool:
    return bool(getattr(settings, "YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK", False))


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks (bilingual), or None.

    ``https://`` only; ``http://`` is accepted for localhost/127.0.0.1 when the
    ``YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK`` setting allows it (development and tests).
    """
    url = (url or "").strip()
    if not url:
        return "请填写接收地址 / enter the target URL"
    if len(url) > 500:
        return "地址不超过500个字符 / at most 500 characters"
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # reading the port also raises ValueError when it is malformed
            raise ValueError(url)
    except ValueError:
        return "地址格式不正确 / not a valid URL"
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return "地址须以 https:// 开头 / the URL must start with https://"
    if parts.username or parts.password:
        return "地址中不能包含用户名或密码 / no credentials in the URL"
    if parts.fragment:
        return "地址不能包含 # 片段 / no #fragment"
    if parts.scheme == "http":
        if host not in LOOPBACK_HOSTS:
            return "须使用 https:// / the URL must use https://"
        if not allow_http_loopback():
            return ("本平台未允许 http 本机地址，请使用 https:// / plain http to localhost is not allowed "
                    "on this platform; use https://")
    return None


# ----------------------------------------------------------------------------- signatures
def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> str:
    """The ``Yiwang-Signature`` header value for ``body`` at ``timestamp`` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes | str, tolerance: int = 300,
                     now: float | None = None) -> bool:
    """Whether ``header`` (``Yiwang-Signature``) signs ``body`` with ``secret`` within ``tolerance`` s.

    For receivers: pass the raw request body, before any JSON parsing. False for a missing or
    malformed header, a timestamp further than ``tolerance`` seconds from now (replays), or a
    signature that does not match (a tampered body, a wrong secret). Several ``v1=`` values
    are accepted (any one may match).
    """
    if not header or not secret:
        return False
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, c) for c in candidates)


# ----------------------------------------------------------------------------- events
def _open_steps(case) -> list[dict[str, Any]]:
    return [{"id": s.pk, "key": s.key, "name": s.name, "role": s.role,
             "due_date": s.due_date.isoformat() if s.due_date else None}
            for s in case.steps.filter(state="open").order_by("started_at", "id")]


def event_data(case, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an event says about the case: no personal data beyond a masked applicant name."""
    person = case.applicant_id_type == "111"
    body = {
        "number": case.number,
        "item_code": case.item.implementation_code if case.item_id else "",
        "item_name": case.item_name,
        "organization": case.organization.uscc,
        "status": case.status,
        "status_label": case.get_status_display(),
        "decision": case.decision or None,
        "due_date": case.due_date.isoformat() if case.due_date else None,
        "warning": case.warning or None,
        "applicant": {"type": "person" if person else "enterprise",
                      "name": mask_name(case.applicant_name) if person else case.applicant_name},
        "open_steps": _open_steps(case),
        "lock_version": case.lock_version,
    }
    if data:
        body.update({k: v for k, v in data.items() if k not in body})
    return body


def envelope(case, event_type: str, event_id: uuid.UUID, data: dict[str, Any] | None = None,
             at: dt.datetime | None = None) -> dict[str, Any]:
    at = at or timezone.now()
    return {
        "specversion": "1.0",
        "id": str(event_id),
        "source": SOURCE,
        "type": TYPE_PREFIX + event_type,
        "time": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "subject": case.number,
        "datacontenttype": "application/json",
        "data": event_data(case, data),
    }


def matching_subscriptions(case, event_type: str):
    from yiwang.exchange.models import WebhookSubscription

    orgs = sorted({case.organization_id, case.accepting_org_id} - {None})
    if not orgs:
        return []
    # Every case event asks, and most departments have no subscription: a plain, narrow read
    # first, the full rows only for what matches.
    table = connection.ops.quote_name(WebhookSubscription._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, event_types FROM {table} WHERE is_active AND organization_id IN "
                    f"({', '.join(['%s'] * len(orgs))})", orgs)
        rows = cur.fetchall()
    wanted = [pk for pk, types in rows if event_type in (json.loads(types) if isinstance(types, str) else types or [])]
    return list(WebhookSubscription.objects.filter(pk__in=wanted).order_by("pk")) if wanted else []


def publish(case, event_type: str, data: dict[str, Any] | None = None) -> list:
    """Queue ``event_type`` about ``case`` for every matching subscription; call inside the
    transaction that changed the case. Returns the deliveries created (often none)."""
    if event_type not in EVENT_TYPES:
        raise UnknownEvent(f"unknown webhook event type {event_type!r}")
    subscriptions = matching_subscriptions(case, event_type)
    if not subscriptions:
        return []
    from yiwang.core import jobs
    from yiwang.exchange.models import WebhookDelivery
    from yiwang.exchange.tasks import deliver_webhook

    event_id = uuid.uuid4()
    body = json.dumps(envelope(case, event_type, event_id, data), ensure_ascii=False, separators=(",", ":"),
                      default=str)
    deliveries = []
    for sub in subscriptions:
        delivery = WebhookDelivery.objects.create(subscription=sub, event_id=event_id, event_type=event_type,
                                                  case_number=case.number, body=body)
        deliveries.append(delivery)
        jobs.enqueue(deliver_webhook, delivery_id=delivery.pk, dedupe_key=f"webhook:{delivery.pk}")
    return deliveries


# ----------------------------------------------------------------------------- sending
def _headers(delivery, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Yiwang-Webhooks/1.0",
            SIGNATURE_HEADER: sign(secret, delivery.body.encode("utf-8")),
            EVENT_ID_HEADER: str(delivery.event_id),
            "Yiwang-Event-Type": TYPE_PREFIX + delivery.event_type}


def allowed_networks() -> list:
    import ipaddress

    return [ipaddress.ip_network(n.strip(), strict=False)
            for n in getattr(settings, "YIWANG_WEBHOOKS_ALLOWED_NETWORKS", []) if n.strip()]


def address_problem(url: str) -> str | None:
    """Refuse targets that resolve to internal addresses (loopback, private, link-local, reserved,
    multicast) unless the operator listed their network in ``YIWANG_WEBHOOKS_ALLOWED_NETWORKS``
    (department systems on the government network) — or it is loopback and http loopback is
    allowed (development and tests). Checked before every attempt."""
    import ipaddress
    import socket

    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        return f"无法解析接收地址 / cannot resolve the target host: {exc}"[:MAX_ERROR]
    networks = allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if any(address in n for n in networks):
            continue
        if address.is_loopback and allow_http_loopback():
            continue
        if (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified):
            return (f"接收地址解析到内部网络地址 {address}，未在允许的网络中 / the target resolves to an "
                    f"internal address ({address}) that is not in YIWANG_WEBHOOKS_ALLOWED_NETWORKS")
    return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    import requests

    refused = address_problem(url)
    if refused:
        return None, refused
    try:
        with requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False,
                           stream=True) as response:
            code = response.status_code
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return code, f"HTTP {code}：不跟随重定向 / redirects are not followed"
    return code, f"HTTP {code}"


def attempt(delivery_id: int):
    """Send a pending delivery once and record the attempt; returns the delivery after it, with
    ``sent_now`` true when a request was made (false when there was nothing to send)."""
    from yiwang.exchange.models import WebhookDelivery

    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
    sub, sent = delivery.subscription, False
    problem = url_problem(sub.target_url)
    if not sub.is_active:
        code, error, final = None, "订阅已停用，不再投递 / the subscription is inactive", True
    elif problem:
        code, error, final = None, problem, True
    else:
        headers = _headers(delivery, sub.secret)
        code, error = _post(sub.target_url, delivery.body.encode("utf-8"), headers)
        final, sent = False, True
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.last_status_code, delivery.last_error = now, code, error[:MAX_ERROR]
        if not error:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = \
                WebhookDelivery.Status.DELIVERED, now, None
        elif final or delivery.attempts - delivery.round_start >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=_next_delay(delivery.attempts
                                                                              - delivery.round_start + 1))
        delivery.save()
    delivery.sent_now = sent
    return delivery


def _next_delay(attempt_number: int) -> float:
    from yiwang.core import jobs
    from yiwang.exchange.tasks import deliver_webhook

    return jobs.definition(deliver_webhook).delay_before_attempt(attempt_number)
