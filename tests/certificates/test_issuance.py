"""Issuance: the result-production step of an approved case issues the certificate from the case's
data — record, identifier, sealed PDF, signed QR payload, audit entry, case and certificate events."""

from __future__ import annotations

import hashlib

import pytest

from tests.cases.conftest import act, submit
from tests.certificates.conftest import DISABILITY_FIELDS
from yiwang.certificates import identifiers, payload, services
from yiwang.certificates.models import Certificate, CertificateEvent, Status
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.core.fields import blind_match
from yiwang.core.models import AuditEntry
from yiwang.seals import pdfsign

pytestmark = pytest.mark.django_db


def legal_form(user, company) -> dict:
    return {"enterprise_name": company.name, "uscc": company.uscc, "legal_representative": user.person.name,
            "contact_name": user.person.name, "mobile": user.person.mobile, "address": "临江市滨江区江滨路1号",
            "description": "申请食品经营许可"}


def run_to_production(applicant, item, people, **kw):
    if kw.get("enterprise") is not None:
        kw.setdefault("form_data", legal_form(applicant, kw["enterprise"]))
    case = act(people["clerk"], submit(applicant, item, **kw), "pre_review", "accept")
    case = act(people["reviewer"], case, "review", "pass")
    case = act(people["approver"], case, "decide", "approve", opinion="同意")
    return act(people["reviewer"], case, "produce", "produced")


def test_producing_an_approved_enterprise_case_issues_its_certificate(food_type, applicant, company, item, people,
                                                                      org_a):
    case = run_to_production(applicant, item, people, enterprise=company)

    cert = Certificate.objects.get(case=case)
    assert cert.certificate_type == food_type and cert.status == Status.VALID and cert.version == 1
    assert cert.enterprise == company and cert.holder_name == company.name
    assert cert.holder_code == company.uscc and cert.holder_code_type == "001"
    assert cert.data["operator"] == company.name
    assert cert.data["legal_rep"] == "王小明"
    assert cert.data["address"] == "临江市滨江区江滨路1号"  # from the form
    assert cert.data["scope"] == "预包装食品销售（含冷藏冷冻食品）"  # the mapping's fixed fallback
    assert cert.data["case_number"] == case.number
    parsed = identifiers.parse(cert.identifier)
    assert parsed.type_code == food_type.type_code and parsed.issuer_code == org_a.uscc and parsed.version == 1
    assert cert.valid_to.year == cert.valid_from.year + 5
    assert case.events.filter(action="certificate", detail__identifier=cert.identifier).exists()
    assert CertificateEvent.objects.filter(certificate=cert, kind="issued").exists()
    assert AuditEntry.objects.filter(action="certificates.issue", object_id=str(cert.pk),
                                     detail__identifier=cert.identifier).exists()


def test_the_pdf_is_sealed_by_the_issuing_organisation_and_its_digest_kept(certificate, org_a):
    data = certificate.pdf.read()
    assert hashlib.sha256(data).hexdigest() == certificate.pdf_sha256
    (report,) = pdfsign.verify_pdf(data)
    assert report.valid and report.intact and report.organization == org_a.name


def test_the_qr_payload_carries_masked_holder_and_key_fields(certificate):
    claims = payload.decode(certificate.qr_payload).claims
    assert claims["i"] == certificate.identifier and claims["t"] == certificate.certificate_type.type_code
    assert claims["h"] == "李**"
    assert claims["f"] == {"kind": "肢体残疾", "grade": "二级"}  # key fields only; the address is not one
    assert claims["vt"] == certificate.valid_to.isoformat() and claims["k"] == certificate.kid
    assert "390102" not in certificate.qr_payload  # no ID number in any form


def test_a_person_certificate_is_found_by_the_holders_id_number(certificate, holder):
    assert Certificate.objects.filter(blind_match(Certificate, "holder_code", holder.id_number.lower())).get() \
        == certificate
    assert certificate.person == holder


def test_serials_follow_each_other_within_a_type_and_year(disability_type, holder, approver):
    data = {"kind": "视力残疾", "grade": "一级"}
    first = services.issue(disability_type, holder=holder, user=approver, data=data)
    second = services.issue(disability_type, holder=holder, user=approver, data=data)
    assert int(second.serial) == int(first.serial) + 1 and first.identifier != second.identifier


def test_a_case_whose_item_produces_no_certificate_gets_none(applicant, item, people):
    case = run_to_production(applicant, item, people)
    assert not Certificate.objects.filter(case=case).exists()
    assert services.issue_for_case(case, None) is None


def test_a_refused_case_gets_no_certificate(food_type, applicant, company, item, people):
    case = act(people["clerk"], submit(applicant, item, enterprise=company, form_data=legal_form(applicant, company)),
               "pre_review", "accept")
    case = act(people["reviewer"], case, "review", "pass")
    case = act(people["approver"], case, "decide", "refuse", opinion="经营场所不符合要求，依据《食品安全法》第三十五条")
    assert services.issue_for_case(case, None) is None and not Certificate.objects.exists()


