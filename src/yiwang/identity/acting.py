"""Acting context: whether a signed-in person acts for themselves or for an enterprise.

The choice lives in the session (``session["acting_for"]`` = the enterprise's credit code, absent
for oneself). The middleware checks it again on every request — an authorisation revoked or
expired since the switch ends it at once — and exposes it as ``request.acting`` (an Enterprise or
None). ``AuditActorMiddleware`` then records every audit entry of the request as written on
behalf of ``"enterprise:<uscc>"``.
"""

from __future__ import annotations

from django.db import transaction

from yiwang.core import audit
from yiwang.core.errors import NotPermitted
from yiwang.identity.models import Enterprise

SESSION_KEY = "acting_for"


def on_behalf_of(enterprise: Enterprise | None) -> str:
    """How the audit trail names the party acted for."""
    return f"enterprise:{enterprise.uscc}" if enterprise is not None else ""


def current_enterprise(request) -> Enterprise | None:
    """The enterprise the request acts for, checked against today's authorisations."""
    from yiwang.identity.services_enterprise import can_act_for
    from yiwang.identity.services_levels import person_of

    session = getattr(request, "session", None)
    if session is None:
        return None
    uscc = session.get(SESSION_KEY)
    if not uscc:
        return None
    person = person_of(getattr(request, "user", None))
    enterprise = Enterprise.objects.filter(uscc=uscc).first() if person is not None else None
    if enterprise is None or not can_act_for(person, enterprise):
        session.pop(SESSION_KEY, None)
        return None
    return enterprise


def switch_acting(request, uscc: str) -> Enterprise | None:
    """切换办事身份: act for oneself (empty ``uscc``) or for an enterprise one may act for today."""
    from yiwang.identity.services_enterprise import acting_choices
    from yiwang.identity.services_levels import person_of

    person = person_of(request.user)
    if person is None:
        raise NotPermitted("仅个人用户可以切换办事身份 / only citizens can switch identity")
    uscc = (uscc or "").strip().upper()
    previous = request.session.get(SESSION_KEY, "")
    target = None
    if uscc:
        target = next((c.enterprise for c in acting_choices(person) if c.uscc == uscc), None)
        if target is None:
            raise NotPermitted("您目前不能代表该企业办事（未授权、授权已撤销或已过期）/ "
                               "you may not act for this enterprise")
    # The switch itself is recorded as the first act on behalf of the new party.
    with audit.acting_as(audit.actor_name(request.user), on_behalf_of(target)), transaction.atomic():
        audit.record("identity.acting.switch", "Person", person.pk,
                     detail={"from": previous or "self", "to": target.uscc if target else "self"})
    if target is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = target.uscc
    request.acting = target
    return target


class ActingMiddleware:
    """Sets ``request.acting``; must come after the session and authentication middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.acting = current_enterprise(request)
        return self.get_response(request)
