"""A case from submission to 办结, through the window, the department and back to the applicant."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.cases.conftest import act, form_for, open_step, pdf, submit
from yiwang.cases import numbering, services
from yiwang.cases.models import Case, CaseDocument, CaseMaterial, Message
from yiwang.core import calendar
from yiwang.core.errors import Conflict, NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=False)


def test_submission_creates_a_numbered_case_waiting_at_the_window(applicant, item, people):
    case = submit(applicant, item)

    assert case.status == Case.Status.SUBMITTED
    assert len(case.number) == 43 and case.number.startswith(item.implementation_code)
    assert case.number[31:39] == numbering.local_day().strftime("%Y%m%d")
    assert numbering.is_case_number(case.number)
    assert case.query_code.isdigit() and len(case.query_code) == 6
    assert case.materials.count() == item.published_version.materials.count()
    assert all(len(m.sha256) == 64 and m.size > 0 for m in case.materials.all())
    assert open_step(case, "pre_review").org_rule == "window"
    assert case.events.filter(action="submit").exists()
    assert AuditEntry.objects.filter(action="cases.submit", object_id=case.number).exists()
    assert Message.objects.filter(user=applicant, case=case).exists()


def test_case_numbers_of_one_item_and_day_follow_each_other(applicant, item, people):
    first, second = submit(applicant, item), submit(applicant, item)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1


def test_promised_case_runs_from_acceptance_to_completion(applicant, item, people):
    case = submit(applicant, item)

    case = act(people["clerk"], case, "pre_review", "accept", opinion="材料齐全")
    assert case.status == Case.Status.IN_REVIEW
    assert case.accepted_at is not None and case.accepting_org.name == "临江市政务服务中心"
    assert case.due_date == calendar.add_working_days(numbering.local_day(), 10)
    assert case.documents.filter(kind=CaseDocument.Kind.ACCEPTANCE).exists()
    assert case.acceptance_number

    case = act(people["reviewer"], case, "review", "pass", opinion="符合条件")
    assert case.status == Case.Status.DECIDING
    case = act(people["approver"], case, "decide", "approve", opinion="同意")
    assert case.decision == Case.Decision.APPROVED and case.status == Case.Status.PRODUCING
    case = act(people["reviewer"], case, "produce", "produced")
    assert case.status == Case.Status.DELIVERING
    case = act(people["clerk"], case, "deliver", "delivered")

    assert case.status == Case.Status.COMPLETED and case.completed_at is not None
    assert list(case.steps.values_list("key", flat=True)) == ["pre_review", "review", "decide", "produce", "deliver"]
    assert all(s.handler_name for s in case.steps.all())
    kinds = set(case.documents.values_list("kind", flat=True))
    assert {CaseDocument.Kind.ACCEPTANCE, CaseDocument.Kind.APPROVAL} <= kinds
    assert case.documents.get(kind="approval").file.read().startswith(b"%PDF")
    actions = set(AuditEntry.objects.filter(object_id=case.number).values_list("action", flat=True))
    assert {"cases.submit", "cases.step.pre_review.accept", "cases.step.decide.approve",
            "cases.step.deliver.delivered"} <= actions


def test_refusal_needs_reasons_and_ends_the_case_with_a_refusal_decision(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    case = act(people["reviewer"], case, "review", "pass")
    with pytest.raises(ValidationFailed) as exc:
        act(people["approver"], case, "decide", "refuse")
    assert "decision_reason" in exc.value.fields or "opinion" in exc.value.fields

    case = act(people["approver"], case, "decide", "refuse", opinion="经营场所不符合要求",
               decision_reason="不符合《食品经营许可管理办法》第十一条")
    assert case.decision == Case.Decision.REFUSED
    assert case.documents.filter(kind=CaseDocument.Kind.REFUSAL).exists()
    case = act(people["clerk"], case, "deliver", "delivered")
    assert case.status == Case.Status.COMPLETED


def test_not_accepted_needs_a_reason_and_is_final(applicant, item, people):
    case = submit(applicant, item)
    with pytest.raises(ValidationFailed):
        act(people["clerk"], case, "pre_review", "reject")
    case = act(people["clerk"], case, "pre_review", "reject", opinion="不属于本机关职权范围")
    assert case.status == Case.Status.NOT_ACCEPTED and case.completed_at
    assert case.documents.filter(kind=CaseDocument.Kind.NON_ACCEPTANCE).exists()
    assert not case.steps.filter(state="open").exists()


def test_correction_lists_every_problem_once_and_the_applicant_resubmits(applicant, item, people):
    case = submit(applicant, item)
    material = item.published_version.materials.first()
    with pytest.raises(ValidationFailed) as exc:
        act(people["clerk"], case, "pre_review", "correct")
    assert "problems" in exc.value.fields

    case = act(people["clerk"], case, "pre_review", "correct",
               problems=[{"material": material.pk, "text": "申请书未签字"}, {"material": "", "text": "缺少场所照片"}])
    assert case.status == Case.Status.CORRECTION
    assert case.due_date is None  # the clock has not started: nothing runs while waiting for corrections
    notice = case.corrections.get()
    assert [p["text"] for p in notice.problems] == ["申请书未签字", "缺少场所照片"]
    assert case.documents.filter(kind=CaseDocument.Kind.CORRECTION).exists()

    case = services.resubmit_correction(applicant, case, files={material.pk: pdf("签字版.pdf")}, note="已签字")
    assert case.status == Case.Status.SUBMITTED
    assert case.materials.filter(material=material, superseded=True).count() == 1
    assert case.materials.filter(material=material, superseded=False).get().original_name == "签字版.pdf"
    assert case.corrections.get().resubmitted_at is not None
    case = act(people["clerk"], case, "pre_review", "accept")
    assert case.status == Case.Status.IN_REVIEW


def test_only_the_applicant_resubmits_and_only_when_asked(applicant, other_applicant, item, people):
    case = submit(applicant, item)
    with pytest.raises(StateError):
        services.resubmit_correction(applicant, case, files={})
    act(people["clerk"], case, "pre_review", "correct", problems=[{"text": "补充说明"}])
    with pytest.raises(NotFound):
        services.resubmit_correction(other_applicant, case, form_data=form_for(other_applicant))


def test_applicant_withdraws_before_the_decision_but_not_after(applicant, item, people):
    case = submit(applicant, item)
    with pytest.raises(ValidationFailed):
        services.withdraw(applicant, case, reason="")
    case = services.withdraw(applicant, case, reason="信息填错，重新申请")
    assert case.status == Case.Status.WITHDRAWN
    assert not case.steps.filter(state="open").exists()

    decided = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    decided = act(people["reviewer"], decided, "review", "pass")
    decided = act(people["approver"], decided, "decide", "approve")
    with pytest.raises(StateError):
        services.withdraw(applicant, decided, reason="不想要了")


def test_two_staff_acting_on_the_same_step_one_wins_the_other_gets_a_conflict(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    seen = case.lock_version
    step = open_step(case, "review")
    services.act(people["reviewer"], case, step_id=step.pk, outcome="pass", lock_version=seen)
    with pytest.raises(Conflict):
        services.act(people["reviewer2"], case, step_id=step.pk, outcome="pass", lock_version=seen)
    with pytest.raises(Conflict):  # even without the lock version: the step is no longer open
        services.act(people["reviewer2"], case, step_id=step.pk, outcome="pass")


def test_staff_of_another_department_can_neither_see_nor_act(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    with pytest.raises(NotFound):
        services.get_case_for(people["reviewer_b"], case.number)
    with pytest.raises(NotPermitted):
        services.act(people["reviewer_b"], case, step_id=open_step(case, "review").pk, outcome="pass")
    assert not services.visible_cases(people["reviewer_b"]).filter(pk=case.pk).exists()
    assert services.visible_cases(people["reviewer"]).filter(pk=case.pk).exists()


def test_a_reviewer_cannot_take_the_approvers_step(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    case = act(people["reviewer"], case, "review", "pass")
    with pytest.raises(NotPermitted):
        act(people["reviewer"], case, "decide", "approve")


def test_an_outcome_the_step_does_not_offer_is_refused(applicant, item, people):
    case = submit(applicant, item)
    with pytest.raises(ValidationFailed) as exc:
        act(people["clerk"], case, "pre_review", "approve")
    assert "outcome" in exc.value.fields


def test_special_procedure_stops_the_clock_and_moves_the_due_date(applicant, item, people, monkeypatch):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    due = case.due_date
    services.suspend(people["reviewer"], case, kind="site", reason="需现场勘查经营场所", expected_days=3)
    case.refresh_from_db()
    assert case.clock_paused
    with pytest.raises(StateError):
        act(people["reviewer"], case, "review", "pass")

    later = numbering.local_day() + dt.timedelta(days=7)
    monkeypatch.setattr(numbering, "local_day", lambda when=None: later)
    case = services.resume(people["reviewer"], case, result="现场符合要求")
    days = calendar.working_days_between(later - dt.timedelta(days=7), later)
    assert case.paused_days == days
    assert case.due_date == calendar.add_working_days(due, days)
    assert case.suspensions.get().working_days == days


def test_extension_needs_a_second_persons_approval(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    due = case.due_date
    with pytest.raises(ValidationFailed):
        services.request_extension(people["reviewer"], case, days=0, reason="x")
    ext = services.request_extension(people["approver"], case, days=10, reason="需征求相关部门意见")
    with pytest.raises(NotPermitted):
        services.decide_extension(people["approver"], ext, approve=True)
    services.decide_extension(people["approver2"], ext, approve=True, opinion="同意")
    case.refresh_from_db()
    assert case.due_date == calendar.add_working_days(due, 10) and case.extended_days == 10


def test_time_limit_sweep_warns_once_and_only_what_changed(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    today = numbering.local_day()
    Case.objects.filter(pk=case.pk).update(due_date=calendar.add_working_days(today, 1))
    assert services.sweep_time_limits(today)["yellow"] == 1
    assert services.sweep_time_limits(today) == {"red": 0, "yellow": 0, "steps": 0}
    case.refresh_from_db()
    assert case.warning == Case.Warning.YELLOW

    Case.objects.filter(pk=case.pk).update(due_date=today - dt.timedelta(days=3))
    assert services.sweep_time_limits(today)["red"] == 1
    assert services.sweep_time_limits(today)["red"] == 0
    case.refresh_from_db()
    assert case.warning == Case.Warning.RED
    assert case.events.filter(action="warning.red").count() == 1
    assert Message.objects.filter(user=people["supervisor"], case=case).count() == 2  # yellow, then red


def test_the_same_idempotency_key_makes_one_case(applicant, item, people):
    first = submit(applicant, item, idempotency_key="k-123")
    again = submit(applicant, item, idempotency_key="k-123")
    assert first.pk == again.pk
    assert Case.objects.filter(applicant_user=applicant).count() == 1


@pytest.mark.parametrize("name,data,field_error", [
    ("申请书.pdf", b"MZ\x90\x00 not a pdf", "spoofed"),
    ("../../etc/passwd.pdf", b"%PDF-1.4 fine", None),
    ("申请书.exe", b"%PDF-1.4", "type"),
])
def test_uploads_are_judged_by_content_and_name(applicant, item, people, name, data, field_error):
    material = item.published_version.materials.first()
    files = {m.pk: pdf() for m in item.published_version.materials.all()}
    files[material.pk] = pdf(name, data)
    if field_error:
        with pytest.raises(ValidationFailed) as exc:
            submit(applicant, item, files=files)
        assert f"material_{material.pk}" in exc.value.fields
        assert not Case.objects.exists()
    else:
        case = submit(applicant, item, files=files)
        stored = case.materials.get(material=material).file.name
        assert ".." not in stored and "passwd" not in stored


def test_an_oversized_file_is_refused_and_nothing_is_written(applicant, item, people, settings):
    settings.YIWANG_MAX_UPLOAD_BYTES = 1024
    material = item.published_version.materials.first()
    files = {m.pk: pdf() for m in item.published_version.materials.all()}
    files[material.pk] = pdf("大文件.pdf", b"%PDF-1.4\n" + b"0" * 5000)
    with pytest.raises(ValidationFailed):
        submit(applicant, item, files=files)
    assert not Case.objects.exists() and not CaseMaterial.objects.exists()


def test_missing_required_material_and_bad_form_give_per_field_messages(applicant, item, people):
    data = form_for(applicant) | {"mobile": "12345"}
    with pytest.raises(ValidationFailed) as exc:
        submit(applicant, item, form_data=data)
    assert "form.mobile" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        submit(applicant, item, files={})
    assert all(k.startswith("material_") for k in exc.value.fields)
    assert not Case.objects.exists()


def test_applicant_below_the_required_level_cannot_apply(item, people):
    from tests.identity.helpers_levels import citizen

    low = citizen("lowlevel", "赵六", level=1).user
    version = item.published_version
    type(version).objects.filter(pk=version.pk).update(min_assurance_level=2)
    item.refresh_from_db()
    with pytest.raises(NotPermitted):
        submit(low, item)


def test_public_progress_needs_number_and_query_code(applicant, item, people):
    case = submit(applicant, item)
    assert services.public_progress(case.number, case.query_code).pk == case.pk
    with pytest.raises(NotFound):
        services.public_progress(case.number, "000000" if case.query_code != "000000" else "111111")
    with pytest.raises(NotFound):
        services.public_progress(case.number[:-1] + "9", case.query_code)


class _LicenceWallet:
    """A connector standing in for the certificate wallet (a real class, configured by setting)."""

    def find(self, *, user, enterprise, material):
        from yiwang.cases.connectors import Attachment

        if material.name == "营业执照":
            return Attachment("certificate", "1.2.156.3005.2.TEST.001.X", "营业执照（电子证照）")
        return None


def test_a_material_a_connector_supplies_needs_no_upload(applicant, item, people, settings):
    settings.YIWANG_MATERIAL_CONNECTORS = ["tests.cases.test_case_lifecycle._LicenceWallet"]
    licence = item.published_version.materials.get(name="营业执照")
    type(licence).objects.filter(pk=licence.pk).update(source="certificate")
    files = {m.pk: pdf() for m in item.published_version.materials.exclude(pk=licence.pk)}
    case = submit(applicant, item, files=files)
    attached = case.materials.get(material=licence)
    assert attached.source == "certificate" and attached.reference.startswith("1.2.156") and not attached.file


def test_without_a_connector_every_material_is_uploaded(applicant, item, people):
    licence = item.published_version.materials.get(name="营业执照")
    type(licence).objects.filter(pk=licence.pk).update(source="certificate")
    files = {m.pk: pdf() for m in item.published_version.materials.exclude(pk=licence.pk)}
    with pytest.raises(ValidationFailed) as exc:
        submit(applicant, item, files=files)
    assert f"material_{licence.pk}" in exc.value.fields


def test_a_failure_midway_through_submission_leaves_no_half_case(applicant, item, people, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(services, "_open_steps", crash)
    with pytest.raises(RuntimeError):
        submit(applicant, item)
    assert not Case.objects.exists() and not CaseMaterial.objects.exists()
    assert not AuditEntry.objects.filter(action="cases.submit").exists()
    assert not Message.objects.exists()
    monkeypatch.undo()
    case = submit(applicant, item)  # and the number it would have used is simply skipped or reused
    assert numbering.is_case_number(case.number)


def test_a_handler_attaches_files_to_their_step_and_they_are_checked(applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    with pytest.raises(ValidationFailed) as exc:
        act(people["reviewer"], case, "review", "pass", attachments=[pdf("勘查记录.pdf", b"MZ not a pdf")])
    assert "attachments" in exc.value.fields
    case = act(people["reviewer"], case, "review", "pass", opinion="现场符合要求",
               attachments=[pdf("现场勘查记录.pdf")])
    step = case.steps.get(key="review")
    assert [a.original_name for a in step.attachments.all()] == ["现场勘查记录.pdf"]
    assert case.events.get(action="step.review").detail["attachments"][0]["name"] == "现场勘查记录.pdf"


def test_messages_go_out_by_sms_and_by_e_mail_after_commit(applicant, item, people, mailoutbox,
                                                             django_capture_on_commit_callbacks):
    from yiwang.identity.models import SmsMessage

    applicant.email = "wang@example.cn"
    applicant.save()
    with django_capture_on_commit_callbacks(execute=True):
        case = submit(applicant, item)
    assert any(case.number in m.body for m in mailoutbox)
    assert SmsMessage.objects.filter(text__contains=case.number).exists()


def test_sweep_warns_a_batch_in_one_go_with_one_digest_per_person(applicant, item, people):
    today = numbering.local_day()
    cases = [act(people["clerk"], submit(applicant, item), "pre_review", "accept") for _ in range(3)]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(due_date=today - dt.timedelta(days=2))
    assert services.sweep_time_limits(today)["red"] == 3
    assert all(c.events.filter(action="warning.red").count() == 1 for c in cases)
    entry = AuditEntry.objects.get(action="cases.warning.red")
    assert sorted(entry.detail["cases"]) == sorted(c.number for c in cases)
    digest = Message.objects.filter(user=people["supervisor"], text__contains="3 件办件")
    assert digest.count() == 1
    assert services.sweep_time_limits(today)["red"] == 0