def test_producing_twice_does_not_issue_twice(food_type, applicant, company, item, people):
    case = run_to_production(applicant, item, people, enterprise=company)
    again = services.issue_for_case(case, None)
    assert Certificate.objects.filter(case=case).count() == 1 and again.case == case


def test_an_enterprise_certificate_for_a_person_applicant_stops_production_with_a_reason(food_type, applicant, item,
                                                                                        people):
    case = act(people["clerk"], submit(applicant, item), "pre_review", "accept")
    case = act(people["reviewer"], case, "review", "pass")
    case = act(people["approver"], case, "decide", "approve")
    with pytest.raises(ValidationFailed, match="颁发给法人"):
        act(people["reviewer"], case, "produce", "produced")
    case.refresh_from_db()
    assert case.status == "producing" and not Certificate.objects.exists()


def test_data_that_does_not_fit_the_schema_is_refused_per_field(disability_type, holder, approver):
    with pytest.raises(ValidationFailed) as exc:
        services.issue(disability_type, holder=holder, user=approver,
                       data={"grade": "二级", "assessed_on": "2026-13-45", "colour": "red"})
    assert set(exc.value.fields) >= {"kind", "assessed_on", "data"}
    assert "残疾类别" in exc.value.fields["kind"][0]
    assert not Certificate.objects.exists()


def test_a_holder_of_the_wrong_kind_or_a_bad_code_is_refused(disability_type, food_type, company, holder, approver):
    with pytest.raises(ValidationFailed, match="自然人"):
        services.issue(disability_type, holder=company, user=approver, data={"kind": "肢体残疾", "grade": "二级"})
    with pytest.raises(ValidationFailed) as exc:
        services.issue(disability_type, holder_name="赵六", holder_code="110101199003071235", user=approver,
                       data={"kind": "肢体残疾", "grade": "二级"})
    assert "holder_code" in exc.value.fields


def test_a_holder_without_an_account_is_matched_to_one_when_the_code_is_known(disability_type, holder, approver):
    cert = services.issue(disability_type, holder_name=holder.name, holder_code=holder.id_number, user=approver,
                          data={"kind": "肢体残疾", "grade": "二级"})
    assert cert.person == holder


def test_only_the_issuing_organisations_approvers_issue_directly(disability_type, holder, people):
    with pytest.raises(NotPermitted):
        services.issue(disability_type, holder=holder, user=people["reviewer_b"], data={"kind": "肢体残疾", "grade": "二级"})


def test_an_inactive_type_issues_nothing(disability_type, holder, approver, cert_admin):
    services.save_type(cert_admin, instance=disability_type, is_active=False)
    disability_type.refresh_from_db()
    with pytest.raises(StateError):
        services.issue(disability_type, holder=holder, user=approver, data={"kind": "肢体残疾", "grade": "二级"})


def test_type_codes_must_start_with_the_defining_organisations_credit_code(cert_admin, org_a, org_b):
    with pytest.raises(ValidationFailed) as exc:
        services.save_type(cert_admin, name="结婚证", type_code=f"{org_b.uscc}001", defining_organization=org_a,
                           issuing_organization=org_a, holder_kind="person", fields=DISABILITY_FIELDS)
    assert "type_code" in exc.value.fields


def test_catalog_admins_manage_only_their_organisations_types(admin_b, org_a):
    with pytest.raises(NotPermitted):
        services.save_type(admin_b, name="结婚证", type_code=f"{org_a.uscc}009", defining_organization=org_a,
                           issuing_organization=org_a, holder_kind="person", fields=DISABILITY_FIELDS)


def test_field_definitions_are_checked(cert_admin, org_a):
    with pytest.raises(ValidationFailed) as exc:
        services.save_type(cert_admin, name="结婚证", type_code=f"{org_a.uscc}003", defining_organization=org_a,
                           issuing_organization=org_a, holder_kind="person",
                           fields=[{"name": "Bad Name", "label": ""}, {"name": "x", "label": "X", "type": "blob"}])
    assert len(exc.value.fields["fields"]) == 3


def test_a_type_defined_elsewhere_is_issued_by_the_cases_implementing_organisation(applicant, item, people, org_a,
                                                                                   org_b, admin_b):
    ctype = services.save_type(admin_b, name="中华人民共和国残疾人证", type_code=f"{org_b.uscc}001",
                               defining_organization=org_b, issuing_organization=org_b, holder_kind="person",
                               fields=[{"name": "description", "label": "申请事项"}], basic_items=[item.basic_item])
    case = run_to_production(applicant, item, people)
    cert = Certificate.objects.get(case=case)
    assert cert.certificate_type == ctype and cert.issuing_organization == org_a
    assert identifiers.parse(cert.identifier).issuer_code == org_a.uscc
    assert cert.person == applicant.person and cert.data == {"description": "申请开办小餐馆"}
