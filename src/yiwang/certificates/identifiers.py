"""证照标识 (GB/T 36904): build and check certificate identifiers.

``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``, e.g.
``1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U``:

- type code: the defining organisation's credit code (18) and a 3-digit sequence;
- issuer code: the issuing organisation's credit code;
- serial: ``[0-9A-Z]+`` (here: the year and a 7-digit yearly sequence per type);
- version: 3 digits, ``001`` for the first issue;
- check: ISO/IEC 7064 MOD 37,36 over type + issuer + serial + version without the dots.
"""

from __future__ import annotations

import dataclasses
import re

PREFIX = "1.2.156.3005.2"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PART_RE = re.compile(r"^[0-9A-Z]+$")
_TYPE_RE = re.compile(r"^[0-9A-Z]{18}[0-9]{3}$")
_ISSUER_RE = re.compile(r"^[0-9A-Z]{18}$")
_VERSION_RE = re.compile(r"^[0-9]{3}$")


class InvalidIdentifier(ValueError):
    """The text is not a well-formed identifier, or its check character does not match."""


def check_char(body: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character of ``body`` (characters 0–9, A–Z)."""
    p = 36
    for ch in body:
        v = ALNUM.index(ch)
        s = (p + v) % 36 or 36
        p = (2 * s) % 37
    return ALNUM[(37 - p) % 36]


@dataclasses.dataclass(frozen=True)
class Identifier:
    type_code: str
    issuer_code: str
    serial: str
    version: int

    def __str__(self) -> str:
        return build(self.type_code, self.issuer_code, self.serial, self.version)


def build(type_code: str, issuer_code: str, serial: str, version: int = 1) -> str:
    """The full identifier with its check character; raises :class:`InvalidIdentifier` on bad parts."""
    type_code, issuer_code, serial = type_code.upper(), issuer_code.upper(), serial.upper()
    if not _TYPE_RE.match(type_code):
        raise InvalidIdentifier("证照类型代码应为18位统一社会信用代码加3位数字 / type code: USCC + 3 digits")
    if not _ISSUER_RE.match(issuer_code):
        raise InvalidIdentifier("颁发机构代码应为18位统一社会信用代码 / issuer code: 18-character USCC")
    if not _PART_RE.match(serial):
        raise InvalidIdentifier("序列号只能由数字和大写字母组成 / serial: digits and capital letters only")
    if not 1 <= int(version) <= 999:
        raise InvalidIdentifier("版本号应为 001–999 / version: 001–999")
    version_text = f"{int(version):03d}"
    check = check_char(type_code + issuer_code + serial + version_text)
    return f"{PREFIX}.{type_code}.{issuer_code}.{serial}.{version_text}.{check}"


def parse(text: str) -> Identifier:
    """Split and check an identifier; raises :class:`InvalidIdentifier` with the reason."""
    value = (text or "").strip().upper()
    if not value.startswith(PREFIX + "."):
        raise InvalidIdentifier(f"证照标识应以 {PREFIX}. 开头 / identifier must start with {PREFIX}.")
    parts = value[len(PREFIX) + 1:].split(".")
    if len(parts) != 5:
        raise InvalidIdentifier("证照标识应有类型代码、颁发机构代码、序列号、版本号和校验位五段 / "
                                "identifier must have five parts after the prefix")
    type_code, issuer_code, serial, version_text, check = parts
    if not _TYPE_RE.match(type_code):
        raise InvalidIdentifier("证照类型代码格式不正确 / malformed type code")
    if not _ISSUER_RE.match(issuer_code):
        raise InvalidIdentifier("颁发机构代码格式不正确 / malformed issuer code")
    if not _PART_RE.match(serial):
        raise InvalidIdentifier("序列号格式不正确 / malformed serial")
    if not _VERSION_RE.match(version_text) or version_text == "000":
        raise InvalidIdentifier("版本号格式不正确 / malformed version")
    if len(check) != 1 or check != check_char(type_code + issuer_code + serial + version_text):
        raise InvalidIdentifier("校验位不正确，证照标识可能有误 / check character does not match")
    return Identifier(type_code, issuer_code, serial, int(version_text))


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidIdentifier:
        return False
    return True


def serial_for(year: int, sequence: int) -> str:
    """Serial of the ``sequence``-th certificate of a type in ``year``: ``2026`` + 7 digits."""
    return f"{year:04d}{sequence:07d}"
