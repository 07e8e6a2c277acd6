"""The pages of case handling, as a citizen and as staff use them."""

from __future__ import annotations

import pytest

from tests.cases.conftest import act, form_for, pdf, submit
from tests.identity.helpers_totp import sign_in_staff
from yiwang.cases.models import Case

pytestmark = pytest.mark.django_db


def _post_application(client, item, applicant, **extra):
    data = {**form_for(applicant), "delivery": "window", "idempotency_key": "page-key-1", **extra}
    for m in item.published_version.materials.all():
        data[f"material_{m.pk}"] = pdf(f"{m.name}.pdf")
    return client.post(f"/items/{item.implementation_code}/apply/", data)


def test_citizen_applies_on_the_page_and_sees_number_qr_and_next_steps(client, applicant, item, people):
    client.force_login(applicant)
    page = client.get(f"/items/{item.implementation_code}/apply/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "填写申请表" in html and "上传申请材料" in html and applicant.person.name in html  # pre-filled

    response = _post_application(client, item, applicant)
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/my/cases/{case.number}/submitted/"
    done = client.get(response["Location"]).content.decode()
    assert case.number in done and case.query_code in done and "接下来会怎样" in done
    qr = client.get(f"/cases/{case.number}/qr.png")
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")
    mine = client.get("/my/cases/").content.decode()
    assert case.number in mine and "待受理" in mine


def test_submitting_the_same_page_twice_makes_one_case(client, applicant, item, people):
    client.force_login(applicant)
    _post_application(client, item, applicant)
    _post_application(client, item, applicant)
    assert Case.objects.count() == 1


def test_errors_come_back_on_the_page_with_a_summary_and_nothing_is_saved(client, applicant, item, people):
    client.force_login(applicant)
    response = client.post(f"/items/{item.implementation_code}/apply/",
                           {**form_for(applicant), "mobile": "123", "idempotency_key": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "error-summary" in html and "请上传" in html
    assert 'id="e-material_' in html  # and again beside each material
    assert not Case.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, item):
    response = client.get(f"/items/{item.implementation_code}/apply/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_draft_is_saved_and_offered_again(client, applicant, item, people):
    client.force_login(applicant)
    saved = client.post(f"/items/{item.implementation_code}/apply/draft/",
                        {"description": "草稿里的说明", "applicant_name": "王小明"}, HTTP_X_AUTOSAVE="1")
    assert saved.status_code == 200 and "saved_at" in saved.json()
    page = client.get(f"/items/{item.implementation_code}/apply/").content.decode()
    assert "草稿里的说明" in page


def test_another_citizen_cannot_open_my_case_documents_or_materials(client, applicant, other_applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    doc = case.documents.first()
    material = case.materials.first()
    client.force_login(other_applicant)
    assert client.get(f"/my/cases/{case.number}/").status_code == 404
    assert client.get(f"/cases/{case.number}/documents/{doc.pk}/").status_code == 404
    assert client.get(f"/cases/{case.number}/materials/{material.pk}/").status_code == 404
    client.force_login(applicant)
    download = client.get(f"/cases/{case.number}/documents/{doc.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


def test_public_progress_page_masks_the_applicant(client, applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    html = client.get("/track/", {"number": case.number, "code": case.query_code}).content.decode()
    assert "审查" in html and case.item_name in html
    assert applicant.person.name not in html and "王*" in html or "王" in html
    wrong = client.get("/track/", {"number": case.number, "code": "99999x"})
    assert wrong.status_code == 404 and case.item_name not in wrong.content.decode()


def test_correction_and_withdrawal_from_my_case_page(client, applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "correct",
               problems=[{"text": "申请书缺少签名"}])
    client.force_login(applicant)
    page = client.get(f"/my/cases/{case.number}/").content.decode()
    assert "申请书缺少签名" in page and "提交补正材料" in page
    material = item.published_version.materials.first()
    client.post(f"/my/cases/{case.number}/resubmit/", {f"material_{material.pk}": pdf("签字版.pdf")})
    case.refresh_from_db()
    assert case.status == Case.Status.SUBMITTED
    bad = client.post(f"/my/cases/{case.number}/withdraw/", {"reason": ""})
    assert bad.status_code == 400
    client.post(f"/my/cases/{case.number}/withdraw/", {"reason": "不办了"})
    case.refresh_from_db()
    assert case.status == Case.Status.WITHDRAWN


def test_workbench_todo_lists_my_steps_and_the_case_file_acts(client, applicant, item, people):
    case = submit(applicant, item)
    sign_in_staff(client, people["clerk"])
    todo = client.get("/office/cases/").content.decode()
    assert case.number in todo and "受理" in todo
    page = client.get(f"/office/cases/{case.number}/").content.decode()
    assert "提交办理结果" in page and "对照材料清单" in page
    step = case.steps.get(key="pre_review")
    response = client.post(f"/office/cases/{case.number}/act/", {"step": step.pk, "outcome": "accept",
                                                                 "lock_version": case.lock_version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.IN_REVIEW
    stale = client.post(f"/office/cases/{case.number}/act/", {"step": step.pk, "outcome": "accept",
                                                              "lock_version": 0})
    assert stale.status_code == 409 and "刷新" in stale.content.decode()


def test_workbench_of_another_department_shows_nothing_of_the_case(client, applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    sign_in_staff(client, people["reviewer_b"])
    assert case.number not in client.get("/office/cases/").content.decode()
    assert client.get(f"/office/cases/{case.number}/").status_code == 404
    assert client.post(f"/office/cases/{case.number}/act/", {"step": 1, "outcome": "pass"}).status_code == 404
    assert case.number not in client.get("/office/cases/store/").content.decode()


def test_case_store_filters_and_exports_csv(client, applicant, item, people):
    accepted = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    waiting = submit(applicant, item)
    sign_in_staff(client, people["reviewer"])
    html = client.get("/office/cases/store/", {"status": "in_review"}).content.decode()
    assert accepted.number in html and waiting.number not in html
    export = client.get("/office/cases/store/", {"format": "csv"})
    body = export.content.decode("utf-8-sig")
    assert export["Content-Type"].startswith("text/csv")
    assert accepted.number in body and waiting.number in body
    assert applicant.person.id_number not in body and applicant.person.name not in body


def test_case_store_exports_xlsx(client, applicant, item, people):
    import io

    from openpyxl import load_workbook

    case = submit(applicant, item)
    sign_in_staff(client, people["reviewer"])
    export = client.get("/office/cases/store/", {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(export.content)).active.values)
    assert rows[0][0] == "办件编号" and rows[1][0] == case.number
    assert applicant.person.name not in {v for row in rows for v in row}


def test_next_step_keeps_everything_in_a_draft_and_check_page_submits(client, applicant, item, people):
    from yiwang.applications.models import Draft, DraftFile

    client.force_login(applicant)
    url = f"/items/{item.implementation_code}/apply/"
    first = item.published_version.materials.first()
    partial = client.post(url, {**form_for(applicant), "step": "check", "delivery": "mail",
                                f"material_{first.pk}": pdf("申请书.pdf")})
    assert partial.status_code == 400 and "请上传" in partial.content.decode()
    assert DraftFile.objects.count() == 1  # the good file is kept
    assert "已上传：申请书.pdf" in client.get(url).content.decode()

    rest = {f"material_{m.pk}": pdf(f"{m.name}.pdf") for m in item.published_version.materials.exclude(pk=first.pk)}
    ok = client.post(url, {**form_for(applicant), "step": "check", "delivery": "mail", **rest})
    assert ok.status_code == 302 and ok["Location"].endswith("/apply/check/")
    check = client.get(ok["Location"]).content.decode()
    assert "核对信息" in check and applicant.person.id_number in check and "申请书.pdf" in check and "邮寄送达" in check
    assert not Case.objects.exists()

    done = client.post(ok["Location"], {"idempotency_key": "check-1"})
    case = Case.objects.get()
    assert done["Location"] == f"/my/cases/{case.number}/submitted/"
    assert case.delivery == "mail" and case.materials.count() == item.published_version.materials.count()
    assert not Draft.objects.exists() and not DraftFile.objects.exists()


def test_autosave_keeps_answers_but_not_files(client, applicant, item, people):
    from yiwang.applications.models import DraftFile

    client.force_login(applicant)
    first = item.published_version.materials.first()
    client.post(f"/items/{item.implementation_code}/apply/draft/",
                {"description": "自动保存", f"material_{first.pk}": pdf()}, HTTP_X_AUTOSAVE="1")
    assert not DraftFile.objects.exists()
    client.post(f"/items/{item.implementation_code}/apply/draft/", {"description": "按钮保存",
                                                                   f"material_{first.pk}": pdf()})
    assert DraftFile.objects.count() == 1


def test_my_todo_shows_my_role_and_my_organisations_todo_shows_every_step(client, applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")  # now waiting for a reviewer
    sign_in_staff(client, people["approver"])
    assert case.number not in client.get("/office/cases/").content.decode()
    assert case.number in client.get("/office/cases/", {"scope": "org"}).content.decode()


def test_step_attachments_are_uploaded_on_the_case_file_and_shown_to_staff_only(
        client, applicant, item, people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    sign_in_staff(client, people["reviewer"])
    step = case.steps.get(key="review")
    client.post(f"/office/cases/{case.number}/act/", {"step": step.pk, "outcome": "pass", "lock_version":
                                                      case.lock_version, "attachments": [pdf("专家意见.pdf")]})
    attachment = step.attachments.get()
    url = f"/cases/{case.number}/step-files/{attachment.pk}/"
    assert "专家意见.pdf" in client.get(f"/office/cases/{case.number}/").content.decode()
    assert client.get(url).status_code == 200
    sign_in_staff(client, people["reviewer_b"])
    assert client.get(url).status_code == 404
    client.force_login(applicant)
    assert client.get(url).status_code == 404


def test_a_refused_action_comes_back_with_what_the_clerk_chose(client, applicant, item, people):
    case = submit(applicant, item)
    sign_in_staff(client, people["clerk"])
    step = case.steps.get(key="pre_review")
    page = client.post(f"/office/cases/{case.number}/act/", {"step": step.pk, "outcome": "reject", "opinion": " ",
                                                             "lock_version": case.lock_version})
    html = page.content.decode()
    assert page.status_code == 400 and 'value="reject" id="o-%d-reject" checked' % step.pk in html


def test_todo_filters_follow_the_case_as_it_moves_and_is_warned(client, applicant, item, people):
    import datetime as dt

    from yiwang.cases import numbering, services

    first, second = submit(applicant, item), submit(applicant, item)
    act(people["clerk"], second, "pre_review", "accept")  # the second now waits for review
    sign_in_staff(client, people["clerk"])
    waiting = client.get("/office/cases/", {"status": "submitted"}).content.decode()
    assert first.number in waiting and second.number not in waiting
    assert first.number not in client.get("/office/cases/", {"status": "in_review"}).content.decode()
    newest = client.get("/office/cases/", {"sort": "new"}).content.decode()
    assert first.number in newest

    sign_in_staff(client, people["reviewer"])
    assert second.number in client.get("/office/cases/", {"status": "in_review"}).content.decode()
    assert second.number not in client.get("/office/cases/", {"overdue": "1"}).content.decode()
    today = numbering.local_day()
    Case.objects.filter(pk=second.pk).update(due_date=today - dt.timedelta(days=1))
    services.sweep_time_limits(today)
    assert second.number in client.get("/office/cases/", {"overdue": "1"}).content.decode()
    services.withdraw(applicant, Case.objects.get(pk=second.pk), reason="不再需要")
    assert second.number not in client.get("/office/cases/", {"scope": "org"}).content.decode()
