"""A holder finds their certificate in 我的证照, grants a department access and sees the grant;
anyone verifies the certificate from its QR payload; once revoked, the same QR shows 撤销."""

from __future__ import annotations

import pytest

from tests.certificates.conftest import DISABILITY_FIELDS
from tests.identity.helpers_levels import citizen as make_citizen
from tests import factories
from yiwang.certificates import services
from yiwang.certificates.models import Certificate
from yiwang.identity.models import Role

pytestmark = pytest.mark.e2e


@pytest.fixture
def issued(transactional_db, org_a):
    admin = factories.staff("e2e_cert_admin", org_a, Role.CATALOG_ADMIN, Role.APPROVER)
    ctype = services.save_type(
        admin, name="中华人民共和国残疾人证", type_code=f"{org_a.uscc}002", defining_organization=org_a,
        issuing_organization=org_a, holder_kind="person", fields=DISABILITY_FIELDS, validity_years=10,
        template="card")
    holder = make_citizen("e2e_holder", "李春燕", level=2)
    cert = services.issue(ctype, holder=holder, user=admin,
                          data={"kind": "肢体残疾", "grade": "二级", "address": "临江市滨江区江滨路1号"})
    return {"cert": cert, "admin": admin, "org": org_a}


def test_holder_grants_access_and_anyone_verifies_until_it_is_revoked(live_server, browser, page, issued):
    base, cert = live_server.url, issued["cert"]
    page.goto(base + "/accounts/login/")
    page.locator("input[name=username]").fill("e2e_holder")
    page.locator("input[name=password]").fill("yiwang-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()

    page.get_by_role("link", name="我的证照").first.click()
    page.get_by_role("link", name="中华人民共和国残疾人证").click()
    assert "有效" in page.locator("main").inner_text()
    assert cert.identifier in page.locator("main").inner_text()

    page.get_by_text("新增授权").click()
    page.locator("#organization").select_option(str(issued["org"].pk))
    page.locator("#purpose").fill("办理残疾人两项补贴，核验残疾人证")
    page.get_by_role("button", name="授权").click()
    page.wait_for_load_state()
    main = page.locator("main").inner_text()
    assert issued["org"].name in main and "办理残疾人两项补贴" in main and "撤销授权" in main

    visitor = browser.new_context(locale="zh-CN").new_page()
    visitor.goto(base + "/certificates/verify/?p=" + cert.qr_payload)
    result = visitor.locator("main").inner_text()
    assert "核验结果：有效" in result and "李春燕" not in result  # the holder's name is masked

    services.revoke(issued["admin"], Certificate.objects.get(pk=cert.pk), reason="证照信息有误，依法撤销")
    visitor.reload()
    result = visitor.locator("main").inner_text()
    assert "核验结果：有效" not in result and "撤销" in result
    visitor.context.close()
