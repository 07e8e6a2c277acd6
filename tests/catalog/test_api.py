"""The catalog API as an integrating system sees it: public reads and the staff workflow."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog import services
from yiwang.catalog.models import ItemVersion, ServiceItem
from yiwang.core.models import AuditEntry
from yiwang.core.validators import make_uscc
from yiwang.identity.models import Role

ITEMS = "/api/v1/items/"


@pytest.fixture
def anon():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    sign_in_staff(client, user)
    return client


def new_item_body(org, **overrides) -> dict:
    body = {"organization": org.uscc, **factories.item_data(), "themes": ["kaiban"],
            "materials": factories.materials()}
    body.update(overrides)
    return body


def item_url(code: str, suffix: str = "") -> str:
    return f"{ITEMS}{code}/{suffix}"


def publish_many(org, author, reviewer, n: int, **overrides) -> list[ItemVersion]:
    return [factories.published_item(org, author, reviewer, name=f"测试事项{i:03d}", **overrides) for i in range(n)]


# ----------------------------------------------------------------------------- public list
def test_list_row_has_the_fields_integrators_need(anon, published):
    body = anon.get(ITEMS).json()
    assert body["count"] == 1 and body["page"] == 1 and body["pages"] == 1
    row = body["results"][0]
    assert row == {
        "implementation_code": published.item.implementation_code,
        "basic_code": published.item.basic_item.basic_code,
        "name": "食品经营许可", "item_type": "01", "item_type_label": "行政许可",
        "organization": {"uscc": published.item.organization.uscc, "name": "临江市市场监督管理局"},
        "region": "390100000000", "online_level": 3, "online_level_label": "Ⅲ级（网上预审受理）",
        "promised_limit_days": 10, "statutory_limit_days": 20, "visits": 1, "service_objects": ["2"],
        "version": 1, "url": f"http://testserver{item_url(published.item.implementation_code)}",
        "guide_url": f"http://testserver/items/{published.item.implementation_code}/",
    }
    assert "facets" not in body


def test_list_finds_items_by_everyday_words(anon, published):
    assert [r["name"] for r in anon.get(ITEMS, {"q": "开饭店"}).json()["results"]] == ["食品经营许可"]
    assert anon.get(ITEMS, {"q": "护照"}).json()["count"] == 0


def test_list_filters_narrow_the_results(anon, published, org_b, admin_b, city):
    admin_b2 = factories.staff("catalog_b2", org_b, Role.CATALOG_ADMIN)
    factories.theme("shengyu", "生育", "person")
    factories.published_item(org_b, admin_b, admin_b2, name="生育登记", item_type="20", service_objects=["1"],
                             online_depth=["1", "2", "3", "4", "5"], visits=0, theme_codes=["shengyu"])

    def names(**params):
        response = anon.get(ITEMS, params)
        assert response.status_code == 200, response.json()
        return sorted(r["name"] for r in response.json()["results"])

    assert names() == ["生育登记", "食品经营许可"]
    assert names(type="20") == ["生育登记"]
    assert names(organization=published.item.organization.uscc) == ["食品经营许可"]
    assert names(theme="shengyu") == ["生育登记"]
    assert names(object="person") == ["生育登记"]
    assert names(object="legal") == ["食品经营许可"]
    assert names(depth="4") == ["生育登记"]
    assert names(region="390000000000") == ["生育登记", "食品经营许可"]  # the province includes the city
    assert names(region="390102000000") == []  # nothing implemented by the district itself


def test_well_formed_but_unknown_organization_gives_an_empty_list(anon, published):
    unknown = make_uscc("1", "1", "390100", "Q0000001")
    response = anon.get(ITEMS, {"organization": unknown})
    assert response.status_code == 200
    assert response.json()["count"] == 0 and response.json()["results"] == []


def test_facets_are_added_on_request_with_filterable_values(anon, published):
    body = anon.get(ITEMS, {"facets": "true"}).json()
    facets = body["facets"]
    assert set(facets) == {"type", "depth", "object", "organization", "theme", "region"}
    assert facets["type"] == [{"value": "01", "label": "行政许可", "count": 1}]
    assert facets["organization"][0]["value"] == published.item.organization.uscc
    assert {"value": "kaiban", "label": "企业开办", "count": 1} in facets["theme"]


def test_pages_are_numbered_and_linked(anon, org_a, admin_a, admin_a2):
    publish_many(org_a, admin_a, admin_a2, 3)
    first = anon.get(ITEMS, {"page_size": 2}).json()
    assert first["count"] == 3 and first["pages"] == 2 and len(first["results"]) == 2
    assert first["previous"] is None and "page=2" in first["next"]
    second = anon.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


@pytest.mark.parametrize("params", [{}, {"q": "测试事项", "facets": "true"}])
def test_list_queries_do_not_grow_with_the_number_of_items(anon, org_a, admin_a, admin_a2, params):
    factories.theme()
    publish_many(org_a, admin_a, admin_a2, 5, theme_codes=["kaiban"])
    anon.get(ITEMS, params)  # warm the synonym cache
    with CaptureQueriesContext(connection) as five:
        assert len(anon.get(ITEMS, {**params, "page_size": 100}).json()["results"]) == 5
    publish_many(org_a, admin_a, admin_a2, 20, theme_codes=["kaiban"])
    with CaptureQueriesContext(connection) as twenty_five:
        assert len(anon.get(ITEMS, {**params, "page_size": 100}).json()["results"]) == 25
    assert len(twenty_five) == len(five)


def test_list_never_loads_the_search_document_or_tokens(anon, published):
    with CaptureQueriesContext(connection) as ctx:
        anon.get(ITEMS)
    selects = [q["sql"].split(" FROM ")[0] for q in ctx.captured_queries]
    assert selects and not any("document" in s or "tokens" in s for s in selects)


# ----------------------------------------------------------------------------- public detail
def test_detail_shows_every_element_of_the_published_version(anon, published):
    code = published.item.implementation_code
    body = anon.get(item_url(code)).json()
    for field in services.VERSION_FIELDS:
        assert field in body, field
    assert body["version"] == 1 and body["published_at"]
    assert body["item_type_label"] == "行政许可" and body["exercise_level_label"] == "市级"
    assert body["result_type_label"] == "证照" and body["case_type_label"] == "承诺件"
    assert body["service_objects_labels"] == ["企业法人"]
    assert body["handling_forms_labels"] == ["窗口办理", "网上办理（电脑端）"]
    assert body["process_steps"] == ["申请", "受理", "审查", "决定", "送达"]
    assert body["legal_basis"].startswith("《中华人民共和国食品安全法》")
    assert body["consult_phone"] == "0391-12345" and body["supervise_phone"] == "0391-12315"
    assert body["themes"] == [{"code": "kaiban", "name": "企业开办", "audience": "legal",
                               "audience_label": "法人办事", "description": ""}]
    material = body["materials"][0]
    assert material["name"] == "食品经营许可申请书" and material["kind_label"] == "原件"
    assert material["blank_form"] is None and material["sample"] is None
    assert "lock_version" not in body and "review_opinion" not in body


def test_detail_keeps_showing_the_published_version_while_a_revision_is_drafted(anon, published, admin_a):
    code = published.item.implementation_code
    draft = services.start_revision(admin_a, published.item)
    services.update_draft(admin_a, draft, data={"name": "食品经营许可（新）"}, expected_lock=draft.lock_version)
    body = anon.get(item_url(code)).json()
    assert body["name"] == "食品经营许可" and body["version"] == 1


def test_detail_query_count_is_constant(anon, org_a, admin_a, admin_a2):
    small = factories.published_item(org_a, admin_a, admin_a2, mats=factories.materials("甲"))
    large = factories.published_item(org_a, admin_a, admin_a2, name="另一事项",
                                     mats=factories.materials(*[f"材料{i}" for i in range(12)]))
    with CaptureQueriesContext(connection) as one:
        anon.get(item_url(small.item.implementation_code))
    with CaptureQueriesContext(connection) as twelve:
        anon.get(item_url(large.item.implementation_code))
    assert len(one) == len(twelve)


def test_unknown_retired_or_unpublished_items_are_404(anon, published, admin_a, org_a):
    assert anon.get(item_url("11390100T0000001XC3390117999000")).status_code == 404
    draft = services.create_item(admin_a, organization=org_a, data=factories.item_data(name="未发布事项"),
                                 materials=factories.materials())
    assert anon.get(item_url(draft.item.implementation_code)).status_code == 404
    services.retire_item(admin_a, published.item, reason="职能调整")
    response = anon.get(item_url(published.item.implementation_code))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and " / " in response.json()["detail"]
    assert anon.get(ITEMS).json()["count"] == 0


def test_themes_are_listed_and_filtered_by_audience(anon, db):
    factories.theme("kaiban", "企业开办", "legal")
    factories.theme("shengyu", "生育", "person")
    assert [t["code"] for t in anon.get("/api/v1/themes/").json()] == ["kaiban", "shengyu"]
    assert [t["code"] for t in anon.get("/api/v1/themes/", {"audience": "legal"}).json()] == ["kaiban"]
    assert anon.get("/api/v1/themes/", {"audience": "x"}).status_code == 400


# ----------------------------------------------------------------------------- staff workflow
def test_catalog_admins_take_an_item_from_draft_to_published(anon, org_a, admin_a, admin_a2):
    factories.theme()
    author, reviewer = client_for(admin_a), client_for(admin_a2)
    created = author.post(ITEMS, new_item_body(org_a), format="json")
    assert created.status_code == 201, created.json()
    draft = created.json()
    code = draft["implementation_code"]
    assert draft["status"] == "draft" and draft["version"] == 1 and draft["lock_version"] == 0
    assert created["Location"].endswith(item_url(code, "versions/1/"))
    assert anon.get(item_url(code)).status_code == 404  # drafts are not public

    edited = author.patch(item_url(code, "draft/"), {"lock_version": 0, "name": "食品经营许可（餐饮）",
                                                     "promised_limit_days": 5}, format="json")
    assert edited.status_code == 200, edited.json()
    assert edited.json()["name"] == "食品经营许可（餐饮）" and edited.json()["lock_version"] == 1

    assert author.post(item_url(code, "submit/")).json()["status"] == "submitted"
    reviewed = reviewer.post(item_url(code, "review/"), {"approve": True, "opinion": "同意"}, format="json")
    assert reviewed.json()["status"] == "reviewed", reviewed.json()
    assert reviewer.post(item_url(code, "publish/")).json()["status"] == "published"

    public = anon.get(item_url(code)).json()
    assert public["name"] == "食品经营许可（餐饮）" and public["promised_limit_days"] == 5
    assert [r["implementation_code"] for r in anon.get(ITEMS).json()["results"]] == [code]


def test_returning_a_version_needs_a_reason_and_puts_it_back_to_draft(org_a, admin_a, admin_a2):
    author, reviewer = client_for(admin_a), client_for(admin_a2)
    code = author.post(ITEMS, new_item_body(org_a, themes=[]), format="json").json()["implementation_code"]
    author.post(item_url(code, "submit/"))
    no_reason = reviewer.post(item_url(code, "review/"), {"approve": False}, format="json")
    assert no_reason.status_code == 400 and "opinion" in no_reason.json()["fields"]
    returned = reviewer.post(item_url(code, "review/"), {"approve": False, "opinion": "请补充收费依据"}, format="json")
    assert returned.json()["status"] == "draft" and returned.json()["review_opinion"] == "请补充收费依据"


def test_the_submitter_cannot_review_their_own_version(org_a, admin_a):
    author = client_for(admin_a)
    code = author.post(ITEMS, new_item_body(org_a, themes=[]), format="json").json()["implementation_code"]
    author.post(item_url(code, "submit/"))
    response = author.post(item_url(code, "review/"), {"approve": True}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_versions_list_includes_drafts_for_the_organisations_staff(published, admin_a):
    services.start_revision(admin_a, published.item)
    code = published.item.implementation_code
    staff = client_for(admin_a)
    versions = staff.get(item_url(code, "versions/")).json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "draft"), (1, "published")]
    v2 = staff.get(item_url(code, "versions/2/")).json()
    assert v2["status"] == "draft" and v2["lock_version"] == 0 and len(v2["materials"]) == 2
    assert staff.get(item_url(code, "versions/9/")).status_code == 404


def test_a_stale_lock_version_is_refused_with_409_and_changes_nothing(published, admin_a, admin_a2):
    code = published.item.implementation_code
    first, second = client_for(admin_a), client_for(admin_a2)
    first.post(item_url(code, "revise/"))
    assert first.patch(item_url(code, "draft/"), {"lock_version": 0, "hours": "全天"}, format="json").status_code == 200
    audit_before = AuditEntry.objects.count()
    stale = second.patch(item_url(code, "draft/"), {"lock_version": 0, "hours": "上午"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict" and "lock_version" in stale.json()["fields"]
    assert ItemVersion.objects.get(item=published.item, number=2).hours == "全天"
    assert AuditEntry.objects.count() == audit_before


def test_editing_materials_by_id_keeps_their_files(published, admin_a):
    from yiwang.catalog.models import Material

    Material.objects.filter(version=published, name="营业执照").update(blank_form="catalog/materials/x/form.pdf")
    code = published.item.implementation_code
    staff = client_for(admin_a)
    draft = staff.post(item_url(code, "revise/")).json()
    kept = next(m for m in draft["materials"] if m["name"] == "营业执照")
    assert kept["blank_form"].endswith("/media/catalog/materials/x/form.pdf")
    response = staff.patch(item_url(code, "draft/"), {"lock_version": draft["lock_version"], "materials": [
        {"id": kept["id"], "name": "营业执照（副本）"}, {"name": "场所证明"}]}, format="json")
    assert response.status_code == 200, response.json()
    materials = response.json()["materials"]
    assert [m["name"] for m in materials] == ["营业执照（副本）", "场所证明"]
    assert materials[0]["blank_form"].endswith("form.pdf") and materials[1]["blank_form"] is None


def test_actions_in_the_wrong_state_are_409(published, admin_a):
    code = published.item.implementation_code
    staff = client_for(admin_a)
    response = staff.post(item_url(code, "publish/"))
    assert response.status_code == 409 and response.json()["code"] == "state_conflict"
    assert staff.patch(item_url(code, "draft/"), {"lock_version": 0, "hours": "全天"},
                       format="json").status_code == 409


def test_diff_lists_the_changed_fields(published, admin_a):
    draft = services.start_revision(admin_a, published.item)
    services.update_draft(admin_a, draft, data={"promised_limit_days": 5}, expected_lock=draft.lock_version)
    code = published.item.implementation_code
    diff = client_for(admin_a).get(item_url(code, "diff/"), {"a": 1, "b": 2}).json()
    assert [(d["field"], d["old"], d["new"]) for d in diff] == [("promised_limit_days", "10", "5")]
    assert diff[0]["label"] == "承诺办结时限（工作日）"
    assert client_for(admin_a).get(item_url(code, "diff/"), {"a": 1, "b": 7}).status_code == 404
    assert client_for(admin_a).get(item_url(code, "diff/"), {"a": "x"}).status_code == 400


def test_retiring_withdraws_the_item_from_the_public_api(anon, published, admin_a):
    code = published.item.implementation_code
    response = client_for(admin_a).post(item_url(code, "retire/"), {"reason": "职能调整"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "retired" and response.json()["retired_reason"] == "职能调整"
    assert anon.get(item_url(code)).status_code == 404
    assert anon.get(ITEMS).json()["count"] == 0
    again = client_for(admin_a).post(item_url(code, "retire/"), {"reason": "重复"}, format="json")
    assert again.status_code == 409


def test_revise_returns_the_open_version_when_there_is_one(published, admin_a):
    code = published.item.implementation_code
    staff = client_for(admin_a)
    assert staff.post(item_url(code, "revise/")).json()["version"] == 2
    assert staff.post(item_url(code, "revise/")).json()["version"] == 2
    assert published.item.versions.count() == 2


# ----------------------------------------------------------------------------- who may write
def counts() -> tuple[int, int, int]:
    return ItemVersion.objects.count(), ServiceItem.objects.count(), AuditEntry.objects.count()


def test_anonymous_writes_are_refused_and_write_nothing(anon, published, org_a):
    code = published.item.implementation_code
    before = counts()
    attempts = [
        anon.post(ITEMS, new_item_body(org_a), format="json"),
        anon.patch(item_url(code, "draft/"), {"lock_version": 0}, format="json"),
        anon.post(item_url(code, "revise/")),
        anon.post(item_url(code, "retire/"), {"reason": "x"}, format="json"),
        anon.get(item_url(code, "versions/")),
        anon.get(item_url(code, "diff/"), {"a": 1, "b": 1}),
    ]
    for response in attempts:
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"
    assert counts() == before


def test_admin_of_another_department_gets_404_for_drafts_versions_and_actions(published, admin_a, admin_b):
    services.start_revision(admin_a, published.item)
    code = published.item.implementation_code
    other = client_for(admin_b)
    before = counts()
    attempts = [
        other.get(item_url(code, "versions/")),
        other.get(item_url(code, "versions/2/")),
        other.get(item_url(code, "diff/"), {"a": 1, "b": 2}),
        other.patch(item_url(code, "draft/"), {"lock_version": 0, "hours": "全天"}, format="json"),
        other.post(item_url(code, "submit/")),
        other.post(item_url(code, "review/"), {"approve": True}, format="json"),
        other.post(item_url(code, "publish/")),
        other.post(item_url(code, "revise/")),
        other.post(item_url(code, "retire/"), {"reason": "越权"}, format="json"),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert counts() == before


def test_admin_cannot_create_items_for_another_department(org_a, admin_b):
    before = counts()
    response = client_for(admin_b).post(ITEMS, new_item_body(org_a, themes=[]), format="json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert counts() == before


def test_staff_without_the_catalog_role_see_nothing(published, org_a):
    clerk = factories.staff("clerk_a", org_a, Role.CLERK)
    code = published.item.implementation_code
    assert client_for(clerk).get(item_url(code, "versions/")).status_code == 404


def test_platform_admin_may_act_for_every_department(published, platform_admin):
    code = published.item.implementation_code
    assert client_for(platform_admin).get(item_url(code, "versions/")).status_code == 200


def test_session_writes_need_the_csrf_token(published, admin_a):
    client = APIClient(enforce_csrf_checks=True)
    sign_in_staff(client, admin_a)
    response = client.post(item_url(published.item.implementation_code, "revise/"))
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert published.item.versions.count() == 1


def _reviewed_item(org, author, reviewer) -> str:
    version = services.create_item(author, organization=org, data=factories.item_data(),
                                   materials=factories.materials())
    version = services.submit_version(author, version)
    services.review_version(reviewer, version, approve=True)
    return version.item.implementation_code


def test_a_publish_that_lands_between_read_and_write_makes_the_slower_one_409(
        monkeypatch, org_a, admin_a, admin_a2):
    """The race, interleaved by hand: B publishes after A has read the version but before A writes."""
    code = _reviewed_item(org_a, admin_a, admin_a2)
    first, second = client_for(admin_a), client_for(admin_a2)
    real_publish, raced = services.publish_version, []

    def publish_after_a_rival(user, version):
        if user == admin_a and not raced:
            raced.append(second.post(item_url(code, "publish/")))
        return real_publish(user, version)

    monkeypatch.setattr(services, "publish_version", publish_after_a_rival)
    slower = first.post(item_url(code, "publish/"))
    assert raced[0].status_code == 200
    assert slower.status_code == 409 and slower.json()["code"] == "state_conflict"
    assert ItemVersion.objects.filter(item__implementation_code=code, status="published").count() == 1
    assert AuditEntry.objects.filter(action="catalog.version.publish").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_publish_one_wins_the_other_gets_409(city, org_a, admin_a, admin_a2):
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database refuses a second writer instead of waiting")
    code = _reviewed_item(org_a, admin_a, admin_a2)
    clients = [client_for(admin_a), client_for(admin_a2)]
    barrier, statuses = threading.Barrier(2, timeout=30), []

    def publish(client):
        try:
            barrier.wait()
            statuses.append(client.post(item_url(code, "publish/")).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 409]
    assert ItemVersion.objects.filter(item__implementation_code=code, status="published").count() == 1
    assert AuditEntry.objects.filter(action="catalog.version.publish").count() == 1


# ----------------------------------------------------------------------------- schema and docs
def test_openapi_schema_generates_without_errors_or_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/items/", "/api/v1/items/{implementation_code}/draft/", "/api/v1/regions/{code}/"):
        assert path in text


def test_swagger_ui_is_served_from_our_own_static_files(anon, db):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "https://" not in html
