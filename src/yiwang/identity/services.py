"""Registration, sign-in, one-time codes and password reset (注册、登录、短信验证码、找回密码).

The only code that creates citizen accounts or changes their sign-in state. Views pass in what
the user typed plus the client's IP address and user agent; these functions validate, write,
record a ``LoginEvent`` and an audit entry, and raise :mod:`yiwang.core.errors` exceptions
with ``中文 / English`` messages and per-field ``fields``.

A failed attempt must still leave a trace (attempt counters, failure records), so the
functions that can fail after writing (``verify_code``, ``sign_in_with_password``,
``sign_in_with_code``) commit those writes in their own atomic blocks and raise afterwards:
call them outside any transaction that the failure would roll back.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from yiwang.core import audit
from yiwang.core.crypto import normalise_phone
from yiwang.core.errors import DomainError, ValidationFailed
from yiwang.core.fields import blind_match
from yiwang.core.masking import mask_id_number, mask_name, mask_phone
from yiwang.core.validators import InvalidCode, check_citizen_id
from yiwang.identity import passwords, sms
from yiwang.identity.backends import find_user, identifier_kind
from yiwang.identity.models import AccountSecurity, AssuranceLevel, LoginEvent, OneTimeCode, Person
from yiwang.identity.scoping import staff_of

Purpose = OneTimeCode.Purpose
MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,29}$")
NAME_RE = re.compile(r"^[\u3400-\u9fffA-Za-z·•. ]{2,30}$")
BACKEND = "yiwang.identity.backends.IdentifierBackend"


def _conf(name: str, default):
    return getattr(settings, name, default)


def code_ttl() -> int:
    """Seconds a one-time code stays valid."""
    return int(_conf("YIWANG_SMS_CODE_TTL", 300))


# ============================================================================ errors


class CodeError(ValidationFailed):
    """验证码错误: wrong, expired, used, or tried too often."""

    code = "code_invalid"

    def __init__(self, message: str):
        super().__init__(message, fields={"code": [message]})


class CodeRateLimited(DomainError):
    """Codes requested too often (per mobile number, per day or per IP address)."""

    status = 429
    code = "too_many_codes"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, fields={"mobile": [message]})
        self.retry_after = max(1, int(retry_after))


class SignInFailed(DomainError):
    """Wrong sign-in name or password (never says which)."""

    status = 400
    code = "sign_in_failed"


class AccountLocked(SignInFailed):
    status = 403
    code = "account_locked"

    def __init__(self, message: str, *, locked_until: dt.datetime):
        super().__init__(message)
        self.locked_until = locked_until


WRONG_CREDENTIALS = "账号或密码不正确，请重新输入（密码区分大小写） / wrong account name or password"
INACTIVE = "该账号已停用，请联系客服 12345 / this account is disabled"


# ============================================================================ small helpers


def mask_identifier(identifier: str) -> str:
    """A sign-in name as it may be stored and shown: ID numbers and mobile numbers masked."""
    text = (identifier or "").strip()
    kind = identifier_kind(text)
    if kind == "mobile":
        return mask_phone(normalise_phone(text))
    if kind == "id_number":
        return mask_id_number(text.upper())
    if sum(c.isdigit() for c in text) >= 7:  # a mistyped number is still personal data
        return mask_phone(text)[:64]
    return text[:64]


def check_mobile(mobile: str) -> str:
    """The mobile number as stored (11 digits), or ``ValidationFailed`` on the ``mobile`` field."""
    text = (mobile or "").strip()
    if not text:
        message = "请输入手机号码 / enter a mobile number"
        raise ValidationFailed(message, fields={"mobile": [message]})
    value = normalise_phone(text)
    if not MOBILE_RE.match(value) or not re.fullmatch(r"[0-9+\- ]+", text):
        message = "手机号码应为11位，以1开头，如 13812345678 / enter an 11-digit mobile number such as 13812345678"
        raise ValidationFailed(message, fields={"mobile": [message]})
    return value


def mobile_index(mobile: str) -> str | None:
    """The blind index of a mobile number, the same one ``Person.mobile_index`` holds."""
    return Person._meta.get_field("mobile_index").index_for(mobile)


def person_with_mobile(mobile: str) -> Person | None:
    return Person.objects.filter(blind_match(Person, "mobile", mobile)).select_related("user").first()


def _code_hash(index: str, purpose: str, code: str) -> str:
    return salted_hmac("yiwang.identity.one-time-code", f"{purpose}:{index}:{code}", algorithm="sha256").hexdigest()


_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_rate(rate: str) -> tuple[int, int]:
    """``"20/h"`` or ``"10/5m"`` → (count, seconds)."""
    count, _, period = rate.partition("/")
    m = re.fullmatch(r"(\d*)([smhd])", period.strip())
    if not m:
        raise ValueError(f"bad rate {rate!r}")
    return int(count), int(m[1] or 1) * _RATE_UNITS[m[2]]


def _over_limit(key: str, rate: str) -> int:
    """Count one hit on ``key`` in a fixed window; the seconds to wait if over the limit, else 0."""
    limit, period = _parse_rate(rate)
    now = time.time()
    window = int(now // period)
    cache_key = f"yiwang:limit:{key}:{window}"
    cache.add(cache_key, 0, period + 5)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, period + 5)
        hits = 1
    if hits > limit:
        return int((window + 1) * period - now) + 1
    return 0


def _when(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return local.strftime("%H:%M")
    return f"{local.month}月{local.day}日 {local:%H:%M}"


# ============================================================================ one-time codes

SMS_TEXT = "【{platform}】您的{purpose}验证码是 {code}，{minutes}分钟内有效。请勿告诉他人；如非本人操作，请忽略本短信。"


@transaction.atomic
def issue_code(mobile: str, purpose: str, ip: str | None = None) -> OneTimeCode:
    """Create a one-time code for ``mobile`` and text it.

    Six random digits, stored only as a keyed hash, valid ``YIWANG_SMS_CODE_TTL`` seconds; a
    new code replaces the previous one of the same purpose. For sign-in and password reset the
    message goes out only when an account has this number; the caller cannot tell (no account
    enumeration). Limits: one code per number and purpose every ``YIWANG_SMS_RESEND_SECONDS``,
    ``YIWANG_SMS_DAILY_LIMIT`` per number per day, ``YIWANG_SMS_RATE_IP`` per IP address.
    """
    if purpose not in Purpose.values:
        raise ValidationFailed("验证码用途无效 / unknown purpose", fields={"purpose": ["验证码用途无效 / unknown purpose"]})
    mobile = check_mobile(mobile)
    index = mobile_index(mobile)
    now = timezone.now()

    last = OneTimeCode.objects.filter(mobile_index=index, purpose=purpose).order_by("-created_at", "-id").first()
    resend = int(_conf("YIWANG_SMS_RESEND_SECONDS", 60))
    if last is not None and (now - last.created_at).total_seconds() < resend:
        wait = math.ceil(resend - (now - last.created_at).total_seconds())
        raise CodeRateLimited(f"验证码已发送，请{wait}秒后再重新获取 / a code was just sent, wait {wait} s before "
                              f"asking again", retry_after=wait)
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    daily = int(_conf("YIWANG_SMS_DAILY_LIMIT", 10))
    if OneTimeCode.objects.filter(mobile_index=index, created_at__gte=day_start).count() >= daily:
        wait = int((day_start + dt.timedelta(days=1) - now).total_seconds())
        raise CodeRateLimited(f"该手机号码今天获取验证码已达{daily}次，请明天再试 / this number has had {daily} codes "
                              f"today, try again tomorrow", retry_after=wait)
    if ip:
        wait = _over_limit(f"sms-ip:{ip}", _conf("YIWANG_SMS_RATE_IP", "20/h"))
        if wait:
            raise CodeRateLimited("获取验证码过于频繁，请稍后再试 / too many codes requested from this network, "
                                  "try again later", retry_after=wait)

    code = f"{secrets.randbelow(10 ** 6):06d}"
    otc = OneTimeCode.objects.create(purpose=purpose, mobile_index=index, code_hash=_code_hash(index, purpose, code),
                                     expires_at=now + dt.timedelta(seconds=code_ttl()))
    deliver = purpose in (Purpose.REGISTER, Purpose.CHANGE_MOBILE) or person_with_mobile(mobile) is not None
    if deliver:
        sms.send(mobile, SMS_TEXT.format(platform=_conf("YIWANG_PLATFORM_NAME", "一网通办"),
                                         purpose=Purpose(purpose).label, code=code, minutes=code_ttl() // 60))
    audit.record("identity.code.issue", "OneTimeCode", otc.pk, actor="anonymous",
                 detail={"purpose": purpose, "mobile": mask_phone(mobile), "delivered": deliver})
    return otc


def verify_code(mobile: str, purpose: str, code: str) -> OneTimeCode:
    """Use the latest code sent to ``mobile`` for ``purpose``; raises :class:`CodeError`.

    A code works once, until it expires, and only while fewer than ``YIWANG_SMS_MAX_ATTEMPTS``
    wrong codes were tried against it. A wrong try is counted even though this raises.
    """
    typed = (code or "").strip()
    if not re.fullmatch(r"[0-9]{6}", typed):
        raise CodeError("请输入短信中的6位数字验证码 / enter the 6-digit code from the text message")
    index = mobile_index(normalise_phone(mobile or ""))
    max_attempts = int(_conf("YIWANG_SMS_MAX_ATTEMPTS", 5))
    error = ""
    with transaction.atomic():
        otc = (OneTimeCode.objects.select_for_update().filter(mobile_index=index, purpose=purpose)
               .order_by("-created_at", "-id").first()) if index else None
        now = timezone.now()
        if otc is None:
            error = "验证码不正确，请先获取验证码 / wrong code: ask for a code first"
        elif otc.used_at is not None:
            error = "验证码已使用过，请重新获取 / this code was already used, ask for a new one"
        elif otc.expires_at <= now:
            error = "验证码已过期，请重新获取 / this code has expired, ask for a new one"
        elif otc.attempts >= max_attempts:
            error = "验证码错误次数过多，已失效，请重新获取 / too many wrong tries, ask for a new code"
        elif not hmac.compare_digest(otc.code_hash, _code_hash(index, purpose, typed)):
            otc.attempts += 1
            otc.save(update_fields=["attempts"])
            left = max_attempts - otc.attempts
            error = (f"验证码不正确，还可以再试{left}次 / wrong code, {left} tries left" if left else
                     "验证码错误次数过多，已失效，请重新获取 / too many wrong tries, ask for a new code")
        else:
            otc.used_at = now
            otc.save(update_fields=["used_at"])
    if error:
        raise CodeError(error)
    return otc


# ============================================================================ sign-in records


@transaction.atomic
def record_login(*, user, identifier: str, method: str, success: bool, reason: str = "", ip: str | None = None,
                 user_agent: str = "", action: str = "") -> LoginEvent:
    """Write a ``LoginEvent`` and its audit entry. ``identifier`` is masked here.

    ``action`` defaults to ``identity.login.success`` / ``identity.login.failure``; the staff
    second-factor step and other sign-in methods call this too.
    """
    masked = mask_identifier(identifier)
    event = LoginEvent.objects.create(user=user, identifier=masked, method=method[:16], success=success,
                                      reason=reason[:100], ip=ip or None, user_agent=(user_agent or "")[:200])
    action = action or ("identity.login.success" if success else "identity.login.failure")
    audit.record(action, "User", user.pk if user is not None else masked,
                 actor=audit.actor_name(user) if success and user is not None else "anonymous",
                 detail={"identifier": masked, "method": method, "reason": reason, "ip": ip or ""})
    return event


def _security(user, *, lock: bool = False) -> AccountSecurity:
    qs = AccountSecurity.objects.select_for_update() if lock else AccountSecurity.objects
    security = qs.filter(user=user).first()
    if security is None:
        security = AccountSecurity.objects.create(user=user)
    return security


@transaction.atomic
def _note_failure(user, *, identifier: str, method: str, reason: str, ip, user_agent) -> dt.datetime | None:
    """Count a failed password for ``user``; lock the account at the limit. Returns the lock end."""
    security = _security(user, lock=True)
    security.failed_logins += 1
    record_login(user=user, identifier=identifier, method=method, success=False, reason=reason, ip=ip,
                 user_agent=user_agent)
    if security.failed_logins < int(_conf("YIWANG_LOGIN_MAX_FAILURES", 5)):
        security.save(update_fields=["failed_logins"])
        return None
    security.locked_until = timezone.now() + dt.timedelta(minutes=int(_conf("YIWANG_LOGIN_LOCK_MINUTES", 15)))
    security.failed_logins = 0
    security.save(update_fields=["failed_logins", "locked_until"])
    record_login(user=user, identifier=identifier, method=method, success=False,
                 reason=f"连续失败，锁定至 {_when(security.locked_until)}", ip=ip, user_agent=user_agent,
                 action="identity.login.locked")
    return security.locked_until


@transaction.atomic
def _note_success(user, *, identifier: str, method: str, ip, user_agent, second_factor: bool) -> None:
    security = _security(user, lock=True)
    if security.failed_logins or security.locked_until:
        security.failed_logins = 0
        security.locked_until = None
        security.save(update_fields=["failed_logins", "locked_until"])
    if second_factor:
        record_login(user=user, identifier=identifier, method=method, success=True, reason="待动态口令验证",
                     ip=ip, user_agent=user_agent, action="identity.login.first_factor")
    else:
        record_login(user=user, identifier=identifier, method=method, success=True, ip=ip, user_agent=user_agent)


def _locked_message(until: dt.datetime) -> str:
    return (f"密码连续输错次数过多，账号已锁定至 {_when(until)}。请届时再试，或使用短信验证码登录、找回密码 / "
            f"too many wrong passwords: the account is locked until {timezone.localtime(until):%H:%M}")


@dataclass(frozen=True)
class SignIn:
    """The outcome of a correct first factor."""

    user: object
    second_factor_required: bool  # staff: finish at /accounts/totp/ before the session is signed in


def sign_in_with_password(*, identifier: str, password: str, ip: str | None = None, user_agent: str = "",
                          request=None) -> SignIn:
    """Check a password for a username, an ID number or a mobile number.

    Raises :class:`SignInFailed` (the same message whether or not the account exists) or
    :class:`AccountLocked`. ``YIWANG_LOGIN_MAX_FAILURES`` failures in a row lock the account
    for ``YIWANG_LOGIN_LOCK_MINUTES``; a success resets the count. The session is the caller's.
    """
    user = find_user(identifier)
    if user is not None:
        locked_until = AccountSecurity.objects.filter(user=user).values_list("locked_until", flat=True).first()
        if locked_until and locked_until > timezone.now():
            record_login(user=user, identifier=identifier, method="password", success=False,
                         reason="账号锁定中", ip=ip, user_agent=user_agent)
            raise AccountLocked(_locked_message(locked_until), locked_until=locked_until)
    authed = authenticate(request, username=identifier, password=password)
    if authed is None:
        if user is None:
            record_login(user=None, identifier=identifier, method="password", success=False, reason="账号不存在",
                         ip=ip, user_agent=user_agent)
            raise SignInFailed(WRONG_CREDENTIALS)
        if not user.is_active and user.check_password(password):
            record_login(user=user, identifier=identifier, method="password", success=False, reason="账号已停用",
                         ip=ip, user_agent=user_agent)
            raise SignInFailed(INACTIVE)
        locked_until = _note_failure(user, identifier=identifier, method="password", reason="密码错误", ip=ip,
                                     user_agent=user_agent)
        if locked_until:
            raise AccountLocked(_locked_message(locked_until), locked_until=locked_until)
        raise SignInFailed(WRONG_CREDENTIALS)
    second = staff_of(authed) is not None
    _note_success(authed, identifier=identifier, method="password", ip=ip, user_agent=user_agent,
                  second_factor=second)
    return SignIn(authed, second)


def sign_in_with_code(*, mobile: str, code: str, ip: str | None = None, user_agent: str = "") -> SignIn:
    """Sign in with a one-time code texted to the account's mobile number.

    The code proves the person holds the phone, so it also works while password sign-in is
    locked, and a success lifts the lock.
    """
    mobile = check_mobile(mobile)
    person = person_with_mobile(mobile)
    user = person.user if person is not None else None
    try:
        verify_code(mobile, Purpose.LOGIN, code)
    except CodeError as exc:
        record_login(user=user, identifier=mobile, method="sms", success=False, reason="验证码错误", ip=ip,
                     user_agent=user_agent)
        raise exc from None
    if user is None:  # a code for a number without an account is never sent
        record_login(user=None, identifier=mobile, method="sms", success=False, reason="账号不存在", ip=ip,
                     user_agent=user_agent)
        raise CodeError("验证码不正确，请重新获取 / wrong code, ask for a new one")
    if not user.is_active:
        record_login(user=user, identifier=mobile, method="sms", success=False, reason="账号已停用", ip=ip,
                     user_agent=user_agent)
        raise SignInFailed(INACTIVE)
    user.backend = BACKEND
    second = staff_of(user) is not None
    _note_success(user, identifier=mobile, method="sms", ip=ip, user_agent=user_agent, second_factor=second)
    return SignIn(user, second)


# ============================================================================ registration


def generate_username() -> str:
    """``u`` and ten random letters and digits (none that look alike: 0/o, 1/l/i), not yet taken."""
    User = get_user_model()
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    while True:
        candidate = "u" + "".join(secrets.choice(alphabet) for _ in range(10))
        if not User._default_manager.filter(username__iexact=candidate).exists():
            return candidate


def _password_errors(password: str, *, username: str, id_number: str = "", mobile: str = "", user=None) -> list[str]:
    if not password:
        return ["请设置密码 / enter a password"]
    if user is None:
        user = get_user_model()(username=username)
        user._personal_values = [id_number, mobile]
    return passwords.validate(password, user)


def _check_registration(*, name: str, id_number: str, mobile: str, username: str, password: str) -> dict:
    """Every field's problems at once; the cleaned values when there are none."""
    User = get_user_model()
    errors: dict[str, list[str]] = {}
    clean = {"name": " ".join((name or "").split()), "username": (username or "").strip()}

    if not clean["name"]:
        errors["name"] = ["请输入姓名 / enter your name"]
    elif not NAME_RE.match(clean["name"]):
        errors["name"] = ["请按身份证填写姓名（2–30个字，不含数字）/ enter your name as on your ID card"]

    try:
        clean["id_number"] = check_citizen_id((id_number or "").replace(" ", ""))
    except InvalidCode as exc:
        errors["id_number"] = ["请输入身份证号码 / enter your ID number"] if not (id_number or "").strip() else [str(exc)]
    else:
        if Person.objects.filter(blind_match(Person, "id_number", clean["id_number"])).exists():
            errors["id_number"] = ["该身份证号码已注册，请直接登录或找回密码 / this ID number already has an account"]

    try:
        clean["mobile"] = check_mobile(mobile)
    except ValidationFailed as exc:
        errors["mobile"] = exc.fields["mobile"]
    else:
        if person_with_mobile(clean["mobile"]) is not None:
            errors["mobile"] = ["该手机号码已注册，请直接登录或找回密码 / this mobile number already has an account"]

    if clean["username"]:
        if not USERNAME_RE.match(clean["username"]):
            errors["username"] = [("用户名为4–30位，以字母开头，只含字母、数字和下划线 / 4–30 letters, digits or _, "
                                   "starting with a letter")]
        elif User._default_manager.filter(username__iexact=clean["username"]).exists():
            errors["username"] = ["该用户名已被使用，请换一个 / this username is taken"]

    problems = _password_errors(password, username=clean["username"], id_number=clean.get("id_number", id_number),
                                mobile=clean.get("mobile", mobile))
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationFailed("请检查以下内容 / please correct the fields below", fields=errors)
    return clean


