"""National identifier rules: citizen ID (GB 11643), unified social credit code (GB 32100),
organisation code (GB 11714), division codes, and service item codes.

Each ``check_*`` returns the normalised value or raises ``InvalidCode`` with a message in
Chinese first and English second. ``make_*`` builds a valid value from its parts.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings


class InvalidCode(ValueError):
    """A code that breaks its national rule."""


# GB/T 2260 province-level prefixes (including 71 台湾, 81 香港, 82 澳门).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)


def _provinces() -> frozenset[str]:
    extra = getattr(settings, "YIWANG_EXTRA_PROVINCES", []) if settings.configured else []
    return PROVINCE_CODES | frozenset(extra)


# ---------------------------------------------------------------- citizen ID (GB 11643)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")


def citizen_id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def check_citizen_id(value: str, *, today: dt.date | None = None) -> str:
    """Validate an 18-digit citizen ID; lower-case x is accepted and normalised to X."""
    if not isinstance(value, str):
        raise InvalidCode("身份证号码必须是文本 / ID number must be text")
    v = value.strip().upper()
    if len(v) != 18:
        raise InvalidCode("身份证号码应为18位 / ID number must have 18 characters")
    if not _ID_RE.match(v):
        raise InvalidCode("身份证号码前17位应为数字，末位为数字或X / first 17 must be digits, last a digit or X")
    if v[:2] not in _provinces():
        raise InvalidCode("身份证号码的地区码无效 / unknown region in ID number")
    try:
        birth = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise InvalidCode("身份证号码中的出生日期无效 / invalid birth date in ID number") from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1890:
        raise InvalidCode("身份证号码中的出生日期无效 / invalid birth date in ID number")
    if citizen_id_check_char(v[:17]) != v[17]:
        raise InvalidCode("身份证号码校验位错误 / ID number check digit is wrong")
    return v


def make_citizen_id(region6: str, birth: dt.date, sequence3: str) -> str:
    body = f"{region6}{birth:%Y%m%d}{sequence3}"
    return body + citizen_id_check_char(body)


# ------------------------------------------------- organisation code (GB 11714) and USCC (GB 32100)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
# Registering authority (position 1) and category (position 2), GB 32100 table 1.
USCC_CATEGORIES = {
    "1": "123" + "9", "2": "19", "3": "12345789", "4": "19", "5": "1239", "6": "129",
    "7": "129", "8": "19", "9": "123", "A": "19", "N": "12349", "Y": "1",
}


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, ORG_WEIGHTS))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    """Validate an 18-character unified social credit code."""
    if not isinstance(value, str):
        raise InvalidCode("统一社会信用代码必须是文本 / credit code must be text")
    v = value.strip().upper()
    if len(v) != 18:
        raise InvalidCode("统一社会信用代码应为18位 / credit code must have 18 characters")
    if not _USCC_RE.match(v):
        raise InvalidCode("统一社会信用代码含有不允许的字符（不含I、O、Z、S、V）/ credit code has characters outside its alphabet")
    if v[0] not in USCC_CATEGORIES or v[1] not in USCC_CATEGORIES[v[0]]:
        raise InvalidCode("统一社会信用代码的登记管理部门或机构类别无效 / unknown registering authority or category")
    if not re.fullmatch(r"[0-9]{6}", v[2:8]) or v[2:4] not in _provinces():
        raise InvalidCode("统一社会信用代码的行政区划码无效 / invalid division code in credit code")
    body = v[8:16]
    if any(c not in _ORG_VALUE for c in body) or org_code_check_char(body) != v[16]:
        raise InvalidCode("统一社会信用代码中的组织机构代码校验位错误 / organisation code check is wrong")
    if uscc_check_char(v[:17]) != v[17]:
        raise InvalidCode("统一社会信用代码校验位错误 / credit code check character is wrong")
    return v


def make_uscc(authority: str, category: str, division6: str, org_body8: str) -> str:
    """Build a valid USCC; ``org_body8`` uses digits and upper-case letters (not I/O/Z/S/V)."""
    first17 = f"{authority}{category}{division6}{org_body8}{org_code_check_char(org_body8)}"
    return first17 + uscc_check_char(first17)


# ---------------------------------------------------------------- division codes (12 digits)
REGION_LEVELS = {1: "省", 2: "市", 3: "区县", 4: "乡镇街道", 5: "村社区"}


def check_division_code(value: str) -> str:
    v = (value or "").strip()
    if not re.fullmatch(r"[0-9]{12}", v):
        raise InvalidCode("行政区划代码应为12位数字 / division code must be 12 digits")
    if v[:2] not in _provinces():
        raise InvalidCode("行政区划代码的省级代码无效 / unknown province in division code")
    return v


def division_level(code: str) -> int:
    """Level 1–5 from the trailing zeros of a 12-digit statistical division code."""
    if code[2:] == "0" * 10:
        return 1
    if code[4:] == "0" * 8:
        return 2
    if code[6:] == "0" * 6:
        return 3
    if code[9:] == "000":
        return 4
    return 5


def division_prefix(code: str) -> str:
    """The significant prefix of a division code (used to match it and everything below it)."""
    return code[: {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}[division_level(code)]]


def division_parent(code: str) -> str | None:
    level = division_level(code)
    if level == 1:
        return None
    keep = {2: 2, 3: 4, 4: 6, 5: 9}[level]
    return code[:keep].ljust(12, "0")


# ---------------------------------------------------------------- service item codes
_BASIC_RE = re.compile(r"^[0-9]{12}$")
_IMPL_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}[0-9][0-9A-Z]{12}$")


def check_basic_code(value: str) -> str:
    """12 characters: 2 scope + 4 department + 3 main item + 3 sub-item."""
    v = (value or "").strip()
    if not _BASIC_RE.match(v):
        raise InvalidCode("基本编码应为12位数字（2位范围+4位部门+3位主项+3位子项）/ basic code must be 12 digits")
    if v[:2] != "00" and v[:2] not in _provinces():
        raise InvalidCode("基本编码的范围码无效 / basic code scope must be 00 or a province code")
    if v[6:9] == "000":
        raise InvalidCode("基本编码的主项码不能为000 / main item number cannot be 000")
    return v


def make_basic_code(scope: str, department4: str, main: int, sub: int = 0) -> str:
    return check_basic_code(f"{scope}{department4}{main:03d}{sub:03d}")


def check_implementation_code(value: str) -> str:
    """31 characters: implementing organisation's USCC + level digit + basic code."""
    v = (value or "").strip().upper()
    if len(v) != 31 or not _IMPL_RE.match(v):
        raise InvalidCode("实施编码应为31位：18位统一社会信用代码+1位层级+12位基本编码 / implementation code must be 31 characters")
    check_uscc(v[:18])
    if v[18] not in "1234567":
        raise InvalidCode("实施编码的行使层级位无效 / level digit must be 1–7")
    check_basic_code(v[19:])
    return v


def make_implementation_code(uscc: str, level: int, basic_code: str) -> str:
    return check_implementation_code(f"{uscc}{level}{basic_code}")
