"""Staff second factor (动态口令, TOTP per RFC 6238): enrolment, verification, and the guards that
make the office pages and the API require it.

Every staff sign-in is two steps: the password (the login view leaves the user pending in
``session["pending_2fa_user"]``) and then a 6-digit code from an authenticator app. Only after
the code does the session become signed in, with ``session["2fa_ok"] = True``.

Codes are computed with ``cryptography``'s RFC 4226 HOTP, which — unlike recent pyotp — can be
told to accept secrets shorter than 128 bits, as the documented demo secret (``JBSWY3DPEHPK3PXP``,
80 bits) is. New secrets are 160 bits (32 base32 characters), as RFC 4226 recommends.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import permissions

from yiwang.core import audit
from yiwang.core.errors import DomainError, StateError, ValidationFailed
from yiwang.identity import scoping
from yiwang.identity.models import AccountSecurity

ISSUER = "一网 Yiwang"
DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1              # accept the previous and the next 30-second step too
SECRET_CHARS = 32            # 160 bits
# Defaults of YIWANG_LOGIN_MAX_FAILURES / YIWANG_LOGIN_LOCK_MINUTES, shared with password sign-in:
MAX_FAILURES = 5             # consecutive failures (password or code) before the account locks
LOCK_MINUTES = 15

SESSION_PENDING = "pending_2fa_user"
SESSION_BACKEND = "pending_2fa_backend"
SESSION_OK = "2fa_ok"
SESSION_FAILURES = "2fa_failures"

_CODE_RE = re.compile(r"^[0-9]{6}$")


class WrongCode(ValidationFailed):
    """A well-formed code that is wrong or already used: it counts as a failed sign-in."""


class AccountLocked(DomainError):
    """Too many failures: the account is locked for a while."""

    status = 403
    code = "locked"


# ----------------------------------------------------------------------------- the algorithm
def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("动态口令密钥不是有效的 Base32 / the secret is not valid base32") from None


def hotp(secret: str, counter: int) -> str:
    """RFC 4226: the HMAC-SHA1 one-time code for ``counter``."""
    generator = HOTP(_key(secret), DIGITS, hashes.SHA1(), enforce_key_length=False)
    return generator.generate(counter).decode()


def time_step(at: dt.datetime | float | None = None) -> int:
    """The RFC 6238 time step (30-second window) of ``at`` (default: now)."""
    if at is None:
        seconds = time.time()
    elif isinstance(at, dt.datetime):
        seconds = at.timestamp()
    else:
        seconds = float(at)
    return int(seconds // PERIOD)


def current_code(secret: str, at: dt.datetime | float | None = None) -> str:
    return hotp(secret, time_step(at))


def matching_step(secret: str, code: str, at: dt.datetime | float | None = None) -> int | None:
    """The time step within the allowed drift whose code equals ``code``; None when none does."""
    now = time_step(at)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Compare every candidate (no early exit) in constant time.
        if hmac.compare_digest(hotp(secret, step), code) and found is None:
            found = step
    return found


def new_secret() -> str:
    return pyotp.random_base32(SECRET_CHARS)


def provisioning_uri(username: str, secret: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code."""
    label = quote(f"{ISSUER}:{username}", safe="")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER, safe='')}&digits={DIGITS}&period={PERIOD}"


def qr_data_uri(uri: str) -> str:
    """An SVG QR code of ``uri`` as a data: URI (the content security policy allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#111", light="#fff")


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", str(code or ""))[:12]


# ----------------------------------------------------------------------------- account state
def security_of(user, *, lock: bool = False) -> AccountSecurity:
    """The user's security row, created on first use (locked for update when ``lock``)."""
    security, _ = AccountSecurity.objects.get_or_create(user=user)
    if lock:
        security = AccountSecurity.objects.select_for_update().get(pk=security.pk)
    return security


def is_enrolled(user) -> bool:
    return AccountSecurity.objects.filter(user=user, totp_confirmed_at__isnull=False).exists()


def locked_until(user) -> dt.datetime | None:
    until = AccountSecurity.objects.filter(user=user).values_list("locked_until", flat=True).first()
    return until if until and until > timezone.now() else None


def is_staff_user(user) -> bool:
    return scoping.staff_of(user) is not None


def second_factor_passed(request) -> bool:
    """True when the request's user is not staff, or is staff and passed the second factor."""
    user = getattr(request, "user", None)
    if not is_staff_user(user):
        return True
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(SESSION_OK) is True)


# ----------------------------------------------------------------------------- services
@transaction.atomic
def start_enrolment(user) -> str:
    """Give the user a new, unconfirmed secret (or the one already waiting) and return it."""
    security = security_of(user, lock=True)
    if security.totp_confirmed_at and security.totp_secret:
        raise StateError("已绑定动态口令 / the authenticator is already set up")
    if not security.totp_secret:
        security.totp_secret = new_secret()
        security.totp_last_step = 0
        security.save(update_fields=["totp_secret", "totp_last_step"])
        audit.record("identity.totp.enrolment_started", "User", user.get_username(), actor=audit.actor_name(user))
    return security.totp_secret


