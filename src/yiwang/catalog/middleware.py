"""Whole-answer cache for the public search API.

``GET /api/v1/items/`` answers the same to everyone, so a JSON answer is kept under the catalog
revision (see ``yiwang.catalog.search``) and a repeated query is served before sessions,
authentication and the API framework run: one revision read and one cache read. Answers are
never older than the catalog, because every publish or retirement advances the revision.
"""

from __future__ import annotations

from django.http import HttpResponse

from yiwang.catalog import search

CACHED_PATHS = frozenset({"/api/v1/items/"})


def _prefers_html(request) -> bool:
    """A browser asking for the browsable API (its first choice is HTML) is not served from here."""
    first = request.META.get("HTTP_ACCEPT", "").split(",")[0].strip().lower()
    return first.startswith("text/html") or request.GET.get("format") == "api"


class PublicSearchAnswerCache:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (request.method != "GET" or request.path not in CACHED_PATHS
                or "HTTP_AUTHORIZATION" in request.META or _prefers_html(request)):
            return self.get_response(request)
        key = search.response_cache_key(request.get_host(), request.GET)
        body = search.cache_get(key)
        if body is not None:
            response = HttpResponse(body, content_type="application/json")
            response["X-Cache"] = "hit"
            return response
        response = self.get_response(request)
        if response.status_code == 200 and response.get("Content-Type", "").startswith("application/json"):
            search.cache_set(key, response.content)
        return response
