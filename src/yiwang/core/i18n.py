"""Bilingual messages: Chinese first, English second."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils import translation


def bilingual_validation(check: Callable[[], None]) -> dict[str, list[str]]:
    """Run a Django validation callable in Chinese and in English; merge the messages per field."""
    results = {}
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            try:
                check()
                return {}
            except ValidationError as exc:
                results[lang] = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    merged: dict[str, list[str]] = {}
    for field, zh in results["zh-hans"].items():
        en = results["en"].get(field, [])
        merged[field] = [f"{z} / {e}" if i < len(en) and en[i] != z else z
                         for i, (z, e) in enumerate(zip(zh, en + [""] * len(zh)))]
    return merged
