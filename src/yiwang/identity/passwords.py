"""The password policy (密码规则): Django password validators with the platform's messages.

Configured in ``settings.AUTH_PASSWORD_VALIDATORS``; :func:`policy_text` is the sentence shown
beside every new-password field, built from the same settings so page and rule agree.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

DEFAULT_MIN_LENGTH = 10


def min_length() -> int:
    for v in password_validation.get_default_password_validators():
        if isinstance(v, LengthValidator):
            return v.min_length
    return DEFAULT_MIN_LENGTH


def policy_text() -> str:
    return (f"密码至少{min_length()}位，须同时包含字母和数字，不能是常见密码，"
            "也不能与身份证号码、手机号码或用户名相同或相近。")


class LengthValidator(password_validation.MinimumLengthValidator):
    def __init__(self, min_length: int = DEFAULT_MIN_LENGTH):
        super().__init__(min_length)

    def validate(self, password, user=None):
        if len(password) < self.min_length:
            raise ValidationError(
                f"密码至少{self.min_length}位 / the password must have at least {self.min_length} characters",
                code="password_too_short")

    def get_help_text(self):
        return f"至少{self.min_length}位"


class LettersAndDigitsValidator:
    def validate(self, password, user=None):
        if not (re.search(r"[A-Za-z]", password) and re.search(r"[0-9]", password)):
            raise ValidationError("密码须同时包含字母和数字 / the password must contain both letters and digits",
                                  code="password_letters_digits")

    def get_help_text(self):
        return "同时包含字母和数字"


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def validate(self, password, user=None):
        try:
            super().validate(password, user)
        except ValidationError:
            raise ValidationError("这个密码太常见，容易被猜到 / this password is too common",
                                  code="password_too_common") from None

    def get_help_text(self):
        return "不能是常见密码"


def _personal_values(user) -> list[str]:
    """Values a password must not resemble: username, ID number, mobile (and parts of them)."""
    if user is None:
        return []
    values = [getattr(user, "username", "") or ""]
    values += list(getattr(user, "_personal_values", []) or [])
    person = getattr(user, "_person_cache", None)
    if person is None and getattr(user, "pk", None):
        try:
            person = user.person
        except Exception:  # noqa: BLE001 - staff and other users have no person
            person = None
    if person is not None:
        values += [person.id_number or "", person.mobile or ""]
    out: list[str] = []
    for value in values:
        value = "".join(str(value).split()).lower()
        if not value:
            continue
        out.append(value)
        if re.fullmatch(r"[0-9]{17}[0-9x]", value):
            out += [value[6:14], value[-6:]]  # birth date, last six
        elif re.fullmatch(r"1[3-9][0-9]{9}", value):
            out.append(value[-8:])
    return out


class PersonalDataValidator:
    """Refuses a password that contains, or closely resembles, the account's own identifiers."""

    max_similarity = 0.7

    def validate(self, password, user=None):
        plain = password.lower()
        for value in _personal_values(user):
            if len(value) >= 4 and (value in plain or (len(plain) >= 6 and plain in value)):
                break
            if SequenceMatcher(a=plain, b=value).quick_ratio() >= self.max_similarity and \
                    SequenceMatcher(a=plain, b=value).ratio() >= self.max_similarity:
                break
        else:
            return
        raise ValidationError("密码不能与身份证号码、手机号码或用户名相同或相近 / the password must not resemble "
                              "your ID number, mobile number or username", code="password_too_similar")

    def get_help_text(self):
        return "不能与身份证号码、手机号码或用户名相同或相近"


def validate(password: str, user=None) -> list[str]:
    """The policy's messages for ``password`` (empty when it is acceptable)."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []
