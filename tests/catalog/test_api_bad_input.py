"""Bad input to the catalog API: always a 4xx with messages per field, never a 500, never a write."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog.models import BasicItem, ItemVersion, Material, ServiceItem
from yiwang.core.models import AuditEntry

ITEMS = "/api/v1/items/"


def state() -> tuple[int, ...]:
    return (ItemVersion.objects.count(), ServiceItem.objects.count(), AuditEntry.objects.count(),
            Material.objects.count(), BasicItem.objects.count())


@pytest.fixture
def staff(admin_a):
    client = APIClient()
    sign_in_staff(client, admin_a)
    return client


@pytest.fixture
def body(org_a):
    factories.theme()

    def make(**overrides) -> dict:
        data = {"organization": org_a.uscc, **factories.item_data(), "themes": ["kaiban"],
                "materials": factories.materials()}
        data.update(overrides)
        return data

    return make


def assert_refused(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    data = response.json()
    assert set(data) == {"detail", "code", "fields"}
    assert "/ " in data["detail"]  # 中文 / English
    return data


def assert_bilingual(messages: list[str]) -> None:
    for message in messages:
        chinese, _, english = message.partition("/ ")
        assert english, message
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), message
        assert english.isascii(), message


# ----------------------------------------------------------------------------- the body itself
def test_malformed_json_is_a_400_that_says_so(staff, body):
    before = state()
    data = assert_refused(staff.post(ITEMS, '{"name": "食品', content_type="application/json"))
    assert data["detail"].startswith("请求内容不是有效的JSON")
    assert data["code"] == "parse_error"
    assert state() == before


@pytest.mark.parametrize("content_type, payload", [
    ("text/plain", "name=食品经营许可"),
    ("application/x-www-form-urlencoded", "name=x&organization=y"),
    ("application/xml", "<item/>"),
])
def test_a_body_that_is_not_json_is_415(staff, body, content_type, payload):
    before = state()
    data = assert_refused(staff.post(ITEMS, payload, content_type=content_type), 415)
    assert data["code"] == "unsupported_media_type"
    assert state() == before


@pytest.mark.parametrize("payload", ["[]", '["a"]', '"text"', "42", "null"])
def test_a_body_that_is_not_an_object_is_a_400(staff, payload):
    before = state()
    data = assert_refused(staff.post(ITEMS, payload, content_type="application/json"))
    assert_bilingual(data["fields"]["non_field_errors"])
    assert state() == before


# ----------------------------------------------------------------------------- field by field
CASES = {
    "unknown item type": ({"item_type": "99"}, "item_type"),
    "item type as a number": ({"item_type": 1}, "item_type"),
    "credit code with a wrong check character": ({"organization": "11390100T0000001X0"}, "organization"),
    "credit code of nobody": ({"organization": "91110000600037341L"}, "organization"),
    "organisation as an object": ({"organization": {"uscc": "x"}}, "organization"),
    "unknown theme": ({"themes": ["no-such-theme"]}, "themes"),
    "themes as a string": ({"themes": "kaiban"}, "themes"),
    "overlong name": ({"name": "事" * 201}, "name"),
    "overlong phone": ({"consult_phone": "1" * 101}, "consult_phone"),
    "overlong legal basis": ({"legal_basis": "法" * 20001}, "legal_basis"),
    "blank name": ({"name": ""}, "name"),
    "null name": ({"name": None}, "name"),
    "material with a bad kind": ({"materials": [{"name": "申请书", "kind": "7"}]}, "materials[0].kind"),
    "material without a name": ({"materials": [{"kind": "1"}]}, "materials[0].name"),
    "material with an unknown key": ({"materials": [{"name": "申请书", "colour": "red"}]}, "materials[0].colour"),
    "materials as an object": ({"materials": {"name": "申请书"}}, "materials"),
    "optional material without its condition": ({"materials": [{"name": "委托书", "required": False}]},
                                                "materials[0].condition"),
    "promised longer than statutory": ({"promised_limit_days": 30, "statutory_limit_days": 20},
                                       "promised_limit_days"),
    "negative time limit": ({"statutory_limit_days": -1}, "statutory_limit_days"),
    "time limit as text": ({"statutory_limit_days": "twenty"}, "statutory_limit_days"),
    "absurd time limit": ({"statutory_limit_days": 10**9}, "statutory_limit_days"),
    "service objects as a string": ({"service_objects": "2"}, "service_objects"),
    "unknown service object": ({"service_objects": ["8"]}, "service_objects[0]"),
    "no service object": ({"service_objects": []}, "service_objects"),
    "online depth as an object": ({"online_depth": {"1": True}}, "online_depth"),
    "fee without a standard": ({"charges_fee": True}, "fee_standard"),
    "boolean as a word": ({"charges_fee": "perhaps"}, "charges_fee"),
    "bad date": ({"effective_date": "2025-13-40"}, "effective_date"),
    "bad url": ({"online_url": "not a url"}, "online_url"),
    "misspelt field": ({"nmae": "食品经营许可"}, "nmae"),
    "malformed basic code": ({"basic_code": "12AB"}, "basic_code"),
    "unknown basic code": ({"basic_code": "390117999000"}, "basic_code"),
}


@pytest.mark.parametrize("overrides, field", CASES.values(), ids=CASES.keys())
def test_bad_field_is_reported_on_that_field_and_nothing_is_written(staff, body, overrides, field):
    before = state()
    data = assert_refused(staff.post(ITEMS, body(**overrides), format="json"))
    assert field in data["fields"], data["fields"]
    assert_bilingual(data["fields"][field])
    assert state() == before


def test_missing_required_fields_are_each_reported_in_chinese_then_english(staff, org_a):
    before = state()
    data = assert_refused(staff.post(ITEMS, {"organization": org_a.uscc}, format="json"))
    required = {"name", "item_type", "legal_basis", "conditions", "process", "statutory_limit_days",
                "promised_limit_days", "location", "hours", "consult_phone", "supervise_phone"}
    assert required <= set(data["fields"])
    for field in required:
        assert data["fields"][field] == ["该字段是必填项。 / This field is required."]
    assert state() == before


def test_an_empty_body_reports_every_required_field(staff):
    before = state()
    data = assert_refused(staff.post(ITEMS, "", content_type="application/json"))
    assert {"organization", "name", "legal_basis"} <= set(data["fields"])
    assert state() == before


def test_missing_organisation_is_reported(staff, body):
    payload = body()
    del payload["organization"]
    data = assert_refused(staff.post(ITEMS, payload, format="json"))
    assert_bilingual(data["fields"]["organization"])


def test_messages_stay_bilingual_whatever_language_the_client_asks_for(staff, body):
    response = staff.post(ITEMS, body(name="事" * 201), format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert_bilingual(assert_refused(response)["fields"]["name"])


# ----------------------------------------------------------------------------- edits and actions
@pytest.fixture
def draft_code(published, admin_a):
    from yiwang.catalog import services

    services.start_revision(admin_a, published.item)
    return published.item.implementation_code


@pytest.mark.parametrize("payload, field", [
    ({"hours": "全天"}, "lock_version"),
    ({"lock_version": "x", "hours": "全天"}, "lock_version"),
    ({"lock_version": 0, "name": "事" * 201}, "name"),
    ({"lock_version": 0, "item_type": "00"}, "item_type"),
    ({"lock_version": 0, "promised_limit_days": 99}, "promised_limit_days"),
    ({"lock_version": 0, "materials": [{"name": "申请书", "kind": "9"}]}, "materials[0].kind"),
    ({"lock_version": 0, "materials": "营业执照"}, "materials"),
    ({"lock_version": 0, "themes": ["no-such-theme"]}, "themes"),
    ({"lock_version": 0, "organization": "11390100T0000001XC"}, "organization"),
])
def test_bad_draft_edit_is_refused_and_the_draft_is_unchanged(staff, draft_code, payload, field):
    before = state()
    draft = ItemVersion.objects.get(item__implementation_code=draft_code, number=2)
    data = assert_refused(staff.patch(f"{ITEMS}{draft_code}/draft/", payload, format="json"))
    assert field in data["fields"], data["fields"]
    assert_bilingual(data["fields"][field])
    assert state() == before
    after = ItemVersion.objects.get(pk=draft.pk)
    assert (after.name, after.lock_version, after.promised_limit_days) == \
        (draft.name, draft.lock_version, draft.promised_limit_days)


@pytest.mark.parametrize("action, payload, field", [
    ("review", {}, "approve"),
    ("review", {"approve": "maybe"}, "approve"),
    ("review", {"approve": False, "opinion": "意" * 501}, "opinion"),
    ("retire", {}, "reason"),
    ("retire", {"reason": "因" * 201}, "reason"),
    ("retire", {"reason": "合并", "when": "now"}, "when"),
])
def test_bad_action_bodies_are_refused(staff, published, action, payload, field):
    before = state()
    response = staff.post(f"{ITEMS}{published.item.implementation_code}/{action}/", payload, format="json")
    data = assert_refused(response)
    assert field in data["fields"]
    assert_bilingual(data["fields"][field])
    assert state() == before


def test_submitting_a_draft_without_materials_is_refused(staff, body):
    created = staff.post(ITEMS, body(materials=[]), format="json")
    assert created.status_code == 201
    before = state()
    data = assert_refused(staff.post(f"{ITEMS}{created.json()['implementation_code']}/submit/"))
    assert "materials" in data["fields"]
    assert state() == before


def test_diff_needs_two_version_numbers(staff, published):
    url = f"{ITEMS}{published.item.implementation_code}/diff/"
    data = assert_refused(staff.get(url))
    assert {"a", "b"} <= set(data["fields"])
    assert_refused(staff.get(url, {"a": "1", "b": "-3"}))


# ----------------------------------------------------------------------------- the public list
@pytest.mark.parametrize("params, field", [
    ({"type": "99"}, "type"),
    ({"region": "3901"}, "region"),
    ({"region": "990100000000"}, "region"),
    ({"organization": "11390100T0000001X0"}, "organization"),
    ({"organization": "short"}, "organization"),
    ({"theme": "no-such-theme"}, "theme"),
    ({"object": "robot"}, "object"),
    ({"depth": "9"}, "depth"),
    ({"depth": "deep"}, "depth"),
    ({"page": "abc"}, "page"),
    ({"page": "0"}, "page"),
    ({"page": "99"}, "page"),
    ({"page_size": "1000"}, "page_size"),
    ({"page_size": "0"}, "page_size"),
    ({"facets": "sometimes"}, "facets"),
    ({"q": "查" * 101}, "q"),
])
def test_invalid_list_filters_are_400_not_ignored(published, params, field):
    data = assert_refused(APIClient().get(ITEMS, params))
    assert list(data["fields"]) == [field]
    assert_bilingual(data["fields"][field])


def test_unknown_methods_are_405_in_the_same_format(staff, published):
    data = assert_refused(staff.delete(f"{ITEMS}{published.item.implementation_code}/"), 405)
    assert data["code"] == "method_not_allowed"
