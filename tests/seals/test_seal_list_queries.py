"""The register and the authorisations page: a constant number of queries, and no broken image."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.identity.helpers_totp import sign_in_staff
from tests.seals.conftest import make_active_seal
from yiwang.identity.models import Role
from yiwang.seals import services

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    client.get(url)  # the first request of a session does its own bookkeeping
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_register_queries_do_not_grow_with_the_number_of_seals(client, org_admin_a, org_a):
    make_active_seal(org_admin_a, org_a)
    sign_in_staff(client, org_admin_a)
    one = _queries(client, "/office/seals/")
    for seal_type in ("official", "contract", "finance"):
        make_active_seal(org_admin_a, org_a, seal_type)
    assert _queries(client, "/office/seals/") == one


def test_authorisations_queries_do_not_grow_with_the_number_of_grants(client, org_admin_a, org_a):
    services.authorize_role(org_admin_a, org_a, "official", Role.CLERK)
    sign_in_staff(client, org_admin_a)
    one = _queries(client, "/office/seals/authorizations/")
    for seal_type in ("approval", "contract", "finance"):
        services.authorize_role(org_admin_a, org_a, seal_type, Role.REVIEWER)
    assert _queries(client, "/office/seals/authorizations/") == one


def test_a_seal_revoked_before_production_shows_no_image(client, org_admin_a, org_a):
    seal = services.apply_for_seal(org_admin_a, org_a, "contract", reason="签订合同")
    services.revoke_seal(org_admin_a, seal, reason="申请有误")
    page = sign_in_staff(client, org_admin_a).get("/office/seals/").content.decode()
    assert f"/office/seals/{seal.pk}/image.png" not in page and "未制作" in page
    assert client.get(f"/office/seals/{seal.pk}/image.png").status_code == 404


def test_a_refused_step_redisplays_the_seal_page_with_a_4xx_and_the_reason_marked(client, org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a)
    sign_in_staff(client, org_admin_a)
    response = client.post(f"/office/seals/{seal.pk}/suspend/", {"reason": "  "})
    assert response.status_code == 400
    text = response.content.decode()
    assert "error-summary" in text and 'href="#reason-suspend"' in text
    assert 'aria-describedby="reason-suspend-error"' in text and "请填写理由 / a reason is required" in text
    response = client.post(f"/office/seals/{seal.pk}/produce/")
    assert response.status_code == 409 and "不能制作" in response.content.decode()
    seal.refresh_from_db()
    assert seal.state == seal.State.ACTIVE


def test_a_seal_provisioned_by_the_platform_names_the_platform_as_applicant(client, org_admin_a, org_a):
    seal = services.seal_for_documents(org_a)
    page = sign_in_staff(client, org_admin_a).get(f"/office/seals/{seal.pk}/").content.decode()
    assert "<dd>平台（自动）</dd>" in page
