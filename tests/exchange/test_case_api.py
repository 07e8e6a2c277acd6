"""The case API for department systems, end to end: client credentials at the token endpoint,
then reading the organisation's cases and reporting step results through ``services.act``."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.cases.conftest import act, open_step, submit
from tests.exchange.conftest import department_client, token_for
from yiwang.cases.models import Case
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def bearer(token: dict) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")


@pytest.fixture
def system_a(platform_admin, org_a):
    return department_client(platform_admin, org_a, "临江市市场监管业务系统")


@pytest.fixture
def system_b(platform_admin, org_b):
    return department_client(platform_admin, org_b, "临江市民政业务系统")


@pytest.fixture
def accepted_case(applicant, item, people):
    return act(people["clerk"], submit(applicant, item), "pre_review", "accept", opinion="材料齐全")


def test_a_department_system_reads_its_cases_and_reports_a_step_result(system_a, accepted_case, applicant):
    client, secret = system_a
    token = token_for(client, secret)
    assert token["token_type"] == "Bearer" and set(token["scope"].split()) == {"cases:read", "cases:write"}
    api = bearer(token)

    listing = api.get(CASES)
    assert listing.status_code == 200, listing.content
    page = listing.json()
    assert page["count"] == 1 and page["results"][0]["number"] == accepted_case.number
    row = page["results"][0]
    assert row["status"] == "in_review" and row["lock_version"] == accepted_case.lock_version
    assert row["applicant"]["name"] != applicant.person.name and "*" in row["applicant"]["name"]

    detail = api.get(f"{CASES}{accepted_case.number}/")
    assert detail.status_code == 200
    body = detail.json()
    review = next(s for s in body["steps"] if s["state"] == "open")
    assert review["key"] == "review" and "pass" in review["outcomes"]
    assert all(len(m["sha256"]) == 64 and m["size"] > 0 for m in body["materials"])
    assert {d["kind"] for d in body["documents"]} >= {"acceptance"}
    assert [e["action"] for e in body["history"]][:2] == ["submit", "step.pre_review"]
    text = detail.content.decode()
    assert applicant.person.name not in text and applicant.person.id_number not in text
    assert applicant.person.mobile not in text

    answer = api.post(f"{CASES}{accepted_case.number}/steps/{review['id']}/",
                      {"outcome": "pass", "opinion": "符合条件", "lock_version": body["lock_version"]},
                      content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "deciding"
    case = Case.objects.get(pk=accepted_case.pk)
    step = case.steps.get(pk=review["id"])
    assert step.state == "done" and step.outcome == "pass" and "部门系统" in step.handler_name
    assert AuditEntry.objects.filter(action="cases.step.review.pass", object_id=case.number).exists()


def test_the_list_filters_by_status_item_and_time_of_change(system_a, accepted_case, applicant, item, people):
    other = submit(applicant, item)
    api = bearer(token_for(*system_a))
    assert api.get(CASES, {"status": "in_review"}).json()["count"] == 1
    assert api.get(CASES, {"status": "submitted"}).json()["results"][0]["number"] == other.number
    assert api.get(CASES, {"item": item.implementation_code}).json()["count"] == 2
    assert api.get(CASES, {"item": "0" * 31}).json()["count"] == 0
    later = other.updated_at.isoformat()
    numbers = [r["number"] for r in api.get(CASES, {"updated_since": later}).json()["results"]]
    assert numbers == [other.number]


def test_bad_filters_are_400_with_bilingual_messages_per_field(system_a):
    api = bearer(token_for(*system_a))
    answer = api.get(CASES, {"status": "nonsense", "updated_since": "yesterday"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and set(body["fields"]) == {"status", "updated_since"}
    assert all(" / " in m for msgs in body["fields"].values() for m in msgs)


def test_a_client_of_another_department_gets_404_for_the_case(system_b, accepted_case):
    api = bearer(token_for(*system_b))
    assert api.get(CASES).json()["count"] == 0
    assert api.get(f"{CASES}{accepted_case.number}/").status_code == 404
    step = open_step(accepted_case, "review")
    answer = api.post(f"{CASES}{accepted_case.number}/steps/{step.pk}/",
                      {"outcome": "pass", "lock_version": accepted_case.lock_version}, content_type="application/json")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    step.refresh_from_db()
    assert step.state == "open"


def test_a_token_without_cases_write_reads_but_cannot_act(platform_admin, org_a, accepted_case):
    reader, secret = department_client(platform_admin, org_a, "只读系统", scopes=["cases:read"])
    api = bearer(token_for(reader, secret, scope="cases:read"))
    assert api.get(f"{CASES}{accepted_case.number}/").status_code == 200
    step = open_step(accepted_case, "review")
    answer = api.post(f"{CASES}{accepted_case.number}/steps/{step.pk}/",
                      {"outcome": "pass", "lock_version": accepted_case.lock_version}, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "insufficient_scope"


def test_a_token_for_read_only_cannot_be_widened_at_the_token_endpoint(platform_admin, org_a):
    import base64

    reader, secret = department_client(platform_admin, org_a, "只读系统", scopes=["cases:read"])
    basic = base64.b64encode(f"{reader.application.client_id}:{secret}".encode()).decode()
    answer = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": "cases:write"},
                           HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


def test_a_stale_lock_version_is_409_and_changes_nothing(system_a, accepted_case, people):
    api = bearer(token_for(*system_a))
    seen = api.get(f"{CASES}{accepted_case.number}/").json()
    step = open_step(accepted_case, "review")
    from yiwang.cases import services

    services.suspend(people["reviewer"], accepted_case, kind="expert", reason="专家评审",
                     lock_version=seen["lock_version"])  # someone else acted first
    answer = api.post(f"{CASES}{accepted_case.number}/steps/{step.pk}/",
                      {"outcome": "pass", "lock_version": seen["lock_version"]}, content_type="application/json")
    assert answer.status_code == 409 and answer.json()["code"] == "conflict"
    assert " / " in answer.json()["detail"]
    step.refresh_from_db()
    assert step.state == "open"


def test_an_invalid_outcome_or_body_is_400_per_field(system_a, accepted_case):
    api = bearer(token_for(*system_a))
    step = open_step(accepted_case, "review")
    url = f"{CASES}{accepted_case.number}/steps/{step.pk}/"
    missing = api.post(url, {"opinion": "x"}, content_type="application/json")
    assert missing.status_code == 400 and set(missing.json()["fields"]) == {"outcome", "lock_version"}
    wrong = api.post(url, {"outcome": "approve", "lock_version": accepted_case.lock_version},
                     content_type="application/json")
    assert wrong.status_code == 400 and "outcome" in wrong.json()["fields"]
    unknown = api.post(url, {"outcome": "pass", "lock_version": 1, "handler": "x"}, content_type="application/json")
    assert unknown.status_code == 400 and "handler" in unknown.json()["fields"]
    assert api.post(url, "outcome=pass", content_type="text/plain").status_code == 415


def test_a_step_of_another_role_is_403(system_a, applicant, item):
    api = bearer(token_for(*system_a))
    case = submit(applicant, item)  # waiting at the window: a clerk's step
    step = open_step(case, "pre_review")
    answer = api.post(f"{CASES}{case.number}/steps/{step.pk}/", {"outcome": "accept", "lock_version": 0},
                      content_type="application/json")
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"


def test_without_a_token_the_api_is_401_with_a_bearer_challenge(accepted_case):
    answer = Client().get(CASES)
    assert answer.status_code == 401 and answer["WWW-Authenticate"].startswith("Bearer")
    assert Client(HTTP_AUTHORIZATION="Bearer made-up").get(CASES).status_code == 401


def test_tokens_of_other_clients_and_sessions_are_refused(accepted_case, people, client):
    import base64

    from tests.identity.helpers_oidc import system_client

    system, secret = system_client("其他系统")  # a registered system that is not a department client

    basic = base64.b64encode(f"{system.client_id}:{secret}".encode()).decode()
    token = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": "catalog.read"},
                          HTTP_AUTHORIZATION=f"Basic {basic}").json()
    answer = bearer(token).get(CASES)
    assert answer.status_code == 403 and answer.json()["code"] == "not_a_department_system"
    client.force_login(people["reviewer"])
    assert client.get(CASES).status_code == 401


def test_a_disabled_department_client_loses_access_at_once(system_a, platform_admin, accepted_case):
    from yiwang.identity import services_oidc

    client, secret = system_a
    api = bearer(token_for(client, secret))
    services_oidc.disable_client(platform_admin, client.application, reason="停用")
    assert api.get(CASES).status_code == 401


def test_only_platform_administrators_register_department_clients(org_a, people):
    from yiwang.core.errors import NotPermitted
    from yiwang.exchange import services

    with pytest.raises(NotPermitted):
        services.register_department_client(people["reviewer"], organization=org_a, name="x")


def test_the_command_registers_a_department_client_and_prints_the_secret_once(platform_admin, org_a):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from yiwang.exchange.models import DepartmentClient

    out = io.StringIO()
    call_command("department_client", org_a.uscc, "市场监管业务系统", by="platform", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    client = DepartmentClient.objects.get()
    assert lines["client_id"] == client.application.client_id and lines["scopes"] == "cases:read cases:write"
    assert client.service_account.organization == org_a
    assert set(client.service_account.roles) == {"reviewer", "approver"}
    assert not client.service_account.user.has_usable_password()
    token_for(client, lines["client_secret"])  # the printed secret works at the token endpoint
    with pytest.raises(CommandError):
        call_command("department_client", "0" * 18, "x", by="platform", stdout=io.StringIO())


def test_the_list_reads_a_fixed_number_of_queries_whatever_the_page_holds(system_a, applicant, item):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = bearer(token_for(*system_a))
    submit(applicant, item)
    with CaptureQueriesContext(connection) as one:
        assert api.get(CASES).json()["count"] == 1
    for _ in range(3):
        submit(applicant, item)
    with CaptureQueriesContext(connection) as four:
        assert api.get(CASES).json()["count"] == 4
    assert len(four) == len(one)
