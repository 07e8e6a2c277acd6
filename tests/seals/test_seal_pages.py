"""Office pages under /office/seals/: register, apply, lifecycle buttons, image, authorisations."""

from __future__ import annotations

import pytest

from tests.identity.helpers_totp import sign_in_staff
from tests.seals.conftest import make_active_seal
from yiwang.identity.models import Role
from yiwang.seals import services
from yiwang.seals.models import Seal, SealAuthorization

pytestmark = pytest.mark.django_db


def test_register_lists_only_seals_of_my_organisation(client, org_admin_a, org_admin_b, org_a, org_b):
    mine = make_active_seal(org_admin_a, org_a)
    theirs = make_active_seal(org_admin_b, org_b)
    page = sign_in_staff(client, org_admin_a).get("/office/seals/")
    assert page.status_code == 200
    text = page.content.decode()
    assert mine.name in text and theirs.name not in text and "启用" in text
    assert client.get(f"/office/seals/{theirs.pk}/").status_code == 404
    assert client.get(f"/office/seals/{theirs.pk}/image.png").status_code == 404


def test_admin_applies_and_takes_the_seal_through_the_lifecycle(client, org_admin_a, org_a):
    sign_in_staff(client, org_admin_a)
    form = client.get("/office/seals/apply/")
    assert form.status_code == 200 and "申请印章" in form.content.decode()
    response = client.post("/office/seals/apply/", {"organization": org_a.pk, "seal_type": "approval",
                                                    "reason": "出具许可决定书"})
    seal = Seal.objects.get()
    assert response.status_code == 302 and response.url == f"/office/seals/{seal.pk}/"
    for action in ("review", "produce", "file", "activate"):
        assert client.post(f"/office/seals/{seal.pk}/{action}/").status_code == 302
    seal.refresh_from_db()
    assert seal.state == Seal.State.ACTIVE
    page = client.get(f"/office/seals/{seal.pk}/").content.decode()
    assert "印章履历" in page and "备案" in page and "挂失/停用" in page and "image.png" in page
    image = client.get(f"/office/seals/{seal.pk}/image.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert client.get(f"/office/seals/{seal.pk}/certificate.pem").content.startswith(b"-----BEGIN CERTIFICATE")


def test_missing_reason_and_illegal_step_come_back_as_messages(client, org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a)
    sign_in_staff(client, org_admin_a)
    page = client.post(f"/office/seals/{seal.pk}/suspend/", {"reason": ""}, follow=True).content.decode()
    assert "请填写理由" in page
    page = client.post(f"/office/seals/{seal.pk}/produce/", follow=True).content.decode()
    assert "不能制作" in page
    seal.refresh_from_db()
    assert seal.state == Seal.State.ACTIVE


def test_apply_form_errors_are_listed(client, org_admin_a, org_a):
    sign_in_staff(client, org_admin_a)
    response = client.post("/office/seals/apply/", {"organization": org_a.pk, "seal_type": "", "reason": ""})
    assert response.status_code == 400
    text = response.content.decode()
    assert "error-summary" in text and "印章类型" in text


def test_clerk_without_authorisation_cannot_apply_nor_act(client, clerk_a, org_admin_a, org_a):
    seal = services.apply_for_seal(org_admin_a, org_a, "official", reason="公章")
    sign_in_staff(client, clerk_a)
    assert "尚未获授权" in client.get("/office/seals/apply/").content.decode()
    response = client.post("/office/seals/apply/", {"organization": org_a.pk, "seal_type": "official",
                                                    "reason": "x"})
    assert response.status_code == 400  # the organisation is not a choice for them
    page = client.get(f"/office/seals/{seal.pk}/").content.decode()
    assert "由本机构的机构管理员办理" in page
    client.post(f"/office/seals/{seal.pk}/review/")
    seal.refresh_from_db()
    assert seal.state == Seal.State.APPLIED
    assert client.get("/office/seals/authorizations/").status_code == 403


def test_admin_authorises_a_role_and_then_the_clerk_can_apply(client, clerk_a, org_admin_a, org_a):
    sign_in_staff(client, org_admin_a)
    response = client.post("/office/seals/authorizations/", {"organization": org_a.pk, "seal_type": "business",
                                                             "role": Role.CLERK})
    assert response.status_code == 302
    grant = SealAuthorization.objects.get()
    assert "综合窗口" in client.get("/office/seals/authorizations/").content.decode()
    client.logout()
    sign_in_staff(client, clerk_a)
    response = client.post("/office/seals/apply/", {"organization": org_a.pk, "seal_type": "business",
                                                    "reason": "业务办理"})
    assert response.status_code == 302 and Seal.objects.filter(applied_by="user:clerk_a").exists()
    client.logout()
    sign_in_staff(client, org_admin_a)
    client.post(f"/office/seals/authorizations/{grant.pk}/withdraw/")
    assert not SealAuthorization.objects.exists()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/office/seals/")
    assert response.status_code == 302 and "/accounts/login/" in response.url
