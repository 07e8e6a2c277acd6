"""A citizen applies online; the window accepts; the department reviews and decides; the citizen
sees 已办结 and downloads the decision. And a bundle completes across two departments."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests import factories
from tests.identity.helpers_levels import citizen as make_citizen
from tests.identity.helpers_totp import give_authenticator
from yiwang.cases.models import Case
from yiwang.core.models import Organization
from yiwang.identity import totp
from yiwang.identity.models import Role

pytestmark = pytest.mark.e2e
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(transactional_db, city, org_a, org_b, admin_a, admin_a2, admin_b):
    centre = factories.organization("临江市政务服务中心", city["city"], "0002")
    centre.kind = Organization.Kind.CENTRE
    centre.save()
    staff = {
        "clerk": factories.staff("e2e_clerk", centre, Role.CLERK),
        "reviewer": factories.staff("e2e_reviewer", org_a, Role.REVIEWER, Role.APPROVER),
        "approver": factories.staff("e2e_approver", org_a, Role.APPROVER),
        "handler_b": factories.staff("e2e_handler_b", org_b, Role.REVIEWER, Role.APPROVER),
    }
    for user in staff.values():
        give_authenticator(user, SECRET)
    factories.theme()
    food = factories.published_item(org_a, admin_a, admin_a2, mats=factories.materials("食品经营许可申请书"))
    admin_b2 = factories.staff("catalog_b2", org_b, Role.CATALOG_ADMIN)
    sign = factories.published_item(org_b, admin_b, admin_b2, name="户外招牌设置备案", aliases="",
                                    result_name="备案回执", mats=factories.materials("食品经营许可申请书", "招牌效果图"))
    from yiwang.cases import services_bundles
    from yiwang.catalog.models import ServiceItem

    bundle = services_bundles.define_bundle(None, code="kai-canguan", name="我要开餐馆", description="开餐馆一次办",
                                            items=list(ServiceItem.objects.filter(pk__in=[food.item_id, sign.item_id])))
    person = make_citizen("e2e_citizen", "周晓梅", level=2)
    return {"staff": staff, "item": ServiceItem.objects.get(pk=food.item_id), "bundle": bundle, "citizen": person}


def _sign_in_citizen(browser, base):
    ctx = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/accounts/login/")
    page.locator("input[name=username]").fill("e2e_citizen")
    page.locator("input[name=password]").fill("yiwang-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    return page


def _sign_in_staff(browser, base, username):
    ctx = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("yiwang-demo")
    page.get_by_role("button", name="登录").click()
    page.locator("input[name=code]").fill(totp.current_code(SECRET))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url("**/office/**")
    return page


def _act(page, base, number, outcome_label, opinion=""):
    page.goto(f"{base}/office/cases/{number}/")
    form = page.locator("form.act-form").first
    form.get_by_label(outcome_label, exact=True).check()
    if opinion:
        form.locator("textarea[name=opinion]").fill(opinion)
    form.get_by_role("button", name="提交办理结果").click()
    page.wait_for_url(f"**/office/cases/{number}/**")


def test_citizen_applies_and_downloads_the_decision_after_completion(live_server, browser, world, tmp_path):
    base = live_server.url
    citizen = _sign_in_citizen(browser, base)
    item = world["item"]
    citizen.goto(f"{base}/items/{item.implementation_code}/")
    citizen.get_by_role("link", name="在线办理").first.click()
    citizen.wait_for_url("**/apply/")
    citizen.get_by_label("联系地址").fill("临江市滨江区江滨路8号")
    citizen.get_by_label("申请事项说明").fill("在滨江路开一家小面馆")
    upload = tmp_path / "申请书.pdf"
    upload.write_bytes(PDF)
    citizen.locator("input[type=file]").first.set_input_files(str(upload))
    citizen.get_by_role("button", name="下一步：核对信息").click()
    citizen.wait_for_url("**/apply/check/")
    assert "申请书.pdf" in citizen.content() and "在滨江路开一家小面馆" in citizen.content()
    citizen.get_by_role("button", name="提交申请").click()
    citizen.wait_for_url("**/submitted/")
    number = Case.objects.get().number
    assert number in citizen.content()

    clerk = _sign_in_staff(browser, base, "e2e_clerk")
    clerk.goto(base + "/office/cases/")
    assert number in clerk.content()
    _act(clerk, base, number, "受理", "材料齐全")
    reviewer = _sign_in_staff(browser, base, "e2e_reviewer")
    _act(reviewer, base, number, "审查通过", "符合条件")
    approver = _sign_in_staff(browser, base, "e2e_approver")
    _act(approver, base, number, "准予", "同意")
    _act(reviewer, base, number, "制证完成")
    _act(clerk, base, number, "已送达")

    citizen.goto(f"{base}/my/cases/{number}/")
    assert "已办结" in citizen.content()
    with citizen.expect_download() as info:
        citizen.get_by_role("link", name="准予行政许可决定书").first.click()
    data = open(info.value.path(), "rb").read()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "准予" in text and item.published_version.name in text


def test_a_bundle_completes_across_two_departments(live_server, browser, world, tmp_path):
    base = live_server.url
    citizen = _sign_in_citizen(browser, base)
    citizen.goto(f"{base}/bundles/kai-canguan/")
    citizen.get_by_label("联系地址").fill("临江市滨江区江滨路8号")
    citizen.get_by_label("申请事项说明").fill("开餐馆，同时办招牌")
    for i, field in enumerate(citizen.locator("input[type=file]").all()):
        f = tmp_path / f"m{i}.pdf"
        f.write_bytes(PDF)
        field.set_input_files(str(f))
    citizen.get_by_role("button", name="提交“我要开餐馆”申请").click()
    citizen.wait_for_url("**/my/bundles/**")
    cases = list(Case.objects.order_by("pk"))
    assert len(cases) == 2 and len({c.organization_id for c in cases}) == 2

    clerk = _sign_in_staff(browser, base, "e2e_clerk")
    a = _sign_in_staff(browser, base, "e2e_reviewer")
    b = _sign_in_staff(browser, base, "e2e_handler_b")
    for case, handler in ((cases[0], a), (cases[1], b)):
        _act(clerk, base, case.number, "受理")
        _act(handler, base, case.number, "审查通过")
        _act(handler, base, case.number, "准予")
        _act(handler, base, case.number, "制证完成")
        _act(clerk, base, case.number, "已送达")
    citizen.reload()
    assert "全部办结" in citizen.content() and "2 / 2" in citizen.content()
