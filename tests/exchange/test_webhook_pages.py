"""事件订阅 pages: organisation administrators manage their organisation's webhooks."""

from __future__ import annotations

import pytest

from tests.cases.conftest import act, submit
from tests.exchange.conftest import subscribe
from tests.identity.helpers_totp import sign_in_staff
from yiwang.core.models import AuditEntry
from yiwang.exchange.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_an_org_admin_creates_a_subscription_and_sees_the_secret_once(client, org_a, org_admin_a):
    sign_in_staff(client, org_admin_a)
    form = client.get("/office/webhooks/new/")
    assert form.status_code == 200 and "接收地址" in form.content.decode()
    page = client.post("/office/webhooks/new/", {"organization": org_a.pk, "target_url": "https://dept.example.cn/h",
                                                 "event_types": ["accepted", "decided"], "description": "监管系统"})
    assert page.status_code == 200
    sub = WebhookSubscription.objects.get()
    assert sub.secret in page.content.decode() and sub.secret.startswith("whsec_")
    assert page["Cache-Control"] and "no-cache" in page["Cache-Control"]
    assert sub.event_types == ["accepted", "decided"] and sub.created_by == org_admin_a
    detail = client.get(f"/office/webhooks/{sub.pk}/").content.decode()
    assert "https://dept.example.cn/h" in detail and sub.secret not in detail  # never shown again
    assert sub.secret not in str(AuditEntry.objects.filter(action="exchange.webhook.create").get().__dict__)
    assert "dept.example.cn" in client.get("/office/webhooks/").content.decode()


def test_a_bad_form_comes_back_with_messages_per_field(client, org_a, org_admin_a):
    sign_in_staff(client, org_admin_a)
    page = client.post("/office/webhooks/new/", {"organization": org_a.pk, "target_url": "http://dept.example.cn/h"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "https://" in html and "error-summary" in html and "事件类型" in html
    assert not WebhookSubscription.objects.exists()


def test_an_org_admin_cannot_subscribe_for_another_organisation(client, org_b, org_admin_a):
    sign_in_staff(client, org_admin_a)
    page = client.post("/office/webhooks/new/", {"organization": org_b.pk, "target_url": "https://x.example.cn/h",
                                                 "event_types": ["accepted"]})
    assert page.status_code == 400  # not among the choices
    assert not WebhookSubscription.objects.exists()


def test_another_organisations_subscription_is_404_and_staff_without_the_role_403(client, org_a, org_admin_a,
                                                                                 org_admin_b, people):
    sub, _ = subscribe(org_admin_a, org_a, "https://dept.example.cn/h")
    sign_in_staff(client, org_admin_b)
    assert client.get(f"/office/webhooks/{sub.pk}/").status_code == 404
    assert client.post(f"/office/webhooks/{sub.pk}/deactivate/").status_code == 404
    assert "dept.example.cn" not in client.get("/office/webhooks/").content.decode()
    sign_in_staff(client, people["reviewer"])
    assert client.get("/office/webhooks/").status_code == 403


def test_a_platform_admin_sees_every_subscription(client, org_a, org_admin_a, platform_admin):
    subscribe(org_admin_a, org_a, "https://dept.example.cn/h")
    sign_in_staff(client, platform_admin)
    assert "dept.example.cn" in client.get("/office/webhooks/").content.decode()


def test_the_delivery_log_shows_attempts_and_a_failed_event_can_be_resent(client, receiver, org_a, org_admin_a,
                                                                          applicant, item, people,
                                                                          django_capture_on_commit_callbacks):
    hook = receiver(codes=(500, 200))
    sub, _ = subscribe(org_admin_a, org_a, hook.url)
    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    delivery = WebhookDelivery.objects.get()
    delivery.status = WebhookDelivery.Status.FAILED  # as after the last attempt
    delivery.save()

    sign_in_staff(client, org_admin_a)
    log = client.get(f"/office/webhooks/{sub.pk}/").content.decode()
    assert case.number in log and "HTTP 500" in log and "投递失败" in log and "重新投递" in log

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/office/webhooks/deliveries/{delivery.pk}/resend/")
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
    assert len(hook.requests) == 2
    assert "已送达" in client.get(f"/office/webhooks/{sub.pk}/?status=delivered").content.decode()


def test_deactivating_stops_the_events(client, receiver, org_a, org_admin_a, applicant, item, people,
                                       django_capture_on_commit_callbacks):
    hook = receiver()
    sub, _ = subscribe(org_admin_a, org_a, hook.url)
    sign_in_staff(client, org_admin_a)
    assert client.post(f"/office/webhooks/{sub.pk}/deactivate/").status_code == 302
    sub.refresh_from_db()
    assert not sub.is_active and sub.deactivated_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    assert hook.requests == [] and not WebhookDelivery.objects.exists()
    assert AuditEntry.objects.filter(action="exchange.webhook.deactivate").exists()


def test_the_office_navigation_links_the_webhooks_for_administrators(client, org_admin_a):
    sign_in_staff(client, org_admin_a)
    assert 'href="/office/webhooks/"' in client.get("/office/webhooks/").content.decode()


def test_a_delivery_that_failed_without_a_retrier_can_be_sent_again_now(client, receiver, org_a, org_admin_a,
                                                                        applicant, item, people,
                                                                        django_capture_on_commit_callbacks):
    hook = receiver(codes=(500, 200))
    sub, _ = subscribe(org_admin_a, org_a, hook.url)
    with django_capture_on_commit_callbacks(execute=True):  # the immediate backend: no retries
        act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1

    sign_in_staff(client, org_admin_a)
    assert "重新投递" in client.get(f"/office/webhooks/{sub.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/office/webhooks/deliveries/{delivery.pk}/resend/")
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2


def test_a_delivery_waiting_for_its_first_attempt_cannot_be_queued_twice(org_a, org_admin_a, applicant, item,
                                                                         people):
    from yiwang.core.errors import StateError
    from yiwang.exchange import services

    subscribe(org_admin_a, org_a, "https://dept.example.cn/h")
    act(people["clerk"], submit(applicant, item), "pre_review", "accept")  # not committed: not yet sent
    with pytest.raises(StateError):
        services.resend_delivery(org_admin_a, WebhookDelivery.objects.get())
