"""Cached search answers never outlive the catalog revision they were computed for."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from yiwang.catalog import search, services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.YIWANG_SEARCH_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def _names(client, q):
    return [r["name"] for r in client.get("/api/v1/items/", {"q": q}).json()["results"]]


def test_repeated_query_is_answered_from_the_cache(client, published):
    assert _names(client, "食品") == ["食品经营许可"]
    with CaptureQueriesContext(connection) as ctx:
        assert _names(client, "食品") == ["食品经营许可"]
    assert [q["sql"] for q in ctx.captured_queries] == [
        q["sql"] for q in ctx.captured_queries if "catalog_catalogrevision" in q["sql"]]  # one revision read
    assert client.get("/api/v1/items/", {"q": "食品"})["X-Cache"] == "hit"


def test_cached_answers_keep_the_security_headers(client, published):
    client.get("/api/v1/items/", {"q": "食品"})
    response = client.get("/api/v1/items/", {"q": "食品"})
    assert response["X-Cache"] == "hit"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_bad_requests_and_browsable_pages_are_not_cached(client, published):
    assert client.get("/api/v1/items/", {"type": "99"}).status_code == 400
    assert "X-Cache" not in client.get("/api/v1/items/", {"type": "99"})
    client.get("/api/v1/items/", HTTP_ACCEPT="text/html")
    assert "X-Cache" not in client.get("/api/v1/items/", HTTP_ACCEPT="text/html")


def test_publishing_makes_the_new_item_visible_at_once(client, published, org_a, admin_a, admin_a2):
    assert _names(client, "食品") == ["食品经营许可"]
    factories.published_item(org_a, admin_a, admin_a2, name="食品生产许可", aliases="")
    assert sorted(_names(client, "食品")) == ["食品生产许可", "食品经营许可"]


def test_retiring_removes_the_item_at_once(client, published, admin_a):
    assert _names(client, "食品") == ["食品经营许可"]
    services.retire_item(admin_a, published.item, reason="依据废止")
    assert _names(client, "食品") == []
    assert search.cached_facets("食品")["type"] == []
