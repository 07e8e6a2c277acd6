"""Bilingual messages: Chinese first, English second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation


# Messages that come without a translation of their own.
UNTRANSLATED = {"No data provided": "请求内容为空 / no data provided"}


def pair_messages(zh: Any, en: Any) -> Any:
    """Pair the Chinese and English renderings of the same error structure ("中文 / English")."""
    if isinstance(zh, dict):
        en = en if isinstance(en, dict) else {}
        return {k: pair_messages(v, en.get(k)) for k, v in zh.items()}
    if isinstance(zh, list):
        en = en if isinstance(en, list) else []
        return [pair_messages(z, en[i] if i < len(en) else None) for i, z in enumerate(zh)]
    z, e = str(zh), "" if en is None else str(en)
    if z in UNTRANSLATED:
        return UNTRANSLATED[z]
    return z if not e or e == z or "/ " in z else f"{z} / {e}"


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def bilingual_validation(check: Callable[[], None]) -> dict[str, list[str]]:
    """Run a Django validation callable in Chinese and, only if it fails, again in English."""
    with translation.override("zh-hans"):
        try:
            check()
            return {}
        except ValidationError as exc:
            zh = _messages(exc)
    with translation.override("en"):
        try:
            check()
            en = {}
        except ValidationError as exc:
            en = _messages(exc)
    return pair_messages(zh, en)
