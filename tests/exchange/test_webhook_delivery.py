"""Case events reach department systems as signed CloudEvents, with retries and a delivery log.

The receiver is a real HTTP server on 127.0.0.1: nothing of the platform's HTTP layer is mocked.
"""

from __future__ import annotations

import json
import time

import pytest
from django.db import transaction

from tests.cases.conftest import act, submit
from tests.exchange.conftest import subscribe
from yiwang.exchange import services
from yiwang.exchange.models import WebhookDelivery
from yiwang.exchange.webhooks import EVENT_TYPES, verify_signature

pytestmark = pytest.mark.django_db


def test_an_accepted_case_sends_a_signed_cloudevent(receiver, org_a, org_admin_a, applicant, item, people,
                                                     django_capture_on_commit_callbacks):
    hook = receiver()
    _sub, secret = subscribe(org_admin_a, org_a, hook.url, events=["accepted"])
    case = submit(applicant, item)

    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["clerk"], case, "pre_review", "accept", opinion="材料齐全")

    assert len(hook.requests) == 1
    request = hook.requests[0]
    assert request["path"] == "/hooks/yiwang"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert verify_signature(secret, request["headers"]["Yiwang-Signature"], request["body"])
    event = json.loads(request["body"])
    assert event["specversion"] == "1.0" and event["type"] == "cn.yiwang.case.accepted"
    assert event["id"] == request["headers"]["Yiwang-Event-Id"]
    assert event["subject"] == case.number and event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    data = event["data"]
    assert data["number"] == case.number and data["item_code"] == item.implementation_code
    assert data["status"] == "in_review" and data["due_date"] == case.due_date.isoformat()
    assert [s["key"] for s in data["open_steps"]] == ["review"]
    # personal data masked: the applicant's name never in clear, the ID number never at all
    person = applicant.person
    assert person.name not in request["body"].decode() and person.id_number not in request["body"].decode()
    assert data["applicant"]["name"].startswith(person.name[0]) and "*" in data["applicant"]["name"]

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None
    assert delivery.body.encode() == request["body"]  # the log keeps the body exactly as sent
    assert str(delivery.event_id) == event["id"] and delivery.case_number == case.number


def test_each_case_change_fires_its_events(receiver, org_a, org_admin_a, applicant, item, people,
                                           django_capture_on_commit_callbacks):
    hook = receiver()
    subscribe(org_admin_a, org_a, hook.url, events=list(EVENT_TYPES))
    with django_capture_on_commit_callbacks(execute=True):
        case = submit(applicant, item)
    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["clerk"], case, "pre_review", "accept")
    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["reviewer"], case, "review", "pass")
    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["approver"], case, "decide", "approve", opinion="同意")
    types = [e["type"].removeprefix("cn.yiwang.case.") for e in hook.events()]
    assert types == ["submitted", "step_completed", "accepted", "step_completed", "step_completed", "decided"]
    decided = hook.events()[-1]["data"]
    assert decided["decision"] == "approved" and decided["status"] == "producing"
    assert hook.events()[1]["data"]["step"]["outcome"] == "accept"


def test_only_the_chosen_event_types_and_organisations_are_sent(receiver, org_a, org_b, org_admin_a, org_admin_b,
                                                                 applicant, item, people,
                                                                 django_capture_on_commit_callbacks):
    only_decisions, other_department = receiver(), receiver()
    subscribe(org_admin_a, org_a, only_decisions.url, events=["decided"])
    subscribe(org_admin_b, org_b, other_department.url, events=list(EVENT_TYPES))
    with django_capture_on_commit_callbacks(execute=True):
        act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    assert only_decisions.requests == [] and other_department.requests == []
    assert not WebhookDelivery.objects.exists()


def test_the_accepting_window_organisation_gets_the_events_too(receiver, centre, org_a, applicant, item, people,
                                                               platform_admin, django_capture_on_commit_callbacks):
    window_hook, owner_hook = receiver(), receiver()
    subscribe(platform_admin, centre, window_hook.url, events=["accepted", "decided"])
    subscribe(platform_admin, org_a, owner_hook.url, events=["accepted"])
    with django_capture_on_commit_callbacks(execute=True):
        case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    assert len(window_hook.requests) == 1 and len(owner_hook.requests) == 1
    # one event, one id, whoever receives it
    assert window_hook.events()[0]["id"] == owner_hook.events()[0]["id"]
    assert case.accepting_org == centre


