"""Background work of data exchange: sending webhook deliveries."""

from __future__ import annotations

from yiwang.core import jobs
from yiwang.exchange import webhooks


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx (or not at all); the jobs layer retries later."""


@jobs.job(max_attempts=webhooks.MAX_ATTEMPTS, backoff_seconds=30, max_backoff_seconds=6 * 3600)
def deliver_webhook(delivery_id: int) -> None:
    """POST one delivery, signed; a failed request raises so that the jobs layer retries it with
    growing delays (after the last attempt the job, like the delivery, ends as failed).

    The ``immediate`` backend has no one to retry: there the failed attempt stays in the
    delivery log (pending) and can be resent from the office page.
    """
    from yiwang.exchange.models import WebhookDelivery

    delivery = webhooks.attempt(delivery_id)
    failed = (delivery is not None and getattr(delivery, "sent_now", False)
              and delivery.status != WebhookDelivery.Status.DELIVERED)
    if failed and jobs.backend() != "immediate":
        raise DeliveryFailed(f"webhook delivery {delivery_id} attempt {delivery.attempts}: {delivery.last_error}")
