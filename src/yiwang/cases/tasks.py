"""Background work of case handling: message delivery and the time-limit sweep."""

from __future__ import annotations

import logging

from yiwang.core import jobs

log = logging.getLogger(__name__)


@jobs.job(max_attempts=6, backoff_seconds=30)
def deliver_message(message_id: int) -> None:
    """Send an in-site message on: by SMS to a citizen's mobile, and by e-mail to any account with an
    e-mail address (staff read theirs on the workbench too). Safe to run twice: a repeat sends again,
    which is the lesser harm than losing a notice."""
    from django.conf import settings
    from django.core.mail import send_mail

    from yiwang.cases.models import Message
    from yiwang.identity import sms

    msg = Message.objects.select_related("user").filter(pk=message_id).first()
    if msg is None:
        return
    person = getattr(msg.user, "person", None)
    if person is not None and person.mobile:
        sms.send(person.mobile, f"【一网通办】{msg.text}")
    if msg.user.email:
        send_mail(f"{settings.YIWANG_PLATFORM_NAME}：办件通知", msg.text, None, [msg.user.email])


@jobs.periodic(every_seconds=300)
def sweep_time_limits() -> None:
    """Yellow and red warnings for cases close to or past their due date (idempotent)."""
    from yiwang.cases import services

    changed = services.sweep_time_limits()
    if any(changed.values()):
        log.info("time-limit sweep: %s", changed)
