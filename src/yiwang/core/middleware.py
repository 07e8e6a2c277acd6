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


class SessionTouchMiddleware:
    """Inactivity timeout without writing the session on every request.

    A session expires ``SESSION_COOKIE_AGE`` seconds after it was last saved. Instead of saving it
    on every request (one UPDATE and one commit each), a request saves it when it was last
    touched more than ``YIWANG_SESSION_TOUCH_SECONDS`` ago (default 60), so the timeout is kept to
    within that margin. Must come right after the session middleware.
    """

    KEY = "_touched"

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.every = int(getattr(settings, "YIWANG_SESSION_TOUCH_SECONDS", 60))

    def __call__(self, request):
        import time

        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty() and session.session_key:
            try:
                now = int(time.time())
                # Saved anyway (sign-in, a change): note the time; else save when the last is old.
                if session.modified or now - int(session.get(self.KEY, 0)) >= self.every:
                    session[self.KEY] = now  # marks it modified: saved with a new expiry
            except Exception:  # noqa: BLE001 - a session backend error must not fail the page
                pass
        return response
