"""我的账号 pages as a citizen uses them, and the portal's 在线办理 action by assurance level."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.utils import timezone

from tests import factories
from tests.identity.helpers_levels import citizen, enterprise_of, legal_record
from yiwang.core.models import AuditEntry
from yiwang.identity import services_enterprise
from yiwang.identity.models import AgentAuthorization, AssuranceLevel, Enterprise, LoginEvent, Role

pytestmark = pytest.mark.django_db

ACCOUNT_PAGES = ["/account/", "/account/level/", "/account/enterprises/", "/account/logins/",
                 "/account/applications/"]


@pytest.fixture
def person():
    return citizen("xiaoming", "王小明", mobile="13812345678")


def signed_in(client, person):
    client.force_login(person.user)
    return client


def test_account_pages_need_a_signed_in_citizen(client, org_a):
    for url in ACCOUNT_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    client.force_login(factories.staff("reviewer_a", org_a, Role.REVIEWER))
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"] == "/office/"


def test_the_overview_shows_the_holders_name_and_masked_id_and_mobile(client, person):
    page = signed_in(client, person).get("/account/").content.decode()

    assert "王小明" in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page
    assert "138****5678" in page
    assert "L1 已注册" in page and "提升实名等级" in page


def test_no_account_page_ever_shows_a_full_id_number_or_mobile(client, person):
    person = citizen("boss", "赵大勇", level=2)
    agent = citizen("agent", "钱小芳", level=2)
    firm = enterprise_of(person)
    services_enterprise.authorise_agent(person, firm, agent.mobile,
                                        valid_until=timezone.localdate() + dt.timedelta(days=5))
    LoginEvent.objects.create(user=person.user, identifier="138****5678", method="password", success=True,
                              ip="203.0.113.45")
    signed_in(client, person)

    for url in [*ACCOUNT_PAGES, f"/account/enterprises/{firm.uscc}/"]:
        page = client.get(url).content.decode()
        for secret in (person.id_number, person.mobile, agent.id_number, agent.mobile, "203.0.113.45"):
            assert secret not in page, (url, secret)
        assert not re.search(r"\b[1-9]\d{16}[\dX]\b", page), url


# ----------------------------------------------------------------------------- level
def test_a_citizen_raises_their_level_to_l2_on_the_level_page(client, person):
    signed_in(client, person)

    response = client.post("/account/level/", {"name": "王小明", "id_number": person.id_number})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L2
    page = client.get(response["Location"]).content.decode()
    assert "L2 已实名核验" in page and "如何提升到 L3" in page


def test_a_mismatch_on_the_level_page_says_so_and_changes_nothing(client, person):
    signed_in(client, person)

    response = client.post("/account/level/", {"name": "王晓明", "id_number": person.id_number})

    assert response.status_code == 400
    page = response.content.decode()
    assert "与人口基础库信息不一致" in page and 'class="error-summary"' in page
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1


def test_an_empty_level_form_names_each_missing_field(client, person):
    response = signed_in(client, person).post("/account/level/", {"name": "", "id_number": ""})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'href="#id_name"' in page and 'href="#id_id_number"' in page


# ----------------------------------------------------------------------------- enterprises and agents
def test_a_legal_representative_registers_an_enterprise_and_authorises_an_agent_on_the_pages(client):
    boss = citizen("boss", "赵大勇", level=2)
    agent = citizen("agent", "钱小芳", level=2)
    record = legal_record(boss, name="临江市青禾餐饮有限公司")
    signed_in(client, boss)

    response = client.post("/account/enterprises/", {"uscc": record.uscc})
    assert response.status_code == 302 and response["Location"] == f"/account/enterprises/{record.uscc}/"

    today = timezone.localdate()
    response = client.post(response["Location"], {
        "agent": agent.mobile, "scope": "all", "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=90)).isoformat()})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "钱**" in page and "有效" in page and "全部事项" in page

    grant = AgentAuthorization.objects.get()
    response = client.post(f"/account/enterprises/{record.uscc}/agents/{grant.pk}/revoke/")
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert "已撤销" in client.get(f"/account/enterprises/{record.uscc}/").content.decode()


def test_registering_with_a_bad_credit_code_shows_the_reason_beside_the_field(client):
    boss = citizen("boss", "赵大勇", level=2)
    signed_in(client, boss)

    response = client.post("/account/enterprises/", {"uscc": "91390102MA0000000X"})

    assert response.status_code == 400
    assert "统一社会信用代码" in response.content.decode()
    assert not Enterprise.objects.exists()


def test_an_l1_citizen_is_told_to_raise_their_level_before_registering(client, person):
    page = signed_in(client, person).get("/account/enterprises/").content.decode()
    assert "注册企业需要 L2 实名核验" in page


def test_an_authorisation_with_a_period_too_long_is_a_400(client):
    boss = citizen("boss", "赵大勇", level=2)
    agent = citizen("agent", "钱小芳", level=2)
    firm = enterprise_of(boss)
    today = timezone.localdate()

    response = signed_in(client, boss).post(f"/account/enterprises/{firm.uscc}/", {
        "agent": agent.mobile, "scope": "all", "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=4 * 365)).isoformat()})

    assert response.status_code == 400
    assert "最长3年" in response.content.decode()
    assert not AgentAuthorization.objects.exists()


def test_another_persons_enterprise_page_is_404(client, person):
    boss = citizen("boss", "赵大勇", level=2)
    firm = enterprise_of(boss)

    assert signed_in(client, person).get(f"/account/enterprises/{firm.uscc}/").status_code == 404


def test_an_agent_sees_the_enterprise_and_can_switch_to_it_from_the_overview(client):
    boss = citizen("boss", "赵大勇", level=2)
    agent = citizen("agent", "钱小芳", level=2)
    firm = enterprise_of(boss, "临江市青禾餐饮有限公司")
    services_enterprise.authorise_agent(boss, firm, agent.mobile,
                                        valid_until=timezone.localdate() + dt.timedelta(days=5))
    signed_in(client, agent)

    assert "临江市青禾餐饮有限公司" in client.get("/account/enterprises/").content.decode()
    overview = client.get("/account/").content.decode()
    assert f'value="{firm.uscc}"' in overview

    response = client.post("/account/acting/", {"uscc": firm.uscc, "next": "https://evil.example/"})
    assert response["Location"] == "/account/"
    assert "以 临江市青禾餐饮有限公司 身份办理" in client.get("/account/").content.decode()


# ----------------------------------------------------------------------------- history and applications
def test_login_history_lists_the_holders_own_attempts_with_masked_addresses(client, person):
    other = citizen("other", "李四")
    LoginEvent.objects.create(user=person.user, identifier="x", method="password", success=True, ip="203.0.113.45")
    LoginEvent.objects.create(user=person.user, identifier="x", method="sms", success=False, reason="验证码错误",
                              ip="198.51.100.7")
    LoginEvent.objects.create(user=other.user, identifier="y", method="password", success=True, ip="192.0.2.99")

    page = signed_in(client, person).get("/account/logins/").content.decode()

    assert "203.0.*.*" in page and "198.51.*.*" in page and "192.0.*.*" not in page
    assert "短信验证码" in page and "验证码错误" in page and "失败" in page


def _tokens_for(user, app, n: int = 1):
    access = apps.get_model("oauth2_provider", "AccessToken")
    refresh = apps.get_model("oauth2_provider", "RefreshToken")
    for i in range(n):
        token = access.objects.create(user=user, application=app, token=f"at-{user.pk}-{app.pk}-{i}",
                                      expires=timezone.now() + dt.timedelta(hours=1), scope="openid profile")
        refresh.objects.create(user=user, application=app, token=f"rt-{user.pk}-{app.pk}-{i}", access_token=token)


@pytest.fixture
def oauth_app():
    if not apps.is_installed("oauth2_provider"):
        pytest.skip("the OpenID Connect provider is not installed")
    application = apps.get_model("oauth2_provider", "Application")
    return application.objects.create(name="临江市公积金中心", client_type="confidential",
                                      authorization_grant_type="authorization-code",
                                      redirect_uris="https://gjj.example/callback")


def test_authorised_applications_are_listed_and_revoking_deletes_only_the_holders_tokens(client, person, oauth_app):
    other = citizen("other", "李四")
    _tokens_for(person.user, oauth_app, 2)
    _tokens_for(other.user, oauth_app)
    access = apps.get_model("oauth2_provider", "AccessToken")
    refresh = apps.get_model("oauth2_provider", "RefreshToken")
    signed_in(client, person)

    page = client.get("/account/applications/").content.decode()
    assert "临江市公积金中心" in page and "撤销授权" in page

    response = client.post(f"/account/applications/{oauth_app.pk}/revoke/")

    assert response.status_code == 302
    assert not access.objects.filter(user=person.user).exists()
    assert not refresh.objects.filter(user=person.user).exists()
    assert access.objects.filter(user=other.user).count() == 1
    assert AuditEntry.objects.filter(action="identity.oauth.revoke").exists()
    assert "暂无" in client.get("/account/applications/").content.decode()


def test_revoking_an_application_without_tokens_is_404(client, person, oauth_app):
    assert signed_in(client, person).post(f"/account/applications/{oauth_app.pk}/revoke/").status_code == 404
    assert client.post("/account/applications/999999/revoke/").status_code == 404


def test_applications_page_says_none_when_nothing_is_authorised(client, person):
    assert "暂无" in signed_in(client, person).get("/account/applications/").content.decode()


# ----------------------------------------------------------------------------- the portal guide
@pytest.fixture
def l2_item(org_a, admin_a, admin_a2):
    return factories.published_item(org_a, admin_a, admin_a2, name="开办企业登记", min_assurance_level=2)


def test_the_guide_asks_an_l1_citizen_to_raise_their_level(client, person, l2_item):
    page = signed_in(client, person).get(f"/items/{l2_item.item.implementation_code}/").content.decode()

    assert "需要实名等级" in page and "L2 已实名核验" in page
    assert 'href="/account/level/"' in page


def test_the_guide_lets_a_citizen_with_enough_level_apply(client, l2_item):
    verified = citizen("verified", "周八", level=2)
    page = signed_in(client, verified).get(f"/items/{l2_item.item.implementation_code}/").content.decode()

    assert "需要实名等级" not in page and "在线办理" in page


def test_the_guide_sends_anonymous_visitors_to_login(client, l2_item):
    page = client.get(f"/items/{l2_item.item.implementation_code}/").content.decode()

    assert "/accounts/login/?next=" in page and "需要实名等级" not in page


def test_an_item_needing_l3_sends_an_l2_citizen_to_a_service_window(client, org_a, admin_a, admin_a2):
    item = factories.published_item(org_a, admin_a, admin_a2, name="住房公积金提取", min_assurance_level=3)
    verified = citizen("verified", "周八", level=2)

    page = signed_in(client, verified).get(f"/items/{item.item.implementation_code}/").content.decode()

    assert "L3 已现场核验" in page and "综合窗口" in page