def registration_problems(*, name: str = "", id_number: str = "", mobile: str = "", username: str = "",
                          password: str = "") -> dict[str, list[str]]:
    """Every field's problems, without creating or using anything (to report them all at once)."""
    try:
        _check_registration(name=name, id_number=id_number, mobile=mobile, username=username, password=password)
    except ValidationFailed as exc:
        return exc.fields
    return {}


def register_person(*, name: str, id_number: str, mobile: str, code: str, password: str, username: str = "",
                    ip: str | None = None, user_agent: str = ""):
    """Create a citizen account at level L1 (已注册): user, person and security record.

    Checks every field first (ID number check digit, mobile format, one account per ID number
    and per mobile number, username, password policy) and only then uses the code, so a typo
    elsewhere does not burn it. Nothing is created unless everything is right.
    """
    clean = _check_registration(name=name, id_number=id_number, mobile=mobile, username=username,
                                password=password)
    verify_code(clean["mobile"], Purpose.REGISTER, code)
    try:
        user = _create_person(clean, password, ip=ip, user_agent=user_agent)
    except IntegrityError:  # the same ID or number registered at the same moment
        raise ValidationFailed("该身份证号码或手机号码已注册 / this ID number or mobile number already has an account",
                               fields={"id_number": ["该身份证号码或手机号码已注册，请直接登录 / already registered"]}) from None
    user.backend = BACKEND
    return user


