"""Outgoing text messages (短信): one function, ``send``, and pluggable backends.

``settings.YIWANG_SMS_BACKEND`` names the backend class by dotted path. A backend is any class
with a no-argument constructor and a ``send(mobile, text)`` method that raises
:class:`SmsNotSent` when the gateway refuses the message. Two are built in:

- :class:`OutboxBackend` (the default) keeps every message in the ``SmsMessage`` table, where
  the demo and the tests read them (see ``docs/identity.md``).
- :class:`LogBackend` writes one log line per message with the number masked and without the
  text (the text carries a one-time code).

A real gateway is a third class; see ``docs/identity.md``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from yiwang.core.errors import DomainError
from yiwang.core.masking import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "yiwang.identity.sms.OutboxBackend"


class SmsNotSent(DomainError):
    """The gateway did not accept the message (network, quota, blocked number)."""

    status = 503
    code = "sms_unavailable"


class SmsBackend(Protocol):
    def send(self, mobile: str, text: str) -> None: ...


class OutboxBackend:
    """Keeps messages in the database instead of sending them (embedded mode, demo, tests)."""

    def send(self, mobile: str, text: str) -> None:
        from yiwang.identity.models import SmsMessage

        SmsMessage.objects.create(mobile=mobile, text=text[:300])


class LogBackend:
    """Writes a log line per message: masked number and length only, never the text."""

    def send(self, mobile: str, text: str) -> None:
        logger.info("SMS to %s (%d characters)", mask_phone(mobile), len(text))


@lru_cache(maxsize=8)
def _backend_class(path: str) -> type:
    return import_string(path)


def backend() -> SmsBackend:
    """A new instance of the configured backend."""
    path = getattr(settings, "YIWANG_SMS_BACKEND", "") or DEFAULT_BACKEND
    return _backend_class(path)()


def send(mobile: str, text: str) -> None:
    """Send ``text`` to ``mobile`` through the configured backend.

    Raises :class:`SmsNotSent` if the backend fails; callers inside a transaction then roll back
    whatever depended on the message (e.g. the stored one-time code).
    """
    try:
        backend().send(mobile, text)
    except SmsNotSent:
        raise
    except Exception as exc:
        logger.warning("SMS to %s failed: %s", mask_phone(mobile), type(exc).__name__)
        raise SmsNotSent("短信发送失败，请稍后再试 / the text message could not be sent, try again later") from exc