def test_a_rolled_back_case_change_sends_nothing(receiver, org_a, org_admin_a, applicant, item, people,
                                                 django_capture_on_commit_callbacks):
    hook = receiver()
    subscribe(org_admin_a, org_a, hook.url, events=list(EVENT_TYPES))
    case = submit(applicant, item)
    WebhookDelivery.objects.all().delete()

    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort), \
            transaction.atomic():
        act(people["clerk"], case, "pre_review", "accept")
        assert WebhookDelivery.objects.exists()  # written inside the case's transaction…
        raise Abort
    assert not WebhookDelivery.objects.exists()  # …and gone with it
    assert callbacks == [] and hook.requests == []


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver, org_a, org_admin_a, applicant, item, people,
                                                             django_capture_on_commit_callbacks):
    elsewhere = receiver()
    hook = receiver(codes=(302,), location=elsewhere.url)
    subscribe(org_admin_a, org_a, hook.url)
    with django_capture_on_commit_callbacks(execute=True):
        act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    delivery = WebhookDelivery.objects.get()
    assert len(hook.requests) == 1 and elsewhere.requests == []
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.last_status_code == 302
    assert "重定向" in delivery.last_error and delivery.next_attempt_at is not None


def test_an_unreachable_receiver_is_recorded_as_a_failed_attempt(org_a, org_admin_a, applicant, item, people,
                                                                  django_capture_on_commit_callbacks):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subscribe(org_admin_a, org_a, f"http://127.0.0.1:{port}/hooks")
    with django_capture_on_commit_callbacks(execute=True):
        act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error


# ----------------------------------------------------------------------------- retries (database queue)
@pytest.fixture
def db_queue(settings):
    settings.YIWANG_JOBS_BACKEND = "db"
    settings.YIWANG_JOBS_BACKOFF_SCALE = 0.002  # retry delays of tens of milliseconds


def work_until(done, timeout: float = 15.0) -> None:
    from yiwang.core.jobs import db as job_queue

    worker = job_queue.Worker(worker_id="test-worker", periodic=False, poll_seconds=0.01)
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the queue did not finish in time"
        if not worker.run_once():
            time.sleep(0.02)


def test_a_receiver_that_fails_then_answers_gets_the_event_again(db_queue, receiver, org_a, org_admin_a,
                                                                  applicant, item, people):
    hook = receiver(codes=(500, 200))
    _sub, secret = subscribe(org_admin_a, org_a, hook.url)
    act(people["clerk"], submit(applicant, item), "pre_review", "accept")

    work_until(lambda: WebhookDelivery.objects.filter(status="delivered").exists())

    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2 and delivery.last_status_code == 200 and delivery.last_error == ""
    assert [r["headers"]["Yiwang-Event-Id"] for r in hook.requests] == [str(delivery.event_id)] * 2
    assert hook.requests[0]["body"] == hook.requests[1]["body"]
    assert all(verify_signature(secret, r["headers"]["Yiwang-Signature"], r["body"]) for r in hook.requests)


def test_a_receiver_that_keeps_failing_ends_as_failed_after_eight_attempts(db_queue, receiver, org_a,
                                                                           org_admin_a, applicant, item, people):
    from yiwang.core.models import Job

    hook = receiver(codes=(503,))
    subscribe(org_admin_a, org_a, hook.url)
    act(people["clerk"], submit(applicant, item), "pre_review", "accept")

    work_until(lambda: WebhookDelivery.objects.filter(status="failed").exists(), timeout=60)

    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 8 and len(hook.requests) == 8 and delivery.last_status_code == 503
    assert delivery.next_attempt_at is None
    assert Job.objects.get(name="yiwang.exchange.tasks.deliver_webhook").status == Job.Status.FAILED


