"""Sign-in: one field for username, ID number or mobile number; SMS codes; locks, limits and records."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests import factories
from tests.identity.helpers_signin import (
    PASSWORD,
    last_code,
    new_id_number,
    new_mobile,
    outbox,
    register,
    send_code,
)
from yiwang.core.models import AuditEntry
from yiwang.identity.models import AccountSecurity, LoginEvent, Person

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def citizen(client):
    """A registered citizen (through the pages), signed out again."""
    id_number, mobile = new_id_number(ends_with_x=True), new_mobile()
    assert register(client, id_number=id_number, mobile=mobile, username="lixiaolan").status_code == 302
    client.post("/accounts/logout/")
    cache.clear()
    return {"person": Person.objects.get(), "id_number": id_number, "mobile": mobile, "username": "lixiaolan"}


def _login(client, identifier, password=PASSWORD, *, meta=None, **extra):
    return client.post("/accounts/login/", {"username": identifier, "password": password, **extra}, **(meta or {}))


def _signed_in_as(client):
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


# ----------------------------------------------------------------------------- the page


def test_the_login_page_offers_password_and_sms_and_explains_the_field(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">账号</label>' in html and "用户名、身份证号码或手机号码" in html
    assert '<label for="id_password">密码</label>' in html
    assert 'href="/accounts/login/sms/"' in html and "短信验证码登录" in html
    assert 'href="/accounts/register/"' in html and 'href="/accounts/password/reset/"' in html


def test_an_empty_form_names_each_missing_field(client, db):
    response = _login(client, "", "")
    html = response.content.decode()
    assert response.status_code == 400
    assert "请输入账号" in html and "请输入密码" in html and 'aria-invalid="true"' in html
    assert 'href="#id_username"' in html and 'href="#id_password"' in html


# ----------------------------------------------------------------------------- three ways to name the account


@pytest.mark.parametrize("how", ["username", "id_number", "id_number_lower", "mobile", "mobile_with_country_code"])
def test_a_citizen_signs_in_with_username_id_number_or_mobile(client, citizen, how):
    identifier = {"username": citizen["username"], "id_number": citizen["id_number"],
                  "id_number_lower": citizen["id_number"].lower(), "mobile": citizen["mobile"],
                  "mobile_with_country_code": "+86 " + citizen["mobile"]}[how]
    response = _login(client, identifier)
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert _signed_in_as(client) == citizen["person"].user


def test_a_successful_sign_in_is_recorded_with_a_masked_identifier(client, citizen):
    _login(client, citizen["id_number"].lower(), meta={"HTTP_USER_AGENT": "TestBrowser/1.0",
                                                      "REMOTE_ADDR": "10.1.2.3"})
    event = LoginEvent.objects.filter(method="password").get()
    assert event.success and event.user == citizen["person"].user
    assert event.identifier == citizen["id_number"][:6] + "********" + citizen["id_number"][-4:]
    assert event.ip == "10.1.2.3" and event.user_agent == "TestBrowser/1.0"
    entry = AuditEntry.objects.filter(action="identity.login.success").get()
    assert citizen["id_number"] not in str(entry.detail) and entry.actor == "user:lixiaolan"


def test_next_is_honoured_and_off_site_next_is_not(client, citizen):
    assert _login(client, citizen["username"], next="/items/x/")["Location"] == "/items/x/"
    client.post("/accounts/logout/")
    assert _login(client, citizen["username"], next="https://evil.example/")["Location"] == "/account/"


# ----------------------------------------------------------------------------- failures and the lock


def test_a_wrong_password_is_refused_in_chinese_and_recorded(client, citizen):
    response = _login(client, citizen["mobile"], "Wrong2025pass")
    assert response.status_code == 400
    assert "账号或密码不正确" in response.content.decode() and 'class="error-summary"' in response.content.decode()
    assert _signed_in_as(client) is None
    event = LoginEvent.objects.filter(method="password").get()
    assert not event.success and event.reason == "密码错误" and citizen["mobile"] not in event.identifier
    assert AuditEntry.objects.filter(action="identity.login.failure").count() == 1
    assert AccountSecurity.objects.get(user=citizen["person"].user).failed_logins == 1


def test_an_unknown_account_gets_the_same_answer_as_a_wrong_password(client, citizen):
    unknown = _login(client, "nobody_here", "Wrong2025pass").content.decode()
    wrong = _login(client, citizen["username"], "Wrong2025pass").content.decode()
    assert "账号或密码不正确" in unknown and "账号或密码不正确" in wrong
    assert LoginEvent.objects.filter(user=None, reason="账号不存在").count() == 1


def test_an_unknown_id_number_is_masked_in_the_records(client, db):
    id_number = new_id_number()
    _login(client, id_number, "Wrong2025pass")
    assert id_number not in LoginEvent.objects.get().identifier
    assert id_number not in str(AuditEntry.objects.get(action="identity.login.failure").detail)


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, citizen):
    for _ in range(4):
        assert _login(client, citizen["username"], "Wrong2025pass").status_code == 400
    fifth = _login(client, citizen["username"], "Wrong2025pass")
    assert fifth.status_code == 403 and "账号已锁定至" in fifth.content.decode()
    security = AccountSecurity.objects.get(user=citizen["person"].user)
    remaining = security.locked_until - timezone.now()
    assert dt.timedelta(minutes=14) < remaining <= dt.timedelta(minutes=15)
    assert timezone.localtime(security.locked_until).strftime("%H:%M") in fifth.content.decode()
    assert AuditEntry.objects.filter(action="identity.login.locked").count() == 1

    right = _login(client, citizen["id_number"])  # the right password, another name for the same account
    assert right.status_code == 403 and "账号已锁定至" in right.content.decode()
    assert _signed_in_as(client) is None
    assert LoginEvent.objects.filter(reason="账号锁定中").count() == 1


def test_after_the_lock_ends_the_right_password_works_and_resets_the_count(client, citizen):
    for _ in range(5):
        _login(client, citizen["username"], "Wrong2025pass")
    AccountSecurity.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert _login(client, citizen["username"]).status_code == 302
    security = AccountSecurity.objects.get(user=citizen["person"].user)
    assert security.failed_logins == 0 and security.locked_until is None


def test_a_success_resets_the_count_of_failures(client, citizen):
    for _ in range(4):
        _login(client, citizen["username"], "Wrong2025pass")
    assert _login(client, citizen["username"]).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        assert _login(client, citizen["username"], "Wrong2025pass").status_code == 400
    assert AccountSecurity.objects.get(user=citizen["person"].user).locked_until is None


def test_a_disabled_account_is_told_so_only_with_the_right_password(client, citizen):
    User.objects.filter(pk=citizen["person"].user.pk).update(is_active=False)
    assert "账号或密码不正确" in _login(client, citizen["username"], "Wrong2025pass").content.decode()
    assert "该账号已停用" in _login(client, citizen["username"]).content.decode()
    assert _signed_in_as(client) is None


# ----------------------------------------------------------------------------- staff: second factor


def test_staff_password_leads_to_the_second_factor_without_signing_in(client, org_a):
    staff = factories.staff("catalog_x", org_a)
    response = _login(client, "catalog_x", "yiwang-demo", next="/office/items/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/totp/?next=%2Foffice%2Fitems%2F"
    assert _signed_in_as(client) is None
    assert client.session["pending_2fa_user"] == staff.pk
    assert AuditEntry.objects.filter(action="identity.login.first_factor").count() == 1
    assert not AuditEntry.objects.filter(action="identity.login.success").exists()


def test_a_staff_member_signing_in_over_a_citizen_session_leaves_nobody_signed_in(client, citizen, org_a):
    factories.staff("catalog_x", org_a)
    _login(client, citizen["username"])
    _login(client, "catalog_x", "yiwang-demo")
    assert _signed_in_as(client) is None and "pending_2fa_user" in client.session


# ----------------------------------------------------------------------------- SMS code sign-in


def test_a_citizen_signs_in_with_an_sms_code(client, citizen):
    html = client.get("/accounts/login/sms/").content.decode()
    assert 'name="purpose" value="login"' in html and "获取验证码" in html
    sent = send_code(client, citizen["mobile"], "login")
    assert sent.status_code == 302 and sent["Location"] == "/accounts/login/sms/"
    step_two = client.get("/accounts/login/sms/").content.decode()
    assert '<label for="id_code">短信验证码</label>' in step_two and 'autocomplete="one-time-code"' in step_two
    response = client.post("/accounts/login/sms/", {"code": last_code(citizen["mobile"])})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert _signed_in_as(client) == citizen["person"].user
    assert LoginEvent.objects.filter(method="sms", success=True).count() == 1


def test_next_survives_the_sms_code_steps(client, citizen):
    sent = send_code(client, citizen["mobile"], "login", next="/items/x/")
    assert sent["Location"] == "/accounts/login/sms/?next=%2Fitems%2Fx%2F"
    response = client.post("/accounts/login/sms/?next=%2Fitems%2Fx%2F", {"code": last_code(citizen["mobile"])})
    assert response["Location"] == "/items/x/"


def test_a_wrong_sms_code_is_refused_and_recorded(client, citizen):
    send_code(client, citizen["mobile"], "login")
    wrong = f"{(int(last_code(citizen['mobile'])) + 1) % 1000000:06d}"
    response = client.post("/accounts/login/sms/", {"code": wrong})
    assert response.status_code == 400 and "验证码不正确" in response.content.decode()
    assert _signed_in_as(client) is None
    assert LoginEvent.objects.filter(method="sms", success=False).count() == 1


def test_a_used_sms_code_cannot_sign_in_twice(client, citizen):
    send_code(client, citizen["mobile"], "login")
    code = last_code(citizen["mobile"])
    client.post("/accounts/login/sms/", {"mobile": citizen["mobile"], "code": code})
    other = Client()
    response = other.post("/accounts/login/sms/", {"mobile": citizen["mobile"], "code": code})
    assert response.status_code == 400 and "已使用" in response.content.decode()


def test_an_unregistered_number_receives_nothing_and_cannot_sign_in(client, db):
    mobile = new_mobile()
    assert send_code(client, mobile, "login").status_code == 302
    assert outbox(mobile) == []
    response = client.post("/accounts/login/sms/", {"code": "123456"})
    assert response.status_code == 400 and _signed_in_as(client) is None


def test_an_sms_code_works_while_the_password_is_locked_and_lifts_the_lock(client, citizen):
    for _ in range(5):
        _login(client, citizen["username"], "Wrong2025pass")
    send_code(client, citizen["mobile"], "login")
    assert client.post("/accounts/login/sms/", {"code": last_code(citizen["mobile"])}).status_code == 302
    assert AccountSecurity.objects.get(user=citizen["person"].user).locked_until is None


# ----------------------------------------------------------------------------- rate limits (429)


def test_repeated_attempts_on_one_account_are_refused_with_429(client, org_a, settings):
    settings.YIWANG_LOGIN_RATE_ACCOUNT = "3/5m"
    factories.staff("catalog_x", org_a)
    for _ in range(3):
        assert _login(client, "catalog_x", "bad").status_code == 400
    response = _login(client, "catalog_x", "yiwang-demo")
    assert response.status_code == 429 and "尝试次数过多" in response.content.decode()
    assert response["Retry-After"] == "300"
    assert "_auth_user_id" not in client.session and "pending_2fa_user" not in client.session
    assert AuditEntry.objects.filter(action="identity.login.limited").count() == 1


def test_the_account_limit_counts_every_spelling_of_the_id_number(client, citizen, settings):
    settings.YIWANG_LOGIN_RATE_ACCOUNT = "2/5m"
    _login(client, citizen["id_number"], "bad")
    _login(client, citizen["id_number"].lower(), "bad")
    assert _login(client, " " + citizen["id_number"]).status_code == 429


def test_one_address_trying_many_accounts_is_limited(client, db, settings):
    settings.YIWANG_LOGIN_RATE_IP = "5/h"  # a window of an hour: the run cannot straddle two windows
    codes = [_login(client, f"u{i}", "x").status_code for i in range(7)]
    assert codes[:5] == [400] * 5 and codes[5:] == [429, 429]


def test_sms_sign_in_is_limited_per_number(client, citizen, settings):
    settings.YIWANG_LOGIN_RATE_ACCOUNT = "2/5m"
    for _ in range(2):
        client.post("/accounts/login/sms/", {"mobile": citizen["mobile"], "code": "000000"})
    response = client.post("/accounts/login/sms/", {"mobile": citizen["mobile"], "code": "000000"})
    assert response.status_code == 429 and "尝试次数过多" in response.content.decode()


# ----------------------------------------------------------------------------- sessions


def test_the_session_ends_after_thirty_minutes_without_activity(client, citizen, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and settings.YIWANG_SESSION_TOUCH_SECONDS == 60
    _login(client, citizen["username"])
    key = client.session.session_key
    session = client.session
    session["_touched"] = int(time.time()) - 61  # the last save was over a minute ago
    session.save()
    before = Session.objects.get(session_key=key).expire_date
    response = client.get("/")
    assert response.wsgi_request.user.is_authenticated
    assert response.cookies["sessionid"]["max-age"] == 30 * 60  # activity restarts the clock
    assert Session.objects.get(session_key=key).expire_date > before
    again = client.get("/")  # within the minute: the session is not written again
    assert again.wsgi_request.user.is_authenticated and "sessionid" not in again.cookies
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_signing_out_needs_post(client, citizen):
    _login(client, citizen["username"])
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert _signed_in_as(client) is None


def test_the_signed_in_account_comes_with_its_person_in_one_query(client, django_assert_num_queries):
    from tests.identity.helpers_levels import citizen
    from yiwang.identity.backends import IdentifierBackend

    person = citizen("onequery", "赵一", level=2)
    with django_assert_num_queries(1):
        user = IdentifierBackend().get_user(person.user_id)
        assert user.person.name == "赵一" and user.person.id_number == person.id_number
    staff = factories.staff("clerk_q", factories.organization("临江市民政局", factories.region("390100000000", "临江市"),
                                                              "0107"), "clerk")
    with django_assert_num_queries(1):
        found = IdentifierBackend().get_user(staff.pk)
        assert not hasattr(found, "person")  # no person for staff, and no second query to find that out
    User.objects.filter(pk=person.user_id).update(is_active=False)
    assert IdentifierBackend().get_user(person.user_id) is None
    assert IdentifierBackend().get_user(10**9) is None