@transaction.atomic
def _create_person(clean: dict, password: str, *, ip, user_agent):
    User = get_user_model()
    username = clean["username"] or generate_username()
    user = User.objects.create_user(username=username, password=password)
    person = Person.objects.create(user=user, name=clean["name"], id_number=clean["id_number"],
                                   mobile=clean["mobile"], assurance_level=AssuranceLevel.L1)
    AccountSecurity.objects.create(user=user)
    audit.record("identity.person.register", "Person", person.pk, actor=audit.actor_name(user),
                 after={"user": user.pk, "subject": str(person.subject), "level": person.assurance_level},
                 detail={"name": mask_name(person.name), "id_number": mask_id_number(person.id_number),
                         "mobile": mask_phone(person.mobile), "username": username})
    LoginEvent.objects.create(user=user, identifier=username, method="register", success=True, reason="注册",
                              ip=ip or None, user_agent=(user_agent or "")[:200])
    return user


# ============================================================================ password reset


def reset_password(*, mobile: str, code: str, password: str, ip: str | None = None, user_agent: str = "") -> None:
    """Set a new password after a code texted to the account's mobile number.

    Every other session of the account ends (the session hash follows the password), failures
    and locks are cleared. A number without an account never received a code, so it fails
    like a wrong code and nothing is changed.
    """
    mobile = check_mobile(mobile)
    person = person_with_mobile(mobile)
    user = person.user if person is not None else None
    problems = _password_errors(password, username="", user=user) if user is not None else \
        _password_errors(password, username="", mobile=mobile)
    if problems:
        raise ValidationFailed("请检查以下内容 / please correct the fields below", fields={"password": problems})
    verify_code(mobile, Purpose.RESET, code)
    if user is None:
        raise CodeError("验证码不正确，请重新获取 / wrong code, ask for a new one")
    _set_new_password(user, password, mobile=mobile, ip=ip)


@transaction.atomic
def _set_new_password(user, password: str, *, mobile: str, ip) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    security = _security(user, lock=True)
    security.failed_logins = 0
    security.locked_until = None
    security.save(update_fields=["failed_logins", "locked_until"])
    audit.record("identity.password.reset", "User", user.pk, actor=audit.actor_name(user),
                 detail={"method": "sms", "mobile": mask_phone(mobile), "ip": ip or ""})
