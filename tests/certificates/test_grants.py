"""授权用证: the holder grants a department time-limited, scoped access to one certificate and can revoke
it; staff of that department open it giving a reason each time; every access and refused attempt is
logged and shown to the holder."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates import grants
from yiwang.certificates.models import CertificateAccess, CertificateGrant
from yiwang.core.errors import NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db
TODAY = dt.date.today


@pytest.fixture
def civil_clerk(org_b):
    return factories.staff("civil_clerk_b", org_b, Role.REVIEWER)


def share(holder, certificate, org, **kw):
    kw.setdefault("purpose", "办理最低生活保障资格审核")
    return grants.grant(holder.user, None, certificate, grantee_kind="organization", organization=org, **kw)


def test_grant_defaults_to_thirty_days_and_is_audited(certificate, holder, org_b):
    g = share(holder, certificate, org_b)
    assert g.valid_until == TODAY() + dt.timedelta(days=30) and g.scope == "face" and g.state() == "active"
    entry = AuditEntry.objects.filter(action="certificates.grant").get()
    assert entry.object_id == str(g.pk) and entry.detail["grantee"] == org_b.name


@pytest.mark.parametrize("kw, field", [
    ({"purpose": ""}, "purpose"),
    ({"purpose": "事" * 201}, "purpose"),
    ({"valid_until": TODAY() + dt.timedelta(days=400)}, "valid_until"),
    ({"valid_until": TODAY() - dt.timedelta(days=1)}, "valid_until"),
    ({"scope": "everything"}, "scope"),
    ({"valid_until": "2026-13-45"}, "valid_until"),
])
def test_grant_refuses_bad_input_per_field(certificate, holder, org_b, kw, field):
    with pytest.raises(ValidationFailed) as exc:
        share(holder, certificate, org_b, **kw)
    assert field in exc.value.fields and " / " in exc.value.fields[field][0]
    assert not CertificateGrant.objects.exists()


def test_only_the_holder_can_grant(certificate, other_applicant, org_b):
    with pytest.raises(NotFound):
        grants.grant(other_applicant, None, certificate, grantee_kind="organization", organization=org_b,
                     purpose="查看")


def test_a_revoked_certificate_cannot_be_shared(certificate, holder, org_b, approver):
    from yiwang.certificates import services

    services.revoke(approver, certificate, reason="以欺骗手段取得")
    with pytest.raises(StateError):
        share(holder, certificate, org_b)


def test_staff_of_the_grantee_open_it_with_a_reason_and_the_holder_sees_who(client, certificate, holder, org_b,
                                                                            civil_clerk):
    g = share(holder, certificate, org_b)
    sign_in_staff(client, civil_clerk)
    listing = client.get("/office/certificates/shared/").content.decode()
    assert "中华人民共和国残疾人证" in listing and "办理最低生活保障资格审核" in listing
    no_reason = client.post(f"/office/certificates/shared/{g.pk}/", {"reason": "", "what": "face"})
    assert no_reason.status_code == 400 and "请填写用证事由" in no_reason.content.decode()
    opened = client.post(f"/office/certificates/shared/{g.pk}/", {"reason": "核对低保申请人残疾等级", "what": "face"})
    text = opened.content.decode()
    assert opened.status_code == 200 and "二级" in text and "在线核验：有效" in text
    client.force_login(holder.user)
    page = client.get(f"/my/certificates/{certificate.pk}/").content.decode()
    assert "核对低保申请人残疾等级" in page and org_b.name in page and "civil_clerk_b" in page and "已查看" in page


def test_file_is_refused_when_the_grant_covers_the_data_only(client, certificate, holder, org_b, civil_clerk):
    g = share(holder, certificate, org_b)
    with pytest.raises(NotPermitted) as exc:
        grants.open_for_staff(civil_clerk, g.pk, reason="下载存档", what="file")
    assert "仅可查看照面信息" in exc.value.message
    refused = CertificateAccess.objects.get(allowed=False)
    assert refused.what == "file" and refused.certificate == certificate and refused.organization == org_b
    full = share(holder, certificate, org_b, scope="face_file")
    sign_in_staff(client, civil_clerk)
    pdf = client.post(f"/office/certificates/shared/{full.pk}/", {"reason": "存档", "what": "file"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_revoked_grant_is_refused_at_once_and_the_attempt_logged(client, certificate, holder, org_b, civil_clerk):
    g = share(holder, certificate, org_b)
    client.force_login(holder.user)
    assert client.post(f"/my/certificates/{certificate.pk}/grants/{g.pk}/revoke/").status_code == 302
    assert AuditEntry.objects.filter(action="certificates.grant.revoke").count() == 1
    sign_in_staff(client, civil_clerk)
    answer = client.post(f"/office/certificates/shared/{g.pk}/", {"reason": "复核", "what": "face"})
    assert answer.status_code == 403 and "持证人已撤销该授权" in answer.content.decode()
    client.force_login(holder.user)
    page = client.get(f"/my/certificates/{certificate.pk}/").content.decode()
    assert "已拒绝" in page and "已撤销" in page


def test_expired_grant_is_refused(certificate, holder, org_b, civil_clerk, monkeypatch):
    g = share(holder, certificate, org_b, valid_until=TODAY() + dt.timedelta(days=2))
    monkeypatch.setattr(grants, "_today", lambda: TODAY() + dt.timedelta(days=3))
    with pytest.raises(NotPermitted) as exc:
        grants.open_for_staff(civil_clerk, g.pk, reason="复核")
    assert "到期" in exc.value.message
    assert CertificateAccess.objects.filter(allowed=False, grant=g).count() == 1


def test_staff_of_another_department_get_404_and_are_logged(client, certificate, holder, org_b, approver):
    g = share(holder, certificate, org_b)
    sign_in_staff(client, approver)  # department A, not the grantee
    assert "中华人民共和国残疾人证" not in client.get("/office/certificates/shared/").content.decode()
    answer = client.post(f"/office/certificates/shared/{g.pk}/", {"reason": "好奇", "what": "face"})
    assert answer.status_code == 404
    assert CertificateAccess.objects.filter(allowed=False, channel="office").count() == 1


def test_holder_grant_form_shows_errors_beside_fields(client, certificate, holder, org_b):
    client.force_login(holder.user)
    answer = client.post(f"/my/certificates/{certificate.pk}/grants/", {
        "grantee_kind": "organization", "organization": org_b.pk, "purpose": "", "scope": "face"})
    assert answer.status_code == 400 and "请填写用证事由" in answer.content.decode()
    ok = client.post(f"/my/certificates/{certificate.pk}/grants/", {
        "grantee_kind": "organization", "organization": org_b.pk, "purpose": "公租房资格审核", "scope": "face",
        "valid_until": (TODAY() + dt.timedelta(days=10)).isoformat()})
    assert ok.status_code == 302
    assert CertificateGrant.objects.get().valid_until == TODAY() + dt.timedelta(days=10)


def test_a_date_that_is_not_a_date_is_named_as_such(client, certificate, holder, org_b):
    client.force_login(holder.user)
    answer = client.post(f"/my/certificates/{certificate.pk}/grants/", {
        "grantee_kind": "organization", "organization": org_b.pk, "purpose": "公租房资格审核", "scope": "face",
        "valid_until": "abc"})
    html = answer.content.decode()
    assert answer.status_code == 400 and "日期格式应为 YYYY-MM-DD / the date must be YYYY-MM-DD" in html
    assert "不能早于今天" not in html and not CertificateGrant.objects.exists()


def test_another_person_cannot_revoke_the_grant(client, certificate, holder, org_b, other_applicant):
    g = share(holder, certificate, org_b)
    client.force_login(other_applicant)
    assert client.post(f"/my/certificates/{certificate.pk}/grants/{g.pk}/revoke/").status_code == 404
    g.refresh_from_db()
    assert g.revoked_at is None


def test_only_a_grant_in_force_offers_its_link_and_its_revoke_button(client, certificate, holder, org_b, civil_clerk):
    g = share(holder, certificate, org_b)
    client.force_login(holder.user)
    revoke = f"/my/certificates/{certificate.pk}/grants/{g.pk}/revoke/"
    assert revoke in client.get(f"/my/certificates/{certificate.pk}/").content.decode()
    sign_in_staff(client, civil_clerk)
    assert f"/office/certificates/shared/{g.pk}/" in client.get("/office/certificates/shared/").content.decode()
    grants.revoke(holder.user, None, g.pk)
    assert f"/office/certificates/shared/{g.pk}/" not in client.get("/office/certificates/shared/").content.decode()
    client.force_login(holder.user)
    page = client.get(f"/my/certificates/{certificate.pk}/").content.decode()
    assert revoke not in page and "已撤销" in page
