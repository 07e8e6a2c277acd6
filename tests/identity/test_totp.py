"""Staff sign in with a second factor (动态口令): set it up once, then a fresh code every time."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication

from tests import factories
from tests.identity.helpers_totp import give_authenticator, sign_in_staff
from yiwang.core.models import AuditEntry
from yiwang.identity import services_staff, totp
from yiwang.identity.models import AccountSecurity, LoginEvent, Role

pytestmark = pytest.mark.django_db

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 4226 test key "12345678901234567890"
DEMO_SECRET = "JBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # rate-limit counters
    yield
    cache.clear()


@pytest.fixture
def reviewer(org_a):
    return factories.staff("reviewer_a", org_a, Role.REVIEWER)


def pending(client, user, next_url: str = ""):
    """The session as the login view leaves it after a correct password."""
    session = client.session
    session[totp.SESSION_PENDING] = user.pk
    session.save()
    return "/accounts/totp/" + (f"?next={next_url}" if next_url else "")


def post_code(client, code: str, next_url: str = ""):
    return client.post("/accounts/totp/", {"code": code, "next": next_url})


def step_code(secret: str, offset: int = 0) -> str:
    return totp.hotp(secret, totp.time_step() + offset)


# ----------------------------------------------------------------------------- the algorithm
def test_codes_follow_rfc_4226_test_vectors():
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(SECRET, i) for i in range(10)] == expected


def test_codes_agree_with_an_independent_implementation():
    secret = totp.new_secret()
    assert len(secret) == 32  # 160 bits
    at = 1_700_000_000
    assert totp.current_code(secret, at) == pyotp.TOTP(secret).at(at)


def test_the_documented_80_bit_demo_secret_still_works():
    # The documented demo secret is shorter than recent pyotp accepts; our own code handles it.
    assert re.fullmatch(r"\d{6}", totp.current_code(DEMO_SECRET))


def test_one_step_of_clock_drift_either_way_is_accepted_but_not_two():
    now = timezone.now()
    base = totp.time_step(now)
    for offset in (-1, 0, 1):
        assert totp.matching_step(SECRET, totp.hotp(SECRET, base + offset), now) == base + offset
    for offset in (-2, 2):
        assert totp.matching_step(SECRET, totp.hotp(SECRET, base + offset), now) is None


# ----------------------------------------------------------------------------- enrolment
def test_first_sign_in_shows_setup_with_qr_code_and_secret_then_signs_in(client, reviewer):
    url = pending(client, reviewer, "/office/items/")
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "设置动态口令" in html
    assert 'src="data:image/svg+xml' in html
    assert "no-store" in page["Cache-Control"]
    security = AccountSecurity.objects.get(user=reviewer)
    assert security.totp_secret and security.totp_confirmed_at is None
    assert totp.grouped(security.totp_secret) in html
    # Stored encrypted: the column never holds the secret itself.
    with connection.cursor() as cur:
        cur.execute("SELECT totp_secret FROM identity_accountsecurity WHERE user_id = %s", [reviewer.pk])
        raw = cur.fetchone()[0]
    assert security.totp_secret not in raw
    # Reloading keeps the same secret (the app may have scanned it already).
    client.get(url)
    assert AccountSecurity.objects.get(user=reviewer).totp_secret == security.totp_secret

    response = post_code(client, step_code(security.totp_secret), "/office/items/")
    assert response.status_code == 302 and response["Location"] == "/office/items/"
    assert client.session[totp.SESSION_OK] is True
    assert totp.SESSION_PENDING not in client.session
    assert int(client.session["_auth_user_id"]) == reviewer.pk
    assert AccountSecurity.objects.get(user=reviewer).totp_confirmed_at is not None
    assert LoginEvent.objects.filter(user=reviewer, method="totp", success=True).count() == 1
    assert AuditEntry.objects.filter(action="identity.totp.enrolled").count() == 1
    assert client.get("/office/").status_code == 200


def test_the_provisioning_uri_names_the_platform_and_the_account():
    uri = totp.provisioning_uri("reviewer_a", SECRET)
    assert uri.startswith("otpauth://totp/") and f"secret={SECRET}" in uri
    assert "issuer=%E4%B8%80%E7%BD%91%20Yiwang" in uri  # 一网 Yiwang
    assert pyotp.parse_uri(uri).issuer == "一网 Yiwang"


def test_a_wrong_code_during_setup_leaves_the_setup_unconfirmed(client, reviewer):
    client.get(pending(client, reviewer))
    response = post_code(client, "000000" if step_code(totp.security_of(reviewer).totp_secret) != "000000" else "111111")
    assert response.status_code == 400
    assert "动态口令不正确" in response.content.decode()
    assert AccountSecurity.objects.get(user=reviewer).totp_confirmed_at is None
    assert "_auth_user_id" not in client.session


# ----------------------------------------------------------------------------- verification
def test_enrolled_staff_enter_the_current_code_and_are_signed_in(client, reviewer):
    give_authenticator(reviewer, SECRET)
    page = client.get(pending(client, reviewer))
    assert "动态口令验证" in page.content.decode() and "data:image" not in page.content.decode()
    response = post_code(client, step_code(SECRET))
    assert response.status_code == 302 and response["Location"] == "/office/"
    assert client.session[totp.SESSION_OK] is True


def test_a_code_cannot_be_used_twice(client, reviewer):
    give_authenticator(reviewer, SECRET)
    code = step_code(SECRET)
    pending(client, reviewer)
    assert post_code(client, code).status_code == 302
    client.logout()
    pending(client, reviewer)
    response = post_code(client, code)
    assert response.status_code == 400
    assert "已使用过" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AccountSecurity.objects.get(user=reviewer).failed_logins == 1


def test_an_earlier_step_than_the_last_used_is_refused(reviewer):
    give_authenticator(reviewer, SECRET)
    now = timezone.now()
    totp.verify_code(reviewer, step_code(SECRET, 1), at=now)
    with pytest.raises(totp.WrongCode):
        totp.verify_code(reviewer, totp.hotp(SECRET, totp.time_step(now)), at=now)


def test_a_malformed_code_is_explained_and_not_counted(client, reviewer):
    give_authenticator(reviewer, SECRET)
    pending(client, reviewer)
    for typed in ("", "12ab56", "1234"):
        response = post_code(client, typed)
        assert response.status_code == 400
        assert 'class="error-summary"' in response.content.decode()
    assert AccountSecurity.objects.get(user=reviewer).failed_logins == 0
    assert post_code(client, " ".join(step_code(SECRET)[i:i + 3] for i in (0, 3))).status_code == 302


def test_five_wrong_codes_drop_the_pending_sign_in_and_lock_the_account(client, reviewer):
    give_authenticator(reviewer, SECRET)
    pending(client, reviewer)
    good = step_code(SECRET)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(4):
        assert post_code(client, wrong).status_code == 400
    response = post_code(client, wrong)
    assert response.status_code == 403 and "锁定" in response.content.decode()
    assert totp.SESSION_PENDING not in client.session and "_auth_user_id" not in client.session
    security = AccountSecurity.objects.get(user=reviewer)
    assert security.locked_until and security.locked_until > timezone.now() + dt.timedelta(minutes=14)
    assert LoginEvent.objects.filter(user=reviewer, method="totp", success=False).count() >= 5
    assert AuditEntry.objects.filter(action="identity.login.locked").count() == 1
    # Even the right code is refused while locked, and the page no longer offers the step.
    assert client.get("/accounts/totp/").status_code == 302
    pending(client, reviewer)
    assert post_code(client, good).status_code == 403
    assert "_auth_user_id" not in client.session


def test_password_sign_in_leads_to_the_code_and_only_then_to_the_office(client, reviewer):
    give_authenticator(reviewer, SECRET)
    response = client.post("/accounts/login/?next=/office/items/",
                           {"username": "reviewer_a", "password": "yiwang-demo", "next": "/office/items/"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/totp/")
    assert "_auth_user_id" not in client.session
    assert client.get("/office/")["Location"].startswith("/accounts/totp/")
    response = post_code(client, step_code(SECRET), "/office/items/")
    assert response.status_code == 302 and response["Location"] == "/office/items/"
    assert client.get("/office/").status_code == 200


def test_the_next_address_must_stay_on_this_site(client, reviewer):
    give_authenticator(reviewer, SECRET)
    pending(client, reviewer)
    response = post_code(client, step_code(SECRET), "https://evil.example/")
    assert response["Location"] == "/office/"


def test_the_code_form_is_rate_limited_per_pending_account(client, reviewer, settings):
    settings.YIWANG_TOTP_RATE = "3/h"  # an hour: the run cannot straddle two windows
    settings.YIWANG_LOGIN_MAX_FAILURES = 50
    give_authenticator(reviewer, SECRET)
    pending(client, reviewer)
    for _ in range(3):
        assert post_code(client, "12345").status_code == 400
    response = post_code(client, step_code(SECRET))
    assert response.status_code == 429 and response["Retry-After"]
    assert "_auth_user_id" not in client.session


def test_without_a_pending_sign_in_the_page_sends_people_to_the_login(client, db):
    response = client.get("/accounts/totp/?next=/office/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_reset_by_the_administrator_means_setting_up_again(client, reviewer, org_a):
    give_authenticator(reviewer, SECRET)
    org_admin = factories.staff("orgadmin_a", org_a, Role.ORG_ADMIN)
    services_staff.reset_second_factor(org_admin, reviewer.staff)
    page = client.get(pending(client, reviewer))
    assert "设置动态口令" in page.content.decode()
    new_secret = AccountSecurity.objects.get(user=reviewer).totp_secret
    assert new_secret != SECRET
    assert post_code(client, step_code(SECRET)).status_code == 400
    assert post_code(client, step_code(new_secret)).status_code == 302


# ----------------------------------------------------------------------------- the office requires it
def test_office_pages_send_staff_without_the_second_factor_to_the_code_page(client, reviewer):
    assert client.get("/office/")["Location"].startswith("/accounts/login/")
    pending(client, reviewer)
    assert client.get("/office/")["Location"] == "/accounts/totp/?next=/office/"
    client.force_login(reviewer)  # signed in some other way, without the code
    assert client.get("/office/items/")["Location"] == "/accounts/totp/?next=/office/items/"
    give_authenticator(reviewer, SECRET)
    client.session.pop(totp.SESSION_PENDING, None)
    response = post_code(client, step_code(SECRET), "/office/")
    assert response["Location"] == "/office/"
    assert client.get("/office/").status_code == 200


def test_signed_in_staff_with_the_second_factor_use_the_office(client, reviewer):
    sign_in_staff(client, reviewer)
    assert client.get("/office/").status_code == 200
    assert client.get("/accounts/totp/")["Location"] == "/office/"


# ----------------------------------------------------------------------------- the API guard
class _DrfRequest:
    """What the permission sees of a DRF request: the Django request and who authenticated it."""

    def __init__(self, user, *, second_factor: bool, authenticator):
        self._request = RequestFactory().post("/api/v1/items/")
        self._request.user = user
        self._request.session = SessionStore()
        if second_factor:
            self._request.session[totp.SESSION_OK] = True
        self.user = user
        self.successful_authenticator = authenticator


def test_the_api_refuses_staff_sessions_without_the_second_factor(reviewer):
    guard = totp.SecondFactorForStaffSession()
    assert not guard.has_permission(_DrfRequest(reviewer, second_factor=False,
                                                authenticator=SessionAuthentication()), None)
    assert "动态口令" in guard.message
    assert guard.has_permission(_DrfRequest(reviewer, second_factor=True, authenticator=SessionAuthentication()), None)


def test_the_api_guard_leaves_bearer_tokens_citizens_and_anonymous_callers_alone(reviewer):
    guard = totp.SecondFactorForStaffSession()
    assert guard.has_permission(_DrfRequest(reviewer, second_factor=False, authenticator=object()), None)
    citizen = get_user_model().objects.create_user(username="citizen_x", password="yiwang-demo")
    assert guard.has_permission(_DrfRequest(citizen, second_factor=False, authenticator=SessionAuthentication()), None)
    assert guard.has_permission(_DrfRequest(AnonymousUser(), second_factor=False, authenticator=None), None)


@override_settings(YIWANG_LOGIN_MAX_FAILURES=5)
def test_staff_list_shows_who_has_set_up_the_authenticator(client, reviewer, org_a):
    give_authenticator(reviewer, SECRET)
    org_admin = factories.staff("orgadmin_a", org_a, Role.ORG_ADMIN)
    sign_in_staff(client, org_admin)
    html = client.get("/office/staff/").content.decode()
    assert "reviewer_a" in html and "已设置" in html


# ----------------------------------------------------------------------------- demo identities
def test_demo_registries_hold_valid_distinct_people_and_enterprises():
    from yiwang.core import validators
    from yiwang.demo import identity

    people = identity.population()
    ids = [p["id_number"] for p in people]
    assert len(people) == identity.POPULATION_SIZE and len(set(ids)) == len(ids)
    assert all(validators.check_citizen_id(i) == i and i.startswith("3901") for i in ids)
    assert all(int(p["id_number"][16]) % 2 == (1 if p["gender"] == "1" else 0) for p in people)
    firms = identity.enterprises(people)
    assert len({f["uscc"] for f in firms}) == identity.ENTERPRISES
    assert all(validators.check_uscc(f["uscc"]) == f["uscc"] for f in firms)
    assert (firms[0]["legal_rep_name"], firms[0]["legal_rep_id_number"]) == (people[2]["name"], people[2]["id_number"])


def test_demo_staff_sign_in_with_the_documented_secret(client, org_a):
    from yiwang.demo import identity
    from yiwang.demo.loader import Summary

    factories.staff("reviewer", org_a, Role.REVIEWER)
    identity.load_second_factors(Summary())
    identity.load_second_factors(Summary())  # idempotent
    r = client.post("/accounts/login/", {"username": "reviewer", "password": "yiwang-demo"})
    assert r["Location"].startswith("/accounts/totp/")
    assert post_code(client, totp.current_code(DEMO_SECRET))["Location"] == "/office/"


def test_staff_session_without_the_second_factor_cannot_use_the_staff_api(client, published, admin_a):
    code = published.item.implementation_code
    client.force_login(admin_a)  # password only: no "2fa_ok" in the session
    assert client.get(f"/api/v1/items/{code}/versions/").status_code == 403
    assert client.post(f"/api/v1/items/{code}/revise/", content_type="application/json").status_code == 403
    session = client.session
    session["2fa_ok"] = True
    session.save()
    assert client.get(f"/api/v1/items/{code}/versions/").status_code == 200