def test_a_failed_delivery_can_be_resent_with_the_same_event(db_queue, receiver, org_a, org_admin_a, applicant,
                                                              item, people):
    hook = receiver(codes=(500,) * 8 + (200,))
    subscribe(org_admin_a, org_a, hook.url)
    act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    work_until(lambda: WebhookDelivery.objects.filter(status="failed").exists(), timeout=60)

    delivery = services.resend_delivery(org_admin_a, WebhookDelivery.objects.get())
    assert delivery.status == WebhookDelivery.Status.PENDING
    work_until(lambda: WebhookDelivery.objects.filter(status="delivered").exists())

    delivery.refresh_from_db()
    assert delivery.attempts == 9 and len(hook.requests) == 9
    assert len({r["headers"]["Yiwang-Event-Id"] for r in hook.requests}) == 1


def test_a_deactivated_subscription_gets_nothing_more(db_queue, receiver, org_a, org_admin_a, applicant, item,
                                                      people):
    hook = receiver(codes=(500,))
    sub, _secret = subscribe(org_admin_a, org_a, hook.url)
    act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    services.deactivate_subscription(org_admin_a, sub)

    work_until(lambda: WebhookDelivery.objects.filter(status="failed").exists())

    delivery = WebhookDelivery.objects.get()
    assert hook.requests == [] and "停用" in delivery.last_error


# ----------------------------------------------------------------------------- where each event fires
def _events(case) -> list[str]:
    return list(WebhookDelivery.objects.filter(case_number=case.number).order_by("id")
                .values_list("event_type", flat=True))


@pytest.fixture
def everything(org_a, org_admin_a):
    """A subscription to every event; nothing is sent (the test's transaction never commits)."""
    return subscribe(org_admin_a, org_a, "https://dept.example.cn/hooks", events=list(EVENT_TYPES))[0]


def test_corrections_resubmission_and_refusal_of_acceptance_fire_their_events(everything, applicant, item, people):
    from tests.cases.conftest import pdf
    from yiwang.cases import services as case_services

    case = submit(applicant, item)
    material = item.published_version.materials.first()
    case = act(people["clerk"], case, "pre_review", "correct", problems=[{"material": material.pk, "text": "未签字"}])
    case = case_services.resubmit_correction(applicant, case, files={material.pk: pdf("签字版.pdf")})
    case = act(people["clerk"], case, "pre_review", "reject", opinion="不属于本机关职责")
    assert _events(case) == ["submitted", "step_completed", "correction_requested", "resubmitted",
                             "step_completed", "not_accepted"]


def test_suspension_extension_warning_completion_and_withdrawal_fire_their_events(everything, applicant, item,
                                                                                  people):
    import datetime as dt

    from yiwang.cases import numbering
    from yiwang.cases import services as case_services
    from yiwang.cases.models import Case

    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    case = Case.objects.get(pk=case.pk)
    case_services.suspend(people["reviewer"], case, kind="expert", reason="专家评审", expected_days=3)
    case_services.resume(people["reviewer"], Case.objects.get(pk=case.pk), result="评审通过")
    ext = case_services.request_extension(people["reviewer"], Case.objects.get(pk=case.pk), days=5, reason="会商")
    case_services.decide_extension(people["approver"], ext, approve=True, opinion="同意")
    Case.objects.filter(pk=case.pk).update(due_date=numbering.local_day() - dt.timedelta(days=3))
    case_services.sweep_time_limits()
    for key, outcome, who in (("review", "pass", "reviewer"), ("decide", "approve", "approver"),
                              ("produce", "produced", "reviewer"), ("deliver", "delivered", "clerk")):
        case = act(people[who], case, key, outcome)
    assert _events(case) == ["submitted", "step_completed", "accepted", "suspended", "resumed", "extended",
                             "warning", "step_completed", "step_completed", "decided", "step_completed",
                             "step_completed", "completed"]
    warning = json.loads(WebhookDelivery.objects.get(event_type="warning").body)
    assert warning["data"]["warning"] == "red"

    withdrawn = case_services.withdraw(applicant, submit(applicant, item), reason="重新申请")
    assert _events(withdrawn) == ["submitted", "withdrawn"]
