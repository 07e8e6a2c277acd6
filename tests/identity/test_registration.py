"""Citizens register once: a confirmed mobile number, a valid ID number, a password under the policy."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection

from tests.identity.helpers_signin import (
    PASSWORD,
    last_code,
    new_id_number,
    new_mobile,
    register,
    send_code,
)
from yiwang.core.fields import blind_match
from yiwang.core.models import AuditEntry
from yiwang.identity.models import AccountSecurity, AssuranceLevel, LoginEvent, OneTimeCode, Person

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _nothing_created():
    return Person.objects.count() == 0 and User.objects.count() == 0 and AccountSecurity.objects.count() == 0


def _form(client, mobile, **fields):
    """Step one done (a code texted to ``mobile``); returns the data of a correct step two."""
    assert send_code(client, mobile, "register").status_code == 302
    data = {"name": "李晓兰", "id_number": new_id_number(), "code": last_code(mobile), "username": "",
            "password": PASSWORD, "password2": PASSWORD}
    data.update(fields)
    return data


# ----------------------------------------------------------------------------- the journey


def test_the_register_page_starts_with_the_mobile_number_and_works_without_javascript(client):
    html = client.get("/accounts/register/").content.decode()
    assert "第 1 步，共 2 步" in html
    assert '<form method="post" action="/accounts/code/"' in html
    assert 'name="purpose" value="register"' in html and "获取验证码" in html
    assert '<label for="id_mobile">手机号码</label>' in html


def test_a_citizen_registers_end_to_end_and_is_signed_in(client):
    mobile, id_number = new_mobile(), new_id_number()
    sent = send_code(client, mobile, "register")
    assert sent.status_code == 302 and sent["Location"] == "/accounts/register/"

    step_two = client.get("/accounts/register/").content.decode()
    assert "第 2 步，共 2 步" in step_two
    assert f"{mobile[:3]}****{mobile[-4:]}" in step_two and mobile not in step_two
    assert "密码至少10位，须同时包含字母和数字" in step_two  # the policy is stated

    response = client.post("/accounts/register/", {
        "name": "李晓兰", "id_number": id_number, "code": last_code(mobile), "username": "",
        "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/account/"

    person = Person.objects.get()
    assert person.name == "李晓兰" and person.id_number == id_number and person.mobile == mobile
    assert person.assurance_level == AssuranceLevel.L1
    assert re.fullmatch(r"u[a-z0-9]{10}", person.user.username)
    assert person.user.check_password(PASSWORD)
    assert AccountSecurity.objects.filter(user=person.user, failed_logins=0).exists()
    assert int(client.session["_auth_user_id"]) == person.user.pk
    assert LoginEvent.objects.filter(user=person.user, success=True, method="register").exists()

    entry = AuditEntry.objects.get(action="identity.person.register")
    assert entry.detail["id_number"] == id_number[:6] + "********" + id_number[-4:]
    assert entry.detail["mobile"] == f"{mobile[:3]}****{mobile[-4:]}" and entry.detail["name"] == "李**"
    assert id_number not in str(entry.detail) and mobile not in str(entry.detail)


def test_personal_data_is_encrypted_in_the_database(client):
    id_number, mobile = new_id_number(), new_mobile()
    assert register(client, id_number=id_number, mobile=mobile).status_code == 302
    with connection.cursor() as cur:
        cur.execute(f"SELECT id_number, mobile FROM {Person._meta.db_table}")
        stored_id, stored_mobile = cur.fetchone()
    assert id_number not in stored_id and mobile not in stored_mobile


def test_a_chosen_username_is_kept_and_next_is_honoured(client):
    response = register(client, username="lixiaolan", next="/items/000000000001/")
    assert response.status_code == 302 and response["Location"] == "/items/000000000001/"
    assert Person.objects.get().user.username == "lixiaolan"


def test_an_off_site_next_is_ignored(client):
    response = register(client, next="https://evil.example/")
    assert response["Location"] == "/account/"


def test_an_id_number_typed_with_lower_case_x_is_stored_upper_case(client):
    id_number = new_id_number(ends_with_x=True)
    assert register(client, id_number=id_number.lower()).status_code == 302
    assert Person.objects.get().id_number == id_number
    assert Person.objects.filter(blind_match(Person, "id_number", id_number)).exists()


def test_the_number_can_be_changed_before_the_code_is_used(client):
    first, second = new_mobile(), new_mobile()
    send_code(client, first, "register")
    assert client.get("/accounts/register/?change=1")["Location"] == "/accounts/register/"
    assert "第 1 步" in client.get("/accounts/register/").content.decode()
    send_code(client, second, "register")
    data = {"name": "李晓兰", "id_number": new_id_number(), "code": last_code(second), "password": PASSWORD,
            "password2": PASSWORD}
    assert client.post("/accounts/register/", data).status_code == 302
    assert Person.objects.get().mobile == second


def test_resend_from_step_two_uses_the_number_in_the_session(client):
    mobile = new_mobile()
    send_code(client, mobile, "register")
    OneTimeCode.objects.update(created_at=OneTimeCode.objects.get().created_at.replace(year=2000))
    response = client.post("/accounts/code/", {"purpose": "register"})  # the "重新获取验证码" button
    assert response.status_code == 302
    assert OneTimeCode.objects.count() == 2


# ----------------------------------------------------------------------------- one account per person


def test_a_second_account_for_the_same_id_number_is_refused(client):
    id_number = new_id_number()
    assert register(client, id_number=id_number).status_code == 302
    client.post("/accounts/logout/")
    response = register(client, id_number=id_number.lower() if id_number.endswith("X") else id_number)
    assert response.status_code == 400
    html = response.content.decode()
    assert "该身份证号码已注册" in html and 'href="#id_id_number"' in html
    assert Person.objects.count() == 1 and User.objects.count() == 1


def test_a_second_account_for_the_same_mobile_number_is_refused_and_the_code_is_not_used(client):
    mobile = new_mobile()
    assert register(client, mobile=mobile).status_code == 302
    client.post("/accounts/logout/")
    OneTimeCode.objects.update(created_at=OneTimeCode.objects.get().created_at.replace(year=2000))
    data = _form(client, mobile)
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and "该手机号码已注册" in response.content.decode()
    assert Person.objects.count() == 1
    assert OneTimeCode.objects.filter(used_at__isnull=True).count() == 1  # not burnt by the refusal


def test_a_taken_username_is_refused_whatever_the_case(client):
    assert register(client, username="lixiaolan").status_code == 302
    client.post("/accounts/logout/")
    response = register(client, username="LiXiaoLan")
    assert response.status_code == 400 and "该用户名已被使用" in response.content.decode()
    assert Person.objects.count() == 1


# ----------------------------------------------------------------------------- bad input


def test_an_id_number_with_a_wrong_check_digit_is_refused_and_nothing_is_created(client):
    good = new_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    data = _form(client, new_mobile(), id_number=bad)
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "身份证号码校验位错误" in html
    assert re.search(r'name="id_number"[^>]*aria-invalid="true"', html)
    assert _nothing_created()
    assert OneTimeCode.objects.get().used_at is None


def test_a_wrong_code_is_refused_and_nothing_is_created(client):
    data = _form(client, new_mobile())
    data["code"] = f"{(int(data['code']) + 1) % 1000000:06d}"
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and "验证码不正确" in response.content.decode()
    assert _nothing_created()


def test_an_expired_code_is_refused_and_nothing_is_created(client):
    import datetime as dt

    from django.utils import timezone

    data = _form(client, new_mobile())
    OneTimeCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and "验证码已过期" in response.content.decode()
    assert _nothing_created()


def test_registering_without_asking_for_a_code_is_refused(client):
    response = client.post("/accounts/register/", {"name": "李晓兰", "id_number": new_id_number(),
                                                   "mobile": new_mobile(), "code": "123456",
                                                   "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 400 and "请先获取验证码" in response.content.decode()
    assert _nothing_created()


@pytest.mark.parametrize(("password", "message"), [
    ("Ab3", "密码至少10位"),
    ("onlyletters", "密码须同时包含字母和数字"),
    ("1234567890", "密码须同时包含字母和数字"),
    ("password123", "这个密码太常见"),
])
def test_a_weak_password_is_refused_with_the_rule_it_breaks(client, password, message):
    data = _form(client, new_mobile(), password=password, password2=password)
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'href="#id_password"' in html
    assert _nothing_created()


def test_a_password_made_of_the_id_number_or_mobile_number_is_refused(client):
    mobile, id_number = new_mobile(), new_id_number()
    for password in (f"ab{id_number[6:14]}", f"x{mobile}", f"Li{id_number[-6:]}xy"):
        OneTimeCode.objects.all().delete()
        data = _form(client, mobile, id_number=id_number, password=password, password2=password)
        response = client.post("/accounts/register/", data)
        assert response.status_code == 400, password
        assert "不能与身份证号码、手机号码或用户名相同或相近" in response.content.decode()
    assert _nothing_created()


def test_a_password_resembling_the_username_is_refused(client):
    data = _form(client, new_mobile(), username="riverside", password="riverside1", password2="riverside1")
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and "相同或相近" in response.content.decode()


def test_two_different_passwords_are_refused(client):
    data = _form(client, new_mobile(), password2=PASSWORD + "x")
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400 and "两次输入的密码不一致" in response.content.decode()
    assert _nothing_created()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "请输入姓名"),
    ("name", "李2兰", "请按身份证填写姓名"),
    ("id_number", "", "请输入身份证号码"),
    ("id_number", "39010219800101", "身份证号码应为18位"),
    ("username", "12345", "以字母开头"),
    ("code", "", "请输入短信验证码"),
])
def test_each_bad_field_is_named_beside_the_field_and_in_the_summary(client, field, value, message):
    data = _form(client, new_mobile(), **{field: value})
    response = client.post("/accounts/register/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error-summary"' in html and f'href="#id_{field}"' in html
    assert html.count(message) >= 2  # in the summary and beside the field
    assert f'id="{field}-error"' in html
    assert _nothing_created()


def test_all_field_problems_are_reported_at_once(client):
    data = _form(client, new_mobile(), name="", id_number="123", password="short", password2="short")
    html = client.post("/accounts/register/", data).content.decode()
    for anchor in ("#id_name", "#id_id_number", "#id_password"):
        assert f'href="{anchor}"' in html


def test_registration_is_limited_per_address(client, settings):
    settings.YIWANG_REGISTER_RATE_IP = "2/h"
    statuses = [client.post("/accounts/register/", {"name": "李晓兰"}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert _nothing_created()


def test_a_signed_in_citizen_can_sign_out(client):
    register(client)
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session
