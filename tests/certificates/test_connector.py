"""免提交: on the apply page a valid certificate is offered instead of an upload; only once the applicant
ticks it is it attached to the case; the clerk's case file shows it with its live verification and
opening it is logged for the holder."""

from __future__ import annotations

import pytest

from tests import factories
from tests.cases.conftest import form_for, pdf
from tests.identity.helpers_totp import sign_in_staff
from yiwang.cases.models import Case, CaseMaterial
from yiwang.catalog.models import ServiceItem
from yiwang.certificates import connectors, services
from yiwang.certificates.models import CertificateAccess, CertificateConsent

pytestmark = pytest.mark.django_db
CARD = "残疾人证"


@pytest.fixture
def subsidy_item(org_a, admin_a, admin_a2, disability_type):
    mats = factories.materials("两项补贴申请表") + [{
        "name": CARD, "kind": "1", "media": "3", "originals": 1, "copies": 0, "required": True,
        "source": "certificate", "source_detail": disability_type.name}]
    version = factories.published_item(org_a, admin_a, admin_a2, mats=mats, name="困难残疾人生活补贴申请",
                                       aliases="两项补贴")
    return ServiceItem.objects.select_related("published_version").get(pk=version.item_id)


def materials(item) -> dict[str, int]:
    return {m.name: m.pk for m in item.published_version.materials.all()}


def post_apply(client, item, user, *, tick: bool, upload_card: bool = False, key: str = "k1"):
    ids = materials(item)
    data = {**form_for(user), "delivery": "window", "idempotency_key": key,
            f"material_{ids['两项补贴申请表']}": pdf("申请表.pdf")}
    if upload_card:
        data[f"material_{ids[CARD]}"] = pdf("残疾人证.pdf")
    if tick:
        cert = connectors.candidate(user, None, item.published_version.materials.get(name=CARD))
        data[f"use_certificate_{ids[CARD]}"] = str(cert.pk)
    return client.post(f"/items/{item.implementation_code}/apply/", data)


def test_the_apply_page_offers_the_certificate(client, subsidy_item, certificate, holder):
    client.force_login(holder.user)
    html = client.get(f"/items/{subsidy_item.implementation_code}/apply/").content.decode()
    assert f"使用我的电子证照（中华人民共和国残疾人证 {certificate.number}）代替上传" in html
    assert f'name="use_certificate_{materials(subsidy_item)[CARD]}" value="{certificate.pk}"' in html


def test_without_consent_the_material_must_be_uploaded(client, subsidy_item, certificate, holder):
    client.force_login(holder.user)
    answer = post_apply(client, subsidy_item, holder.user, tick=False)
    assert answer.status_code == 400 and f"请上传“{CARD}”" in answer.content.decode()
    assert not Case.objects.exists() and not CertificateConsent.objects.exists()
    assert connectors.CertificateConnector().find(
        user=holder.user, enterprise=None, material=subsidy_item.published_version.materials.get(name=CARD)) is None


def test_with_consent_the_certificate_is_attached_and_the_clerk_sees_it_verified(
        client, subsidy_item, certificate, holder, people):
    client.force_login(holder.user)
    answer = post_apply(client, subsidy_item, holder.user, tick=True)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    case = Case.objects.get()
    attached = case.materials.get(source=CaseMaterial.Source.CERTIFICATE)
    assert attached.reference == certificate.identifier
    assert attached.original_name == f"中华人民共和国残疾人证 {certificate.number}"
    consent = CertificateConsent.objects.get()
    assert (consent.user, consent.certificate, consent.item_id) == (holder.user, certificate, subsidy_item.pk)

    sign_in_staff(client, people["reviewer"])
    file_page = client.get(f"/office/cases/{case.number}/").content.decode()
    assert "核验：有效" in file_page and f"/office/certificates/case/{case.number}/{attached.pk}/" in file_page
    opened = client.get(f"/office/certificates/case/{case.number}/{attached.pk}/")
    assert opened.status_code == 200 and "二级" in opened.content.decode()
    pdf_answer = client.get(f"/office/certificates/case/{case.number}/{attached.pk}/", {"file": "1"})
    assert pdf_answer.status_code == 200 and pdf_answer["Content-Type"] == "application/pdf"
    logged = CertificateAccess.objects.filter(certificate=certificate, channel="case")
    assert logged.count() == 2 and all(a.case_number == case.number for a in logged)

    client.force_login(holder.user)
    assert case.number in client.get(f"/my/certificates/{certificate.pk}/").content.decode()


