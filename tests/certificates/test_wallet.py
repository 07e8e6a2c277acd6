"""我的证照: a person sees their own certificates (and historic ones carrying their ID number), an
enterprise's legal representative or authorised agent sees the enterprise's; anyone else gets 404."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.identity.helpers_levels import citizen
from yiwang.certificates import services, wallet
from yiwang.identity import services_enterprise

pytestmark = pytest.mark.django_db


def food_data(company) -> dict:
    return {"operator": company.name, "legal_rep": "王小明", "address": "临江市滨江区江滨路1号",
            "scope": "预包装食品销售"}


def acting_for(client, user, enterprise):
    client.force_login(user)
    session = client.session
    session["acting_for"] = enterprise.uscc
    session.save()
    return client


def test_holder_sees_their_certificate_with_qr_and_pdf(client, certificate, holder):
    client.force_login(holder.user)
    page = client.get("/my/certificates/").content.decode()
    assert "中华人民共和国残疾人证" in page and certificate.number in page and "有效" in page
    detail = client.get(f"/my/certificates/{certificate.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200 and "<svg" in text and "肢体残疾" in text and certificate.identifier in text
    assert "谁在何时因何查看了我的证照" in text
    pdf = client.get(f"/my/certificates/{certificate.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")


def test_another_person_gets_404_for_page_and_file(client, certificate, other_applicant):
    client.force_login(other_applicant)
    assert certificate.number not in client.get("/my/certificates/").content.decode()
    assert client.get(f"/my/certificates/{certificate.pk}/").status_code == 404
    assert client.get(f"/my/certificates/{certificate.pk}/pdf/").status_code == 404
    assert client.get("/my/certificates/999999/pdf/").status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, certificate):
    answer = client.get(f"/my/certificates/{certificate.pk}/pdf/")
    assert answer.status_code == 302 and "login" in answer["Location"]


def test_historic_certificate_reaches_a_person_who_registers_later(disability_type, approver):
    from tests.identity.helpers_levels import new_id_number

    code = new_id_number()
    cert = services.issue(disability_type, holder_name="周海燕", holder_code=code, user=approver,
                          data={"kind": "视力残疾", "grade": "三级"})
    assert cert.person is None
    later = citizen("zhou", "周海燕", id_number=code, level=2)
    assert list(wallet.certificates_of(later.user, None)) == [cert]


def test_versions_history_lists_every_version(client, certificate, holder, approver):
    newer = services.reissue(approver, certificate, reason="原证遗失")
    client.force_login(holder.user)
    listing = client.get("/my/certificates/").content.decode()
    assert listing.count("中华人民共和国残疾人证") == 1  # the current version only
    text = client.get(f"/my/certificates/{newer.pk}/").content.decode()
    assert "第 2 版（本页）" in text and "第 1 版" in text
    old = client.get(f"/my/certificates/{certificate.pk}/").content.decode()
    assert "此版本已被新版本取代" in old


def test_enterprise_certificates_only_when_acting_for_it(client, food_type, company, applicant, approver):
    cert = services.issue(food_type, holder=company, user=approver, data=food_data(company))
    client.force_login(applicant)
    assert cert.number not in client.get("/my/certificates/").content.decode()  # as themselves
    acting_for(client, applicant, company)
    page = client.get("/my/certificates/").content.decode()
    assert cert.number in page and company.name in page
    assert client.get(f"/my/certificates/{cert.pk}/pdf/").status_code == 200


def test_agent_sees_the_enterprise_certificates_within_the_authorisation(client, food_type, company, applicant,
                                                                          approver, item, disability_type):
    cert = services.issue(food_type, holder=company, user=approver, data=food_data(company))
    agent = citizen("agent1", "陈立", level=2)
    services_enterprise.authorise_agent(applicant.person, company, agent.mobile, all_items=True,
                                        valid_until=dt.date.today() + dt.timedelta(days=30))
    acting_for(client, agent.user, company)
    assert cert.number in client.get("/my/certificates/").content.decode()


def test_agent_for_other_items_does_not_see_the_certificate(food_type, company, applicant, approver, item):
    cert = services.issue(food_type, holder=company, user=approver, data=food_data(company))
    agent = citizen("agent2", "陈立", level=2)
    grant = services_enterprise.authorise_agent(applicant.person, company, agent.mobile, all_items=False,
                                                item_codes=[item.implementation_code],
                                                valid_until=dt.date.today() + dt.timedelta(days=30))
    # The item produces the food licence: within scope.
    assert list(wallet.certificates_of(agent.user, company)) == [cert]
    food_type.service_items.clear()
    assert list(wallet.certificates_of(agent.user, company)) == []
    services_enterprise.revoke_agent(applicant.person, grant)
    food_type.service_items.add(item)
    assert list(wallet.certificates_of(agent.user, company)) == []


def test_a_stranger_cannot_act_for_the_enterprise(client, food_type, company, other_applicant, approver):
    cert = services.issue(food_type, holder=company, user=approver, data=food_data(company))
    acting_for(client, other_applicant, company)  # the session claims it; the middleware refuses it
    assert client.get(f"/my/certificates/{cert.pk}/").status_code == 404
    assert list(wallet.certificates_of(other_applicant, company)) == []
