"""Security headers and audit attribution for every request."""

from __future__ import annotations

from yiwang.core import audit

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class AuditActorMiddleware:
    """Attribute the audit entries written during a request to the signed-in user, and to the
    enterprise they act for (``request.acting``, set by the identity acting middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        acting = getattr(request, "acting", None)
        on_behalf_of = f"enterprise:{acting.uscc}" if acting is not None else ""
        with audit.acting_as(audit.actor_name(user), on_behalf_of):
            return self.get_response(request)
