"""The back office (工作台) as catalog administrators use it: create, review, publish, revise."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog import search
from yiwang.catalog.models import ItemVersion, Material, ServiceItem
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def item_post(org, **overrides) -> dict:
    """What the create form posts for a complete item with one material."""
    data = {
        "organization": str(org.pk), "name": "餐饮服务许可", "aliases": "开小吃店", "item_type": "01",
        "exercise_level": "3", "power_source": "1", "service_objects": ["2"], "themes": [],
        "legal_basis": "《中华人民共和国食品安全法》", "conditions": "有固定经营场所", "process": "申请\n受理\n决定",
        "case_type": "2", "statutory_limit_days": "20", "promised_limit_days": "5",
        "handling_forms": ["1", "2"], "online_depth": ["1", "2"], "visits": "1", "scope": "local",
        "in_hall": "on", "supports_appointment": "on", "min_assurance_level": "1",
        "location": "市政务服务中心二楼", "hours": "工作日 9:00-17:00", "consult_phone": "0391-12345",
        "supervise_phone": "0391-12315", "result_type": "10", "result_name": "许可证",
        "change_note": "新建",
        "m-TOTAL_FORMS": "1", "m-INITIAL_FORMS": "0", "m-MIN_NUM_FORMS": "0", "m-MAX_NUM_FORMS": "60",
        "m-0-name": "餐饮服务许可申请书", "m-0-kind": "1", "m-0-media": "3", "m-0-originals": "1",
        "m-0-copies": "0", "m-0-required": "1", "m-0-source": "applicant", "m-0-paper_size": "A4",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create_via_form(client, org, **overrides) -> ServiceItem:
    response = client.post("/office/items/new/", item_post(org, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    return ServiceItem.objects.get(implementation_code=response["Location"].rstrip("/").split("/")[-1])


def counts():
    return AuditEntry.objects.count(), ItemVersion.objects.count(), Material.objects.count()


def edit_post(version, **overrides) -> dict:
    data = item_post(version.item.organization, lock_version=str(version.lock_version), **overrides)
    data.pop("organization")
    mats = list(version.materials.all())
    data.update({"m-TOTAL_FORMS": str(len(mats)), "m-INITIAL_FORMS": str(len(mats))})
    for i, m in enumerate(mats):
        data.update({f"m-{i}-name": m.name, f"m-{i}-kind": m.kind, f"m-{i}-media": m.media,
                     f"m-{i}-originals": str(m.originals), f"m-{i}-copies": str(m.copies),
                     f"m-{i}-required": "1" if m.required else "0", f"m-{i}-condition": m.condition,
                     f"m-{i}-source": m.source, f"m-{i}-paper_size": m.paper_size})
    return data


# ----------------------------------------------------------------------------- the happy path
def test_created_item_goes_through_review_and_publishing_to_the_portal_search(client, org_a, admin_a, admin_a2):
    sign_in_staff(client, admin_a)
    item = create_via_form(client, org_a)
    page = client.get(f"/office/items/{item.implementation_code}/")
    assert "已新建事项" in page.content.decode()
    assert "餐饮服务许可" in client.get("/office/items/").content.decode()
    assert "餐饮服务许可" in client.get("/office/items/?q=餐饮&status=draft").content.decode()
    assert "餐饮服务许可" not in client.get("/office/items/?status=published").content.decode()

    r = client.post(f"/office/items/{item.implementation_code}/versions/1/submit/")
    assert r.status_code == 302
    # Four eyes: the author cannot approve their own submission.
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/review/", {"decision": "approve"})
    assert r.status_code == 403
    assert "审核须由提交人以外的管理员进行" in r.content.decode()
    assert item.versions.get().status == ItemVersion.Status.SUBMITTED

    sign_in_staff(client, admin_a2)
    dashboard = client.get("/office/").content.decode()
    assert "待我审核" in dashboard and "餐饮服务许可" in dashboard
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/review/",
                    {"decision": "approve", "opinion": "同意"})
    assert r.status_code == 302
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/publish/")
    assert r.status_code == 302
    item.refresh_from_db()
    assert item.published_version.number == 1
    assert [e.item_id for e in search.search("餐饮服务许可")] == [item.pk]
    assert [e.item_id for e in search.search("开小吃店")] == [item.pk]


def test_returning_a_version_needs_a_reason_and_shows_it_to_the_author(client, org_a, admin_a, admin_a2):
    sign_in_staff(client, admin_a)
    item = create_via_form(client, org_a)
    client.post(f"/office/items/{item.implementation_code}/versions/1/submit/")
    sign_in_staff(client, admin_a2)
    url = f"/office/items/{item.implementation_code}/versions/1/review/"
    r = client.post(url, {"decision": "return", "opinion": ""})
    assert r.status_code == 400 and "退回修改时请写明理由" in r.content.decode()
    r = client.post(url, {"decision": "return", "opinion": "收费依据不全"})
    assert r.status_code == 302
    sign_in_staff(client, admin_a)
    assert "收费依据不全" in client.get(f"/office/items/{item.implementation_code}/").content.decode()
    assert item.versions.get().status == ItemVersion.Status.DRAFT


def test_publishing_a_draft_is_refused_with_409(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    item = create_via_form(client, org_a)
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/publish/")
    assert r.status_code == 409
    assert "不能发布" in r.content.decode()


def test_revision_of_a_published_item_opens_a_new_draft_and_compare_shows_the_change(
        client, published, admin_a):
    sign_in_staff(client, admin_a)
    code = published.item.implementation_code
    r = client.post(f"/office/items/{code}/revise/")
    assert r.status_code == 302 and r["Location"].endswith("/versions/2/edit/")
    draft = published.item.versions.get(number=2)
    r = client.post(f"/office/items/{code}/versions/2/edit/",
                    edit_post(draft, name="食品经营许可", promised_limit_days="3", change_note="压缩时限"))
    assert r.status_code == 302, r.content.decode()[:3000]
    page = client.get(f"/office/items/{code}/compare/?a=1&b=2").content.decode()
    assert "承诺办结时限（工作日）" in page
    assert "<pre>10</pre>" in page and "<pre>3</pre>" in page
    assert "事项名称" not in page.split("<tbody>")[1]  # unchanged elements are not listed


def test_history_lists_every_step_in_words(client, published, admin_a):
    sign_in_staff(client, admin_a)
    page = client.get(f"/office/items/{published.item.implementation_code}/history/").content.decode()
    for words in ("新建事项", "提交审核", "审核通过", "发布", "catalog_a2"):
        assert words in page


def test_version_page_shows_elements_in_guide_order(client, published, admin_a):
    sign_in_staff(client, admin_a)
    page = client.get(f"/office/items/{published.item.implementation_code}/versions/1/").content.decode()
    positions = [page.index(h) for h in ("基本信息", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准",
                                         "设定依据")]
    assert positions == sorted(positions)
    assert "营业执照" in page


def test_retiring_needs_a_reason_then_withdraws_the_item_from_search(client, published, admin_a):
    sign_in_staff(client, admin_a)
    code = published.item.implementation_code
    r = client.post(f"/office/items/{code}/retire/", {"reason": ""})
    assert r.status_code == 400 and "请写明取消原因" in r.content.decode()
    r = client.post(f"/office/items/{code}/retire/", {"reason": "职能调整"})
    assert r.status_code == 302
    assert list(search.search("食品经营许可")) == []


# ----------------------------------------------------------------------------- concurrency and bad input
def test_saving_a_draft_with_a_stale_lock_version_is_a_409_and_changes_nothing(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    item = create_via_form(client, org_a)
    draft = item.versions.get()
    stale = edit_post(draft, name="别人改过的名称")
    client.post(f"/office/items/{item.implementation_code}/versions/1/edit/", edit_post(draft, name="先保存的名称"))
    draft.refresh_from_db()
    before = counts()
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/edit/", stale)
    assert r.status_code == 409
    body = r.content.decode()
    assert "该草稿已被他人修改" in body
    assert 'value="别人改过的名称"' in body  # the user's input is kept
    draft.refresh_from_db()
    assert draft.name == "先保存的名称" and counts() == before


@pytest.mark.parametrize("overrides, field, message", [
    ({"name": ""}, "name", "请填写此项"),
    ({"promised_limit_days": "30"}, "promised_limit_days", "承诺时限不能超过法定时限"),
    ({"statutory_limit_days": "abc"}, "statutory_limit_days", "请输入整数"),
    ({"m-0-required": "0", "m-0-condition": ""}, "m-0-condition", "非必要材料须写明何种情形下提交"),
])
def test_invalid_form_is_a_400_with_messages_beside_the_fields_and_nothing_written(
        client, org_a, admin_a, overrides, field, message):
    sign_in_staff(client, admin_a)
    before = counts()
    r = client.post("/office/items/new/", item_post(org_a, **overrides))
    assert r.status_code == 400
    body = r.content.decode()
    assert 'class="error-summary' in body and f'href="#f-{field}"' in body
    assert message in body and " / " in body
    assert counts() == before and not ServiceItem.objects.exists()
    assert 'value="市政务服务中心二楼"' in body  # input kept


def test_an_upload_that_is_not_what_its_name_says_is_rejected(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    before = counts()
    fake = SimpleUploadedFile("申请书.pdf", b"just some text, not a pdf", content_type="application/pdf")
    r = client.post("/office/items/new/", {**item_post(org_a), "m-0-blank_form": fake})
    assert r.status_code == 400
    assert "文件内容与扩展名不符" in r.content.decode()
    assert counts() == before


def test_a_real_pdf_is_stored_with_the_material(client, org_a, admin_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sign_in_staff(client, admin_a)
    pdf = SimpleUploadedFile("申请书.pdf", b"%PDF-1.4\n%test\n", content_type="application/pdf")
    item = create_via_form(client, org_a, **{"m-0-blank_form": pdf})
    material = item.versions.get().materials.get()
    assert material.blank_form.name.endswith(".pdf")


def test_adding_a_material_row_redisplays_without_errors(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    r = client.post("/office/items/new/", {**item_post(org_a, name=""), "add_material": "1"})
    assert r.status_code == 200
    body = r.content.decode()
    assert 'name="m-1-name"' in body and "error-summary" not in body
    assert not ServiceItem.objects.exists()


def test_submitting_without_materials_is_refused(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    item = create_via_form(client, org_a, **{"m-TOTAL_FORMS": "0"})
    r = client.post(f"/office/items/{item.implementation_code}/versions/1/submit/")
    assert r.status_code == 400 and "请至少列出一项申请材料" in r.content.decode()


# ----------------------------------------------------------------------------- scoping and access
def test_admin_of_another_department_gets_404_for_the_item_and_its_actions(client, published, admin_b):
    sign_in_staff(client, admin_b)
    code = published.item.implementation_code
    before = counts()
    for url in (f"/office/items/{code}/", f"/office/items/{code}/versions/1/", f"/office/items/{code}/history/",
                f"/office/items/{code}/compare/", f"/office/items/{code}/versions/1/edit/"):
        assert client.get(url).status_code == 404, url
    for url, data in ((f"/office/items/{code}/revise/", {}), (f"/office/items/{code}/retire/", {"reason": "x"}),
                      (f"/office/items/{code}/versions/1/publish/", {}),
                      (f"/office/items/{code}/versions/1/review/", {"decision": "approve"})):
        assert client.post(url, data).status_code == 404, url
    assert counts() == before
    published.item.refresh_from_db()
    assert published.item.state == ServiceItem.State.ACTIVE
    assert "食品经营许可" not in client.get("/office/items/").content.decode()


def test_creating_for_another_department_is_refused(client, org_a, org_b, admin_b):
    sign_in_staff(client, admin_b)
    r = client.post("/office/items/new/", item_post(org_a))
    assert r.status_code == 400 and "请从列表中选择" in r.content.decode()
    assert not ServiceItem.objects.exists()


def test_user_without_staff_account_gets_403_and_anonymous_goes_to_login(client, db):
    assert client.get("/office/")["Location"].startswith("/accounts/login/")
    user = get_user_model().objects.create_user("citizen", password="yiwang-demo")
    sign_in_staff(client, user)
    for url in ("/office/", "/office/items/", "/office/items/new/"):
        assert client.get(url).status_code == 403


def test_staff_without_catalog_role_cannot_open_item_pages(client, org_a):
    clerk = factories.staff("clerk", org_a, "clerk")
    sign_in_staff(client, clerk)
    assert client.get("/office/").status_code == 200
    assert client.get("/office/items/").status_code == 403


def test_list_is_sortable_filterable_and_paginated(client, org_a, admin_a):
    sign_in_staff(client, admin_a)
    for i in range(22):
        create_via_form(client, org_a, name=f"测试事项{i:02d}")
    client.get("/office/")  # shows (and clears) the last confirmation message
    page1 = client.get("/office/items/?sort=name").content.decode()
    assert "测试事项00" in page1 and "测试事项21" not in page1 and "第 1 / 2 页" in page1
    assert 'href="?sort=name&amp;page=2" rel="next">下一页' in page1 and "上一页" not in page1  # keeps the sort
    page2 = client.get("/office/items/?sort=name&page=2").content.decode()
    assert "测试事项21" in page2
    assert 'href="?sort=name&amp;page=1" rel="prev">上一页' in page2 and "下一页" not in page2
    desc = client.get("/office/items/?sort=-name").content.decode()
    assert "测试事项21" in desc and 'aria-sort="descending"' in desc
    assert client.get("/office/items/?sort=bogus&page=99&type=zz").status_code == 200
