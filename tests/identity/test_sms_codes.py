"""SMS one-time codes: six digits, kept only as a keyed hash, single use, short-lived, rationed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import ClassVar

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from tests.identity.helpers_signin import (
    last_code,
    new_id_number,
    new_mobile,
    outbox,
    register,
    send_code,
)
from yiwang.core.models import AuditEntry
from yiwang.identity import services, sms
from yiwang.identity.models import OneTimeCode, SmsMessage

pytestmark = pytest.mark.django_db
Purpose = OneTimeCode.Purpose


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _age_codes(mobile: str, seconds: int) -> None:
    """Pretend the codes of ``mobile`` were sent ``seconds`` earlier (the resend wait is per number)."""
    rows = OneTimeCode.objects.filter(mobile_index=services.mobile_index(mobile))
    for row in rows:
        OneTimeCode.objects.filter(pk=row.pk).update(created_at=row.created_at - dt.timedelta(seconds=seconds))


# ----------------------------------------------------------------------------- issuing


def test_a_code_is_six_digits_texted_and_stored_only_as_a_hash():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER, "10.0.0.1")
    code = last_code(mobile)
    assert len(code) == 6 and code.isdigit()
    row = OneTimeCode.objects.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert abs((row.expires_at - row.created_at) - dt.timedelta(minutes=5)) < dt.timedelta(seconds=1)
    assert "5分钟内有效" in outbox(mobile)[0].text and "注册" in outbox(mobile)[0].text


def test_the_outbox_keeps_the_number_encrypted_and_the_audit_masks_it():
    mobile = "13912345678"
    services.issue_code(mobile, Purpose.REGISTER)
    with connection.cursor() as cur:
        cur.execute(f"SELECT mobile FROM {SmsMessage._meta.db_table}")
        raw = cur.fetchone()[0]
    assert mobile not in raw
    entry = AuditEntry.objects.get(action="identity.code.issue")
    assert entry.detail["mobile"] == "139****5678" and mobile not in str(entry.detail)


def test_asking_again_within_a_minute_is_refused_with_the_wait():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    with pytest.raises(services.CodeRateLimited) as err:
        services.issue_code(mobile, Purpose.REGISTER)
    assert "秒后再重新获取" in err.value.message and 1 <= err.value.retry_after <= 60
    assert len(outbox(mobile)) == 1


def test_resend_too_soon_through_the_page_is_429_with_retry_after(client):
    mobile = new_mobile()
    assert send_code(client, mobile, "register").status_code == 302
    response = send_code(client, mobile, "register")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "秒后再重新获取" in response.content.decode()
    assert len(outbox(mobile)) == 1


def test_after_a_minute_a_new_code_replaces_the_old_one():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.LOGIN)  # no account: nothing sent, same rules
    services.issue_code(mobile, Purpose.REGISTER)
    first = last_code(mobile)
    _age_codes(mobile, 61)
    services.issue_code(mobile, Purpose.REGISTER)
    second = last_code(mobile)
    if first != second:
        with pytest.raises(services.CodeError):
            services.verify_code(mobile, Purpose.REGISTER, first)
    services.verify_code(mobile, Purpose.REGISTER, second)


def test_at_most_ten_codes_per_number_per_day(settings):
    settings.YIWANG_SMS_RESEND_SECONDS = 0
    mobile = new_mobile()
    for _ in range(10):
        services.issue_code(mobile, Purpose.REGISTER)
    with pytest.raises(services.CodeRateLimited) as err:
        services.issue_code(mobile, Purpose.RESET)
    assert "明天再试" in err.value.message
    assert len(outbox(mobile)) == 10


def test_one_address_asking_for_many_numbers_is_limited(client, settings):
    settings.YIWANG_SMS_RATE_IP = "3/h"
    statuses = [send_code(client, new_mobile(), "register").status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert SmsMessage.objects.count() == 3


def test_the_code_endpoint_itself_is_limited_per_address(client, settings):
    settings.YIWANG_CODE_RATE_IP = "2/h"
    statuses = [send_code(client, new_mobile(), "register").status_code for _ in range(3)]
    assert statuses == [302, 302, 429]


@pytest.mark.parametrize("mobile", ["", "1381234567", "23812345678", "12012345678", "138-1234-56789", "abc"])
def test_a_malformed_number_gets_a_field_error_and_no_code(client, mobile):
    response = send_code(client, mobile, "register")
    assert response.status_code == 400
    html = response.content.decode()
    assert "手机号码" in html and 'aria-invalid="true"' in html and 'href="#id_mobile"' in html
    assert OneTimeCode.objects.count() == 0 and SmsMessage.objects.count() == 0


def test_an_unknown_purpose_is_refused():
    with pytest.raises(services.ValidationFailed):
        services.issue_code(new_mobile(), "launch")


# ----------------------------------------------------------------------------- verifying


def test_a_code_works_once():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    code = last_code(mobile)
    services.verify_code(mobile, Purpose.REGISTER, code)
    with pytest.raises(services.CodeError) as err:
        services.verify_code(mobile, Purpose.REGISTER, code)
    assert "已使用" in err.value.message and err.value.fields == {"code": [err.value.message]}


def test_an_expired_code_is_refused():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    OneTimeCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(services.CodeError) as err:
        services.verify_code(mobile, Purpose.REGISTER, last_code(mobile))
    assert "已过期" in err.value.message


def test_five_wrong_tries_kill_the_code_even_for_the_right_one():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    code = last_code(mobile)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    messages = []
    for _ in range(5):
        with pytest.raises(services.CodeError) as err:
            services.verify_code(mobile, Purpose.REGISTER, wrong)
        messages.append(err.value.message)
    assert "还可以再试4次" in messages[0] and "错误次数过多" in messages[-1]
    with pytest.raises(services.CodeError) as err:
        services.verify_code(mobile, Purpose.REGISTER, code)
    assert "错误次数过多" in err.value.message
    assert OneTimeCode.objects.get().attempts == 5


def test_a_code_for_one_purpose_does_not_work_for_another():
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    with pytest.raises(services.CodeError):
        services.verify_code(mobile, Purpose.RESET, last_code(mobile))


def test_a_code_for_one_number_does_not_work_for_another():
    mobile, other = new_mobile(), new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    with pytest.raises(services.CodeError) as err:
        services.verify_code(other, Purpose.REGISTER, last_code(mobile))
    assert "请先获取验证码" in err.value.message


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456"])
def test_a_malformed_code_is_refused_without_using_a_try(typed):
    mobile = new_mobile()
    services.issue_code(mobile, Purpose.REGISTER)
    with pytest.raises(services.CodeError) as err:
        services.verify_code(mobile, Purpose.REGISTER, typed)
    assert "6位数字" in err.value.message
    assert OneTimeCode.objects.get().attempts == 0


def test_a_reused_registration_code_creates_nothing(client):
    mobile = new_mobile()
    assert register(client, mobile=mobile).status_code == 302
    code = last_code(mobile)
    client.post("/accounts/logout/")
    response = client.post("/accounts/register/", {"name": "赵一", "id_number": new_id_number(), "mobile": mobile,
                                                   "code": code, "password": "Qz7river2025", "password2": "Qz7river2025"})
    assert response.status_code == 400
    from yiwang.identity.models import Person
    assert Person.objects.count() == 1


# ----------------------------------------------------------------------------- sign-in and reset codes


def test_sign_in_and_reset_codes_go_only_to_registered_numbers_and_the_answer_is_the_same(client):
    known = new_mobile()
    assert register(client, mobile=known).status_code == 302
    client.post("/accounts/logout/")
    unknown = new_mobile()
    for purpose in ("login", "reset"):
        a = send_code(client, known, purpose)
        b = send_code(client, unknown, purpose)
        assert a.status_code == b.status_code == 302 and a["Location"] == b["Location"]
        page_a = client.get(a["Location"]).content.decode()
        assert "已注册，验证码已发送" in page_a
    assert outbox(unknown) == []
    assert len(outbox(known)) == 3  # register, login, reset


# ----------------------------------------------------------------------------- backends


class Recorder:
    sent: ClassVar[list[tuple[str, str]]] = []

    def send(self, mobile, text):
        Recorder.sent.append((mobile, text))


class Broken:
    def send(self, mobile, text):
        raise ConnectionError("gateway down")


def test_the_backend_is_chosen_by_setting(settings):
    settings.YIWANG_SMS_BACKEND = "tests.identity.test_sms_codes.Recorder"
    Recorder.sent.clear()
    sms.send("13800001111", "你好")
    assert Recorder.sent == [("13800001111", "你好")] and SmsMessage.objects.count() == 0


def test_the_log_backend_logs_only_the_masked_number(settings, caplog):
    settings.YIWANG_SMS_BACKEND = "yiwang.identity.sms.LogBackend"
    with caplog.at_level(logging.INFO, logger="yiwang.identity.sms"):
        services.issue_code("13912345678", Purpose.REGISTER)
    assert "139****5678" in caplog.text
    assert "13912345678" not in caplog.text and "验证码" not in caplog.text


def test_a_failing_gateway_stores_no_code_and_says_so(client, settings):
    settings.YIWANG_SMS_BACKEND = "tests.identity.test_sms_codes.Broken"
    response = send_code(client, new_mobile(), "register")
    assert response.status_code == 503 and "短信发送失败" in response.content.decode()
    assert OneTimeCode.objects.count() == 0
