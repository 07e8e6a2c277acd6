"""Password reset by SMS code: the phone proves the person; other sessions end; nobody learns who is registered."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests.identity.helpers_signin import (
    PASSWORD,
    last_code,
    new_mobile,
    outbox,
    register,
    send_code,
)
from yiwang.core.models import AuditEntry
from yiwang.identity.models import AccountSecurity, OneTimeCode, Person

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "Harbour2026light"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def citizen(client):
    mobile = new_mobile()
    assert register(client, mobile=mobile, username="lixiaolan").status_code == 302
    client.post("/accounts/logout/")
    cache.clear()
    return {"person": Person.objects.get(), "mobile": mobile}


def _reset(client, code, password=NEW_PASSWORD, password2=None, **extra):
    return client.post("/accounts/password/reset/", {"code": code, "password": password,
                                                     "password2": password2 or password, **extra})


def _neutral(html: str, mobile: str) -> str:
    """The page without what differs by design: the masked number and the CSRF token."""
    html = html.replace(f"{mobile[:3]}****{mobile[-4:]}", "NUMBER")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def _can_sign_in(password):
    return Client().post("/accounts/login/", {"username": "lixiaolan", "password": password}).status_code == 302


def test_the_reset_page_asks_for_the_number_first(client, db):
    html = client.get("/accounts/password/reset/").content.decode()
    assert "第 1 步，共 2 步" in html and 'name="purpose" value="reset"' in html


def test_a_citizen_resets_the_password_with_an_sms_code(client, citizen):
    assert send_code(client, citizen["mobile"], "reset")["Location"] == "/accounts/password/reset/"
    step_two = client.get("/accounts/password/reset/").content.decode()
    assert "新密码" in step_two and "密码至少10位" in step_two
    response = _reset(client, last_code(citizen["mobile"]))
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "密码已重设" in client.get("/accounts/login/").content.decode()
    assert not _can_sign_in(PASSWORD) and _can_sign_in(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="identity.password.reset")
    assert citizen["mobile"] not in str(entry.detail) and entry.detail["method"] == "sms"


def test_every_other_session_of_the_account_ends(client, citizen):
    laptop = Client()
    assert laptop.post("/accounts/login/", {"username": "lixiaolan", "password": PASSWORD}).status_code == 302
    assert laptop.get("/").wsgi_request.user.is_authenticated
    send_code(client, citizen["mobile"], "reset")
    assert _reset(client, last_code(citizen["mobile"])).status_code == 302
    assert not laptop.get("/").wsgi_request.user.is_authenticated


def test_a_reset_lifts_a_lock(client, citizen):
    AccountSecurity.objects.update(locked_until=timezone.now() + timezone.timedelta(minutes=10), failed_logins=3)
    send_code(client, citizen["mobile"], "reset")
    _reset(client, last_code(citizen["mobile"]))
    security = AccountSecurity.objects.get(user=citizen["person"].user)
    assert security.locked_until is None and security.failed_logins == 0
    assert _can_sign_in(NEW_PASSWORD)


def test_an_unknown_number_gets_the_same_answer_and_nothing_is_sent(client, citizen):
    client, other = Client(), Client()
    unknown = new_mobile()
    known_response = send_code(client, citizen["mobile"], "reset")
    unknown_response = send_code(other, unknown, "reset")
    assert known_response.status_code == unknown_response.status_code == 302
    assert known_response["Location"] == unknown_response["Location"]
    known_page = _neutral(client.get("/accounts/password/reset/").content.decode(), citizen["mobile"])
    unknown_page = _neutral(other.get("/accounts/password/reset/").content.decode(), unknown)
    assert known_page == unknown_page and "已注册，验证码已发送" in known_page
    assert outbox(unknown) == []
    response = _reset(other, "123456")
    assert response.status_code == 400 and "验证码不正确" in response.content.decode()
    assert not AuditEntry.objects.filter(action="identity.password.reset").exists()


def test_a_weak_new_password_is_refused_and_the_code_stays_usable(client, citizen):
    send_code(client, citizen["mobile"], "reset")
    code = last_code(citizen["mobile"])
    response = _reset(client, code, password="short1")
    assert response.status_code == 400 and "密码至少10位" in response.content.decode()
    assert OneTimeCode.objects.get(purpose="reset").used_at is None
    assert _reset(client, code).status_code == 302


def test_a_new_password_resembling_the_mobile_number_is_refused(client, citizen):
    send_code(client, citizen["mobile"], "reset")
    password = "Ab" + citizen["mobile"]
    response = _reset(client, last_code(citizen["mobile"]), password=password)
    assert response.status_code == 400 and "相同或相近" in response.content.decode()


def test_two_different_new_passwords_are_refused(client, citizen):
    send_code(client, citizen["mobile"], "reset")
    response = _reset(client, last_code(citizen["mobile"]), password2=NEW_PASSWORD + "x")
    assert response.status_code == 400 and "两次输入的密码不一致" in response.content.decode()
    assert _can_sign_in(PASSWORD)


def test_a_wrong_code_changes_nothing(client, citizen):
    send_code(client, citizen["mobile"], "reset")
    wrong = f"{(int(last_code(citizen['mobile'])) + 1) % 1000000:06d}"
    response = _reset(client, wrong)
    assert response.status_code == 400 and "验证码不正确" in response.content.decode()
    assert 'href="#id_code"' in response.content.decode()
    assert _can_sign_in(PASSWORD)


def test_a_sign_in_code_does_not_reset_a_password(client, citizen):
    send_code(client, citizen["mobile"], "login")
    response = client.post("/accounts/password/reset/", {"mobile": citizen["mobile"],
                                                         "code": last_code(citizen["mobile"]),
                                                         "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400 and _can_sign_in(PASSWORD)