def test_staff_of_another_department_cannot_open_it(client, subsidy_item, certificate, holder, people):
    client.force_login(holder.user)
    post_apply(client, subsidy_item, holder.user, tick=True)
    case = Case.objects.get()
    attached = case.materials.get(source=CaseMaterial.Source.CERTIFICATE)
    sign_in_staff(client, people["reviewer_b"])
    assert client.get(f"/office/certificates/case/{case.number}/{attached.pk}/").status_code == 404
    assert not CertificateAccess.objects.exists()


def test_the_clerk_sees_when_the_certificate_was_suspended_since(client, subsidy_item, certificate, holder, people,
                                                                 approver):
    client.force_login(holder.user)
    post_apply(client, subsidy_item, holder.user, tick=True)
    case = Case.objects.get()
    services.suspend(approver, certificate, reason="复核评残结论")
    sign_in_staff(client, people["reviewer"])
    assert "核验：已暂扣" in client.get(f"/office/cases/{case.number}/").content.decode()


def test_no_offer_without_a_valid_certificate(client, subsidy_item, certificate, holder, other_applicant, approver):
    client.force_login(other_applicant)
    html = client.get(f"/items/{subsidy_item.implementation_code}/apply/").content.decode()
    assert "使用我的电子证照" not in html
    services.suspend(approver, certificate, reason="复核")
    client.force_login(holder.user)
    assert "使用我的电子证照" not in client.get(f"/items/{subsidy_item.implementation_code}/apply/").content.decode()


def test_unticking_withdraws_the_consent(client, subsidy_item, certificate, holder):
    client.force_login(holder.user)
    post_apply(client, subsidy_item, holder.user, tick=True, key="a")
    assert CertificateConsent.objects.count() == 1
    Case.objects.all().delete()
    answer = post_apply(client, subsidy_item, holder.user, tick=False, upload_card=True, key="b")
    assert answer.status_code == 302
    assert not CertificateConsent.objects.exists()
    assert Case.objects.get().materials.filter(source=CaseMaterial.Source.UPLOAD).count() == 2


def test_a_material_named_in_stands_for_materials_is_matched(food_type):
    from yiwang.catalog.models import Material

    m = Material(name="食品经营许可证", source="certificate")
    assert connectors.types_for_material(m) == [food_type]
    m.source = "applicant"
    assert connectors.types_for_material(m) == []


def test_the_check_page_names_the_certificate_instead_of_a_missing_upload(client, subsidy_item, certificate, holder):
    client.force_login(holder.user)
    ids = materials(subsidy_item)
    answer = client.post(f"/items/{subsidy_item.implementation_code}/apply/", {
        **form_for(holder.user), "delivery": "window", "step": "check",
        f"material_{ids['两项补贴申请表']}": pdf("申请表.pdf"), f"use_certificate_{ids[CARD]}": str(certificate.pk)})
    assert answer.status_code == 302, answer.content.decode()[:1500]
    page = client.get(answer["Location"]).content.decode()
    assert f"中华人民共和国残疾人证 {certificate.number}（电子证照，免提交）" in page and "未上传" not in page
    assert client.post(answer["Location"], {"idempotency_key": "c1"}).status_code == 302
    assert Case.objects.get().materials.filter(source=CaseMaterial.Source.CERTIFICATE).count() == 1


def test_acting_for_an_enterprise_its_certificate_is_offered(org_a, admin_a, admin_a2, food_type, company, applicant,
                                                            approver, other_applicant):
    mats = [{"name": "食品经营许可证", "kind": "1", "media": "3", "originals": 1, "copies": 0, "required": True,
             "source": "certificate"}]
    version = factories.published_item(org_a, admin_a, admin_a2, mats=mats, name="食品经营许可延续",
                                       aliases="许可延续")
    cert = services.issue(food_type, holder=company, user=approver, data={
        "operator": company.name, "legal_rep": "王小明", "address": "临江市滨江区江滨路1号", "scope": "预包装食品销售"})
    offers = connectors.offers(applicant, company, version)
    (offer,) = offers.values()
    assert offer.certificate == cert and offer.label.startswith("使用本单位的电子证照（食品经营许可证")
    assert connectors.offers(applicant, None, version) == {}  # as themselves: not their certificate
    assert connectors.offers(other_applicant, company, version) == {}  # not allowed to act for it
