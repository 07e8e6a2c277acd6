"""The public verification page and API, their rate limit, and the office pages of the catalog and
of certificates (scoped to the issuing organisation; a stale action is a 409 page)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.certificates.conftest import FOOD_FIELDS
from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates import services
from yiwang.certificates.models import CertificateType, Status

pytestmark = pytest.mark.django_db
API = "/api/v1/certificates/verify/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def test_scanning_the_qr_opens_the_page_with_the_result(client, certificate):
    page = client.get(services.verify_url(certificate.qr_payload).split("8000", 1)[1])
    text = page.content.decode()
    assert page.status_code == 200 and "核验结果：有效" in text and "李**" in text and "二级" in text
    assert "李春燕" not in text and certificate.holder_code not in text
    assert '<meta charset="utf-8">' in text and 'for="p"' in text and 'for="id"' in text


def test_the_page_takes_a_pasted_payload_or_an_identifier(client, certificate, approver):
    services.suspend(approver, certificate, reason="暂扣待查")
    by_payload = client.post("/certificates/verify/", {"p": certificate.qr_payload}).content.decode()
    assert "核验结果：已暂扣" in by_payload and "暂扣待查" in by_payload
    by_id = client.get("/certificates/verify/", {"id": certificate.identifier}).content.decode()
    assert "核验结果：已暂扣" in by_id


def test_the_page_names_a_forgery_and_an_empty_form(client, certificate):
    prefix, body, sig = certificate.qr_payload.split(".")
    forged = client.post("/certificates/verify/", {"p": f"{prefix}.{body}.{sig[:-4]}AAAA"}).content.decode()
    assert "验证失败" in forged
    empty = client.post("/certificates/verify/", {"p": "", "id": ""})
    assert empty.status_code == 400 and "请粘贴二维码内容或输入证照标识" in empty.content.decode()


def test_the_api_answers_with_result_reason_and_masked_fields(client, certificate, approver):
    ok = client.post(API, {"payload": certificate.qr_payload}, content_type="application/json").json()
    assert ok["result"] == "valid" and ok["holder"] == "李**" and ok["signature_checked"] is True
    assert {"label": "残疾等级", "value": "二级"} in ok["key_fields"] and ok["status"] == "01"
    services.revoke(approver, certificate, reason="以欺骗手段取得", kind="withdraw")
    revoked = client.post(API, {"identifier": certificate.identifier}, content_type="application/json").json()
    assert revoked["result"] == "revoked" and revoked["status"] == "07" and "以欺骗手段取得" in revoked["reason"]


@pytest.mark.parametrize("body, result", [
    ({"payload": "YWC1.e30.AAAA"}, "malformed"),
    ({"payload": "garbage"}, "malformed"),
    ({"identifier": "1.2.3"}, "malformed"),
])
def test_the_api_refuses_bad_input_with_a_reason(client, body, result):
    answer = client.post(API, body, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["result"] == result and answer.json()["reason"]


def test_the_api_needs_something_to_verify(client):
    answer = client.post(API, {}, content_type="application/json")
    assert answer.status_code == 400 and "payload" in answer.json()["fields"]


@override_settings(YIWANG_CERT_VERIFY_RATE="3/m")
def test_verification_is_rate_limited_per_address(client, certificate):
    for _ in range(3):
        assert client.post(API, {"identifier": certificate.identifier}, content_type="application/json").status_code == 200
    assert client.post(API, {"identifier": certificate.identifier}, content_type="application/json").status_code == 429
    assert client.get("/certificates/verify/", {"id": certificate.identifier}).status_code == 429


def test_the_office_lists_opens_and_acts_on_certificates(client, certificate, approver):
    sign_in_staff(client, approver)
    listing = client.get("/office/certificates/", {"q": certificate.holder_code}).content.decode()
    assert certificate.number in listing and "中华人民共和国残疾人证" in listing
    page = client.get(f"/office/certificates/{certificate.pk}/").content.decode()
    assert certificate.identifier in page and "暂扣" in page and "变更照面信息" in page
    pdf = client.get(f"/office/certificates/{certificate.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and b"".join(pdf.streaming_content).startswith(b"%PDF")
    done = client.post(f"/office/certificates/{certificate.pk}/act/", {
        "action": "suspend", "reason": "涉嫌违规，暂扣待查", "lock_version": certificate.lock_version})
    assert done.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == Status.SUSPENDED


def test_a_stale_office_action_is_a_409_page(client, certificate, approver, approver2):
    seen = certificate.lock_version
    services.suspend(approver2, certificate, reason="暂扣", lock_version=seen)
    sign_in_staff(client, approver)
    stale = client.post(f"/office/certificates/{certificate.pk}/act/", {
        "action": "revoke", "reason": "撤销", "lock_version": seen})
    assert stale.status_code == 409 and "刷新" in stale.content.decode()


def test_a_change_from_the_office_makes_version_two(client, certificate, approver):
    sign_in_staff(client, approver)
    done = client.post(f"/office/certificates/{certificate.pk}/act/", {
        "action": "change", "reason": "重新评定", "lock_version": certificate.lock_version,
        "d-kind": "肢体残疾", "d-grade": "三级", "d-address": "临江市滨江区江滨路1号", "d-assessed_on": ""})
    assert done.status_code == 302
    new = certificate.next_versions.get()
    assert done["Location"] == f"/office/certificates/{new.pk}/" and new.data["grade"] == "三级"


def test_an_action_without_a_reason_comes_back_with_the_error(client, certificate, approver):
    sign_in_staff(client, approver)
    response = client.post(f"/office/certificates/{certificate.pk}/act/", {
        "action": "suspend", "reason": "", "lock_version": certificate.lock_version})
    assert response.status_code == 400 and "请填写此项" in response.content.decode()


def test_staff_of_another_organisation_do_not_see_the_certificate(client, certificate, people):
    sign_in_staff(client, people["approver_b"])
    assert client.get(f"/office/certificates/{certificate.pk}/").status_code == 404
    assert certificate.number not in client.get("/office/certificates/").content.decode()


def test_catalog_admin_creates_a_type_on_the_page(client, cert_admin, org_a, item):
    sign_in_staff(client, cert_admin)
    assert client.get("/office/certificates/types/new/").status_code == 200
    fields = services.fields_text(FOOD_FIELDS)
    response = client.post("/office/certificates/types/new/", {
        "name": "食品经营许可证", "type_code": f"{org_a.uscc}001", "defining_organization": org_a.uscc,
        "issuing_organization": org_a.uscc, "holder_kind": "enterprise", "template": "permit",
        "validity_years": 5, "fields_text": fields, "mapping_text": "operator=enterprise.name\nscope==预包装食品销售",
        "item_codes": item.implementation_code, "materials_text": "食品经营许可证", "is_active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    ctype = CertificateType.objects.get()
    assert ctype.fields == services.parse_fields_text(fields) and list(ctype.service_items.all()) == [item]
    assert ctype.form_mapping == {"operator": "enterprise.name", "scope": "=预包装食品销售"}
    listing = client.get("/office/certificates/types/").content.decode()
    assert "食品经营许可证" in listing


def test_a_type_form_with_bad_lines_shows_each_problem(client, cert_admin, org_a):
    sign_in_staff(client, cert_admin)
    response = client.post("/office/certificates/types/new/", {
        "name": "结婚证", "type_code": f"{org_a.uscc}002", "defining_organization": org_a.uscc,
        "issuing_organization": org_a.uscc, "holder_kind": "person", "template": "card", "validity_years": 0,
        "fields_text": "Bad|\nholder|持证人|blob", "item_codes": "NOSUCHCODE"})
    text = response.content.decode()
    assert response.status_code == 400 and "找不到事项编码" in text
    assert not CertificateType.objects.exists()


def test_reviewers_cannot_open_the_type_form(client, people):
    sign_in_staff(client, people["reviewer"])
    assert client.get("/office/certificates/types/new/").status_code == 403


def test_the_office_offers_only_the_actions_the_state_allows(client, certificate, approver):
    sign_in_staff(client, approver)
    valid = client.get(f"/office/certificates/{certificate.pk}/").content.decode()
    assert 'value="suspend"' in valid and 'value="resume"' not in valid
    services.revoke(approver, certificate, reason="撤销")
    ended = client.get(f"/office/certificates/{certificate.pk}/").content.decode()
    assert 'name="action"' not in ended and "撤销" in ended
