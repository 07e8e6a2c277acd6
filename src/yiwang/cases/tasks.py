"""Background work of case handling: message delivery and the time-limit sweep."""

from __future__ import annotations

import logging

from yiwang.core import jobs

log = logging.getLogger(__name__)


@jobs.job(max_attempts=6, backoff_seconds=30)
def deliver_message(message_id: int) -> None:
    """Send an in-site message on by SMS to the citizen's mobile (staff read theirs on the workbench)."""
    from yiwang.cases.models import Message
    from yiwang.identity import sms

    msg = Message.objects.select_related("user").filter(pk=message_id).first()
    person = getattr(msg.user, "person", None) if msg is not None else None
    if person is None or not person.mobile:
        return
    sms.send(person.mobile, f"【一网通办】{msg.text}")


@jobs.periodic(every_seconds=300)
def sweep_time_limits() -> None:
    """Yellow and red warnings for cases close to or past their due date (idempotent)."""
    from yiwang.cases import services

    changed = services.sweep_time_limits()
    if any(changed.values()):
        log.info("time-limit sweep: %s", changed)
