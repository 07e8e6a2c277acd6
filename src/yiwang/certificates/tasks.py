"""Background work of certificates: the expiry sweep (到期失效)."""

from __future__ import annotations

import logging

from yiwang.core import jobs

log = logging.getLogger(__name__)


@jobs.periodic(every_seconds=3600)
def expire_certificates() -> None:
    """Certificates past their valid-to date become 05 失效 (idempotent; online verification follows at once)."""
    from yiwang.certificates import services

    expired = services.expire_due()
    if expired:
        log.info("certificate expiry sweep: %s expired", expired)
from yiwang.certificates import imports  # noqa: E402,F401  (registers the historic-import job)