@dataclass
class Outcome:
    """What a code check did: ``enrolled`` (first confirmation) or ``verified``."""

    kind: str


def _record(user, success: bool, reason: str, ip, user_agent, action: str = "") -> None:
    from yiwang.identity.services import record_login  # sign-in records are kept in one place

    record_login(user=user, identifier=user.get_username(), method="totp", success=success, reason=reason,
                 ip=ip, user_agent=user_agent, action=action)


def max_failures() -> int:
    return int(getattr(settings, "YIWANG_LOGIN_MAX_FAILURES", MAX_FAILURES))


def lock_minutes() -> int:
    return int(getattr(settings, "YIWANG_LOGIN_LOCK_MINUTES", LOCK_MINUTES))


def verify_code(user, code: str, *, ip: str | None = None, user_agent: str = "",
                at: dt.datetime | None = None) -> Outcome:
    """Check the 6-digit code of ``user``'s authenticator.

    On success the enrolment is confirmed (first time), the time step is remembered so the same
    code cannot be used again, and the failure counter is reset. A wrong or reused code counts as
    a failed sign-in; ``MAX_FAILURES`` in a row lock the account for ``LOCK_MINUTES``. Failures
    are committed before the error is raised.
    """
    code = normalise_code(code)
    if not code:
        raise ValidationFailed("请输入动态口令 / enter the code",
                               fields={"code": ["请输入6位动态口令 / enter the 6-digit code"]})
    if not _CODE_RE.match(code):
        raise ValidationFailed("动态口令格式不正确 / the code is malformed",
                               fields={"code": ["动态口令是6位数字 / the code has 6 digits"]})
    now = at or timezone.now()
    with transaction.atomic():
        security = security_of(user, lock=True)
        if not security.totp_secret:
            raise StateError("尚未设置动态口令 / the authenticator is not set up yet")
        if security.locked_until and security.locked_until > now:
            _record(user, False, "账号锁定中", ip, user_agent)
            error: DomainError = AccountLocked(locked_message(security.locked_until))
        else:
            step = matching_step(security.totp_secret, code, now)
            if step is not None and step > security.totp_last_step:
                return _succeed(user, security, step, now, ip, user_agent)
            error = _fail(user, security, "reused" if step is not None else "wrong_code", now, ip, user_agent)
    raise error


def _succeed(user, security: AccountSecurity, step: int, now: dt.datetime, ip, user_agent) -> Outcome:
    enrolling = security.totp_confirmed_at is None
    security.totp_last_step = step
    security.failed_logins = 0
    security.locked_until = None
    if enrolling:
        security.totp_confirmed_at = now
    security.save(update_fields=["totp_last_step", "failed_logins", "locked_until", "totp_confirmed_at"])
    if enrolling:
        audit.record("identity.totp.enrolled", "User", user.pk, actor=audit.actor_name(user))
    _record(user, True, "", ip, user_agent)
    return Outcome("enrolled" if enrolling else "verified")


def _fail(user, security: AccountSecurity, reason: str, now: dt.datetime, ip, user_agent) -> DomainError:
    security.failed_logins += 1
    _record(user, False, "动态口令已使用过" if reason == "reused" else "动态口令错误", ip, user_agent)
    if security.failed_logins < max_failures():
        security.save(update_fields=["failed_logins"])
        if reason == "reused":
            return WrongCode("该动态口令已使用过 / this code was already used", fields={
                "code": [("该动态口令已使用过，请等待手机应用显示新的口令 / this code was already used; "
                         "wait for the next one")]})
        return WrongCode("动态口令不正确 / wrong code", fields={
            "code": ["动态口令不正确，请核对手机应用中显示的最新6位数字 / wrong code; check the latest one in your app"]})
    security.locked_until = now + dt.timedelta(minutes=lock_minutes())
    security.failed_logins = 0
    security.save(update_fields=["failed_logins", "locked_until"])
    _record(user, False, f"连续失败，锁定至 {timezone.localtime(security.locked_until):%H:%M}", ip, user_agent,
            action="identity.login.locked")
    return AccountLocked(locked_message(security.locked_until))


def locked_message(until: dt.datetime) -> str:
    local = timezone.localtime(until)
    return (f"连续失败次数过多，账号已锁定至 {local:%H:%M}，请稍后再试或联系本单位管理员 / "
            f"too many failures: the account is locked until {local:%H:%M}")


# ----------------------------------------------------------------------------- the API guard
class SecondFactorForStaffSession(permissions.BasePermission):
    """Staff signed in through the session must have passed the second factor.

    Bearer tokens are not affected: their holder authenticated at the provider. Requests from
    anonymous users and non-staff users pass through to the view's own permissions.
    """

    message = "工作人员须先完成动态口令验证 / staff must complete the second factor first"
    code = "second_factor_required"

    def has_permission(self, request, view) -> bool:
        from rest_framework.authentication import SessionAuthentication

        if not isinstance(getattr(request, "successful_authenticator", None), SessionAuthentication):
            return True
        return second_factor_passed(request._request)
