"""一件事一次办: one application, one form, sub-cases in parallel departments."""

from __future__ import annotations

import pytest

from tests import factories
from tests.cases.conftest import act, form_for, pdf
from yiwang.cases import services, services_bundles
from yiwang.cases.models import BundleCase, Case
from yiwang.catalog.models import ServiceItem
from yiwang.core.errors import ValidationFailed
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(published, org_b, admin_b):
    admin_b2 = factories.staff("catalog_b2", org_b, Role.CATALOG_ADMIN)
    sign = factories.published_item(org_b, admin_b, admin_b2, name="户外招牌设置备案", aliases="",
                                    mats=factories.materials("营业执照", "招牌效果图"))
    items = list(ServiceItem.objects.filter(pk__in=[published.item_id, sign.item_id]))
    return services_bundles.define_bundle(None, code="kai-canguan", name="我要开餐馆", description="", items=items)


def _files(plan):
    return {m["key"]: pdf(f"{m['name']}.pdf") for m in plan.materials}


def test_plan_asks_shared_fields_and_same_named_materials_once(bundle):
    plan = services_bundles.plan(bundle, "person")
    names = [m["name"] for m in plan.materials]
    assert names.count("营业执照") == 1 and len(names) == 3
    shared = next(m for m in plan.materials if m["name"] == "营业执照")
    assert len(shared["targets"]) == 2
    assert len(plan.form["schema"]["properties"]) == len(services_bundles.formschema.default_definition(
        "person")["schema"]["properties"])


def test_one_submission_makes_a_sub_case_in_each_department(applicant, bundle, people):
    plan = services_bundles.plan(bundle, "person")
    record = services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=_files(plan))
    cases = list(record.cases.order_by("pk"))
    assert len(cases) == 2 and len({c.organization_id for c in cases}) == 2
    assert all(c.status == Case.Status.SUBMITTED for c in cases)
    assert record.number.startswith("YJS")
    progress = services_bundles.progress(record)
    assert progress["ended"] == 0 and not progress["complete"]


def test_the_bundle_completes_when_every_sub_case_has_ended_and_shows_refusals(applicant, bundle, people):
    plan = services_bundles.plan(bundle, "person")
    record = services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=_files(plan))
    first, second = record.cases.order_by("pk")
    a = first if first.organization_id == people["reviewer"].staff.organization_id else second
    b = second if a is first else first
    a = act(people["clerk"], a, "pre_review", "accept")
    a = act(people["reviewer"], a, "review", "pass")
    a = act(people["approver"], a, "decide", "approve")
    a = act(people["reviewer"], a, "produce", "produced")
    act(people["clerk"], a, "deliver", "delivered")
    record.refresh_from_db()
    assert record.completed_at is None and services_bundles.progress(record)["ended"] == 1

    b = act(people["clerk"], b, "pre_review", "accept")
    b = act(people["reviewer_b"], b, "review", "pass")
    b = act(people["approver_b"], b, "decide", "refuse", opinion="招牌尺寸超标", decision_reason="不符合设置规范第五条")
    act(people["clerk"], b, "deliver", "delivered")
    record.refresh_from_db()
    progress = services_bundles.progress(record)
    assert record.completed_at is not None and progress["complete"] and progress["percent"] == 100
    assert [c.pk for c in progress["refused"]] == [b.pk]


def test_a_missing_material_makes_no_case_at_all(applicant, bundle, people):
    plan = services_bundles.plan(bundle, "person")
    files = _files(plan)
    files.pop(plan.materials[-1]["key"])
    with pytest.raises(ValidationFailed) as exc:
        services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=files)
    assert plan.materials[-1]["key"] in exc.value.fields
    assert not Case.objects.exists() and not BundleCase.objects.exists()


def test_a_sub_case_failing_rolls_back_the_whole_bundle(applicant, bundle, people):
    plan = services_bundles.plan(bundle, "person")
    files = _files(plan)
    files[plan.materials[0]["key"]] = pdf("x.pdf", b"not a pdf at all")
    with pytest.raises(ValidationFailed):
        services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=files)
    assert not Case.objects.exists() and not BundleCase.objects.exists()


def test_the_same_idempotency_key_makes_one_bundle(applicant, bundle, people):
    plan = services_bundles.plan(bundle, "person")
    one = services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=_files(plan),
                                         idempotency_key="b-1")
    two = services_bundles.submit_bundle(applicant, bundle, form_data=form_for(applicant), files=_files(plan),
                                         idempotency_key="b-1")
    assert one.pk == two.pk and Case.objects.count() == 2


def test_bundle_pages(client, applicant, bundle, people):
    assert "我要开餐馆" in client.get("/bundles/").content.decode()
    assert "登录后申请" in client.get("/bundles/kai-canguan/").content.decode()
    client.force_login(applicant)
    page = client.get("/bundles/kai-canguan/").content.decode()
    assert "同名材料只交一次" in page
    plan = services_bundles.plan(bundle, "person")
    data = {**form_for(applicant), "delivery": "window", "idempotency_key": "pg"}
    data.update({m["key"]: pdf(f"{m['name']}.pdf") for m in plan.materials})
    response = client.post("/bundles/kai-canguan/", data)
    record = BundleCase.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/my/bundles/{record.number}/"
    detail = client.get(response["Location"]).content.decode()
    assert "已办结 0 / 2" in detail
    services.withdraw(applicant, record.cases.first(), reason="先办一个")
