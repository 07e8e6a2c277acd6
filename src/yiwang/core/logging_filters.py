"""A logging filter that masks citizen ID numbers and mobile numbers in every log line.

A safety net, not a licence: code must still not log personal data. Install it on the handlers
(a filter on a logger does not see records propagated from child loggers)::

    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"personal_data": {"()": "yiwang.core.logging_filters.PersonalDataFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["personal_data"]}},
        "root": {"handlers": ["console"], "level": "WARNING"},
    }

What it recognises: 18-character citizen IDs that pass the GB 11643 checks (region, birth
date, check character) and mainland mobile numbers ``1[3-9]`` + 9 digits (optionally with
+86), each standing alone (not part of a longer run of digits). Other numbers are left alone.
"""

from __future__ import annotations

import logging
import re

from yiwang.core.masking import mask_id_number, mask_phone
from yiwang.core.validators import InvalidCode, check_citizen_id

_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9+])((?:\+86|0086|86)[- ]?)?(1[3-9][0-9]{9})(?![0-9])")


def _mask_id_match(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        check_citizen_id(candidate)
    except InvalidCode:
        return candidate
    return mask_id_number(candidate)


def _mask_mobile_match(match: re.Match[str]) -> str:
    return (match.group(1) or "") + mask_phone(match.group(2))


def redact(text: str) -> str:
    """``text`` with every recognised ID number and mobile number masked."""
    if not text or not any(c.isdigit() for c in text):
        return text
    return _MOBILE_RE.sub(_mask_mobile_match, _ID_RE.sub(_mask_id_match, text))


class PersonalDataFilter(logging.Filter):
    """Masks personal data in the message, its arguments, and the attached traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: the handler reports it
            return True
        redacted = redact(message)
        if redacted != message:
            # The arguments are folded into the message so no formatter can print them raw.
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
