"""Masking of personal data for display (脱敏): pages, API responses, exports and logs.

Every function takes anything (``None``, numbers, short or odd text), never raises, and returns
text safe to show to someone whose role does not need the full value. What is kept:

=================  =============================  ==========================================
value              kept                           example
=================  =============================  ==========================================
citizen ID         first 6 (region), last 4       ``110101********123X``
mobile phone       first 3, last 4                ``138****5678``
other phone        first 3, last 4                ``010*****5678``
name               first character (surname)      ``张**`` (``张三丰``), ``张*`` (``张三``)
address            first 6 characters, then 4 *   ``北京市朝阳区****``
credit code        first 8, last 2                ``91110108********1X``
=================  =============================  ==========================================

Masked characters are ``*``, one per hidden character, except in addresses (always four, so
the length of the address is not shown). A value too short to hide at least four characters
while keeping the usual head and tail is masked whole. ``None`` gives an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MASK = "*"
_MOBILE_RE = re.compile(r"^(\+?86[- ]?|0086[- ]?)?(1[3-9][0-9]{9})$")


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        return value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a failing __str__ must not break a page or a log
        return ""


MIN_HIDDEN = 4


def _keep(text: str, head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters.

    A value too short to hide at least ``MIN_HIDDEN`` characters that way is masked whole.
    """
    if len(text) < head + tail + MIN_HIDDEN:
        return MASK * len(text)
    return text[:head] + MASK * (len(text) - head - tail) + text[len(text) - tail:]


def mask_id_number(value: object) -> str:
    """Citizen ID (18 or 15 characters): region code and last four stay, the birth date goes.

    ``"110101199003071234"`` → ``"110101********1234"``.
    """
    text = _text(value).strip()
    return _keep(text, 6, 4)


def mask_phone(value: object) -> str:
    """Phone number: first 3 and last 4 stay. ``"13812345678"`` → ``"138****5678"``.

    A mobile number written with +86 keeps the prefix: ``"+8613812345678"`` → ``"+86138****5678"``.
    """
    text = _text(value).strip()
    mobile = _MOBILE_RE.match(text)
    if mobile:
        return (mobile.group(1) or "") + _keep(mobile.group(2), 3, 4)
    return _keep(text, 3, 4)


def mask_name(value: object) -> str:
    """Personal name: the surname (first character) stays. ``"张三丰"`` → ``"张**"``.

    This is the usual convention of public notices (公示); hiding the given name fully is
    safer than the ``张*丰`` form, which reveals the last character too.
    """
    text = _text(value).strip()
    if len(text) <= 1:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 1)


def mask_address(value: object) -> str:
    """Address: the first 6 characters (usually province and city or district) and ``****``.

    ``"北京市朝阳区建国路88号"`` → ``"北京市朝阳区****"``. A short address keeps half of itself.
    """
    text = _text(value).strip()
    if not text:
        return ""
    keep = min(6, len(text) // 2)
    return text[:keep] + MASK * 4


def mask_uscc(value: object) -> str:
    """Unified social credit code: authority, category and division (first 8) and last 2 stay.

    ``"91110108MA01ABCD1X"`` → ``"91110108********1X"``. Credit codes of companies are public,
    but those of individual businesses (个体工商户) point at a person, so they are masked too.
    """
    text = _text(value).strip()
    return _keep(text, 8, 2)


MASKERS: dict[str, Callable[[object], str]] = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "name": mask_name,
    "address": mask_address,
    "uscc": mask_uscc,
}


def shown(value: object, kind: str, *, full: bool = False) -> str:
    """The value as a page or API response should show it: masked unless ``full`` is granted.

    ``full`` is the caller's decision, from the viewer's role and purpose; the default is masked.
    """
    if full:
        return _text(value)
    return MASKERS[kind](value)
