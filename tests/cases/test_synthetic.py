"""Synthetic cases: rows as the services would have written them, usable afterwards like real cases."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases.conftest import act, pdf, submit
from yiwang.cases import numbering, services, synthetic, workflow
from yiwang.cases.models import (
    Case,
    CaseEvent,
    CaseMaterial,
    CaseNumberCounter,
    CaseStep,
    Correction,
    Suspension,
)
from yiwang.core import calendar
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=False)

EVERY_STATUS = [s for s, _ in synthetic.STATUS_MIX]


@pytest.fixture
def generated(applicant, other_applicant, item, people):
    statuses = [s for s in EVERY_STATUS for _ in range(6)]
    result = synthetic.generate(len(statuses), seed=3, statuses=statuses)
    return result


def test_every_state_is_generated_with_its_rows(generated):
    assert generated.created == len(EVERY_STATUS) * 6
    assert set(Case.objects.values_list("status", flat=True)) == set(EVERY_STATUS)
    assert Case.objects.count() == generated.created
    for case in Case.objects.all():
        events = list(case.events.all())
        assert events[0].action == "submit" and events[0].from_status == ""
        assert case.materials.exists() and all(m.source == CaseMaterial.Source.WINDOW and not m.file
                                               for m in case.materials.all())
        assert case.steps.exists()
        if case.status in ("completed", "not_accepted", "withdrawn"):
            assert case.completed_at is not None and case.warning == ""
            assert not case.steps.filter(state="open").exists()
        if case.status == "completed":
            assert case.decision in ("approved", "refused") and case.decided_at and case.accepted_at
            assert case.steps.filter(state="done").exclude(handler_name="").count() >= 3
        if case.status == "not_accepted":
            assert case.status_reason
        if case.status == "withdrawn":
            assert case.events.filter(action="withdraw").exists() and case.status_reason
        if case.accepted_at:
            assert case.due_date == calendar.add_working_days(
                numbering.local_day(case.accepted_at), case.limit_days) if case.limit_days and not (
                case.paused_days) else case.due_date is not None
        times = [e.at for e in events]
        assert times == sorted(times) and case.submitted_at == times[0] <= timezone.now()


def test_engine_states_agree_with_status_and_open_steps(generated):
    for case in Case.objects.select_related("process"):
        xml = case.process.xml.encode()
        assert case.engine_state["sha256"] == case.process.sha256
        if case.status == "withdrawn":
            assert workflow.result(xml, case.engine_state) == "cancelled"
            continue
        assert services._status_after_engine(case) == case.status
        ready = {t.id for t in workflow.ready_tasks(xml, case.engine_state)}
        assert ready == set(case.steps.filter(state="open").values_list("task_id", flat=True))
        assert case.item.implementation_code in json.dumps(case.engine_state)


def test_personal_data_is_encrypted_and_reads_back(generated, applicant):
    from django.db import connection

    case = Case.objects.filter(applicant_user=applicant).first()
    assert case.applicant_id_number == applicant.person.id_number
    assert json.loads(case.form_data)["applicant_name"] == applicant.person.name
    with connection.cursor() as cur:
        cur.execute("SELECT applicant_id_number, form_data FROM cases_case WHERE id = %s", [case.pk])
        raw_id, raw_form = cur.fetchone()
    assert applicant.person.id_number not in raw_id and applicant.person.name not in raw_form


def test_numbers_are_valid_unique_and_reserved_on_the_counter(generated, applicant, item):
    numbers = list(Case.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) and all(numbering.is_case_number(n) for n in numbers)
    for number in numbers:
        counter = CaseNumberCounter.objects.get(implementation_code=number[:31], day=number[31:39])
        assert counter.last >= int(number[39:])
    # A real submission on a day the generator used draws the next number.
    newest = Case.objects.order_by("-submitted_at").first()
    real = submit(applicant, item)
    assert real.number not in numbers
    if real.number[31:39] == newest.number[31:39]:
        assert int(real.number[39:]) > max(int(n[39:]) for n in numbers if n[31:39] == real.number[31:39])


def test_generated_open_cases_can_be_handled_through_the_services(generated, people, applicant):
    submitted = Case.objects.filter(status="submitted").first()
    act(people["clerk"], submitted, "pre_review", "accept", opinion="受理")
    submitted.refresh_from_db()
    assert submitted.status == "in_review" and submitted.due_date

    in_review = Case.objects.filter(status="in_review", paused_since__isnull=True).first()
    act(people["reviewer"], in_review, "review", "pass", opinion="通过")
    in_review.refresh_from_db()
    assert in_review.status == "deciding"

    deciding = Case.objects.filter(status="deciding", paused_since__isnull=True).first()
    act(people["approver"], deciding, "decide", "approve", opinion="准予")
    deciding.refresh_from_db()
    assert deciding.status == "producing"

    delivering = Case.objects.filter(status="delivering").first()
    act(people["clerk"], delivering, "deliver", "delivered")
    delivering.refresh_from_db()
    assert delivering.status == "completed"

    correction = Case.objects.filter(status="correction").first()
    mid = correction.item_version.materials.first().pk
    services.resubmit_correction(correction.applicant_user, correction, files={mid: pdf()})
    correction.refresh_from_db()
    assert correction.status == "submitted"


def test_generated_cases_show_on_the_workbench(generated, client, people):
    from tests.cases.test_case_pages import sign_in_staff

    waiting = Case.objects.filter(status="submitted").order_by("number").values_list("number", flat=True)
    sign_in_staff(client, people["clerk"])
    todo = client.get("/office/cases/?sort=new").content.decode()
    assert any(number in todo for number in waiting)
    sign_in_staff(client, people["reviewer"])
    case = Case.objects.filter(status="in_review").first()
    assert client.get(f"/office/cases/{case.number}/").status_code == 200


def test_warnings_are_those_the_sweep_would_have_raised(generated):
    for case in Case.objects.filter(warning="red"):
        assert case.due_date < numbering.local_day()
        assert case.events.filter(action="warning.red").exists()
    changed = services.sweep_time_limits()
    assert changed["red"] == 0 and changed["yellow"] == 0 and changed["steps"] == 0


def test_corrections_and_special_procedures_come_with_their_history(applicant, item, people):
    synthetic.generate(40, seed=5, statuses=["correction"] * 10 + ["completed"] * 30)
    correction = Correction.objects.filter(resubmitted_at__isnull=True).first()
    assert correction.problems and correction.case.status == "correction"
    assert correction.case.steps.filter(state="open", role="applicant").exists()
    for s in Suspension.objects.all():
        assert s.case.events.filter(action="suspend").exists()
        if s.ended_at:
            assert s.case.paused_days >= s.working_days


def test_same_seed_same_cases(applicant, item, people):
    now = timezone.now()

    def snapshot():
        return [(c.item_id, c.status, c.applicant_name, c.submitted_at, c.due_date, c.query_code,
                 c.steps.count(), c.events.count(), c.engine_state)
                for c in Case.objects.order_by("pk")]

    synthetic.generate(30, seed=11, now=now)
    first = snapshot()
    CaseEvent.objects.all().delete()
    CaseStep.objects.all().delete()
    Case.objects.all().delete()
    synthetic.generate(30, seed=11, now=now)
    assert snapshot() == first


def test_one_audit_entry_records_the_run(applicant, item, people):
    synthetic.generate(5, seed=1)
    entry = AuditEntry.objects.get(action=synthetic.AUDIT_ACTION)
    assert entry.detail["count"] == 5


def test_without_items_or_citizens_it_explains_what_is_missing(db, applicant):
    with pytest.raises(ValueError, match="no published items"):
        synthetic.generate(3)


def test_command_refuses_a_bad_count(db):
    with pytest.raises(CommandError):
        call_command("generate_cases", "0")


def test_command_generates(applicant, item, people, capsys):
    call_command("generate_cases", "12", "--seed", "2")
    assert Case.objects.count() == 12
    assert "created 12 cases" in capsys.readouterr().out


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 6, 30)),
       days=st.integers(min_value=0, max_value=40))
def test_the_working_day_table_agrees_with_the_calendar(start, days):
    table = _table()
    assert table.add(start, days) == calendar.add_working_days(start, days)
    end = start + dt.timedelta(days=days * 2)
    assert table.between(start, end) == calendar.working_days_between(start, end)


_TABLE = []


def _table():
    if not _TABLE:
        _TABLE.append(synthetic.WorkCalendar(dt.date(2025, 1, 1), dt.date(2027, 12, 31)))
    return _TABLE[0]


@pytest.mark.django_db
def test_demo_gives_every_workbench_real_to_dos():
    from django.contrib.auth import get_user_model

    from yiwang.cases.views_office import _my_steps
    from yiwang.catalog import search
    from yiwang.demo import load_demo

    try:
        load_demo()
    finally:
        search.forget_synonyms()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["clerk", "reviewer", "approver"])}
    own = Case.objects.filter(applicant_user__username__in=["citizen", "company", "agent"], channel="web",
                              materials__file__gt="").distinct()
    assert own.count() >= 20 and own.filter(enterprise__isnull=False).exists()
    assert set(own.values_list("status", flat=True)) >= set(EVERY_STATUS)
    assert own.filter(paused_since__isnull=False).exists() and own.filter(extensions__status="requested").exists()
    assert own.filter(documents__kind="acceptance").exists()
    todo = {name: set(_my_steps(u).values_list("key", flat=True)) for name, u in users.items()}
    assert {"pre_review", "deliver"} <= todo["clerk"]
    assert {"review", "produce"} <= todo["reviewer"] and "decide" in todo["approver"]
    assert Case.objects.count() >= synthetic_count()


def synthetic_count() -> int:
    from yiwang.demo import cases as demo_cases

    return demo_cases.SYNTHETIC


def test_the_to_do_count_is_exact_up_to_the_cap_and_a_lower_bound_beyond(generated, client, people, monkeypatch):
    from tests.cases.test_case_pages import sign_in_staff
    from yiwang.cases import views_office

    sign_in_staff(client, people["clerk"])
    exact = views_office._my_steps(people["clerk"]).count()
    assert f"共 {exact} 个待办环节" in client.get("/office/cases/").content.decode()
    monkeypatch.setattr(views_office, "COUNT_CAP", exact - 1)
    assert f"共 {exact - 1}+ 个待办环节" in client.get("/office/cases/").content.decode()
