"""Bounded search: pages, counts and facets without reading every match, in the reference order.

The caps are lowered here so that a few hundred generated items exercise every path: few
matches ranked in full, many matches walked in popularity order (with membership tested in SQL
or row by row), and name tiers too large to rank in full.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests import factories
from yiwang.catalog import search, services
from yiwang.catalog.models import SearchEntry, Synonym
from yiwang.catalog.search import Filters, SearchResults

pytestmark = pytest.mark.django_db

QUERIES = ["税", "户口", "护照", "营业执照", "登记", "许可", "食品 许可", "开饭店", "身份证", "证明", "zzz", "!!"]
FILTERS = [Filters(), Filters(item_type="01"), Filters(object="person"), Filters(object="legal"),
           Filters(theme="kaiban"), Filters(depth=2)]


@pytest.fixture
def catalog():
    call_command("generate_items", "400", "--seed", "3", verbosity=0)
    Synonym.objects.get_or_create(word="开饭店", defaults={"expansions": "食品经营许可|小餐饮"})
    search.forget_synonyms()
    yield
    search.forget_synonyms()


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def small_caps(monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 30)
    monkeypatch.setattr(search, "NAME_CAP", 8)


def reference(q: str, f: Filters) -> list[int]:
    return list(search.search(q, f).values_list("item_id", flat=True))


def page(q: str, f: Filters, start: int, stop: int) -> list[int]:
    return SearchResults(q, f).ids(start, stop)


@pytest.mark.parametrize("density", [0.0, 1.0])  # membership in SQL / tested row by row
def test_pages_follow_the_reference_order_on_every_path(catalog, small_caps, monkeypatch, density):
    monkeypatch.setattr(search, "PROBE_DENSITY", density)
    for q in QUERIES:
        for f in FILTERS:
            expected = reference(q, f)[:search.COUNT_CAP]
            got = page(q, f, 0, 7) + page(q, f, 7, 20) + page(q, f, 20, search.COUNT_CAP)
            assert got == expected, (q, f)


def test_the_default_caps_give_the_reference_order(catalog):
    for q in QUERIES:
        for f in FILTERS[:3]:
            assert page(q, f, 0, 40) == reference(q, f)[:40], (q, f)


def test_a_count_is_exact_up_to_the_cap_and_a_lower_bound_beyond(catalog, small_caps):
    for q in [q for q in QUERIES if search.split_terms(q)]:  # "!!" has no words: everything, counted
        total = len(reference(q, Filters()))
        results = SearchResults(q, Filters())
        assert results.count() == min(total, search.COUNT_CAP)
        assert results.count_exact == (total <= search.COUNT_CAP)


def test_counts_without_search_words_stay_exact(catalog, small_caps):
    results = SearchResults("", Filters(object="legal"))
    assert results.count() == SearchEntry.objects.filter(for_legal=True).count() > search.COUNT_CAP
    assert results.count_exact


def test_pages_end_at_the_cap(catalog, small_caps, anon):
    assert len(reference("登记", Filters())) > search.COUNT_CAP
    body = anon.get("/api/v1/items/", {"q": "登记", "page_size": 10}).json()
    assert body["count"] == search.COUNT_CAP and body["count_exact"] is False and body["pages"] == 3
    last = anon.get("/api/v1/items/", {"q": "登记", "page_size": 10, "page": 3}).json()
    assert [r["name"] for r in last["results"]]
    beyond = anon.get("/api/v1/items/", {"q": "登记", "page_size": 10, "page": 4})
    assert beyond.status_code == 400 and "page" in beyond.json()["fields"]


def test_the_api_says_when_a_count_is_exact(catalog, anon):
    body = anon.get("/api/v1/items/", {"q": "护照"}).json()
    assert body["count_exact"] is True and body["count"] == len(reference("护照", Filters()))
    assert list(body)[:2] == ["count", "count_exact"]


def test_the_portal_shows_a_lower_bound_as_n_plus(catalog, small_caps, client):
    html = client.get("/search/", {"q": "登记"}).content.decode()
    assert f"共找到 <strong>{search.COUNT_CAP}+</strong> 项服务" in html
    exact = client.get("/search/", {"q": "护照"}).content.decode()
    assert f"共找到 <strong>{len(reference('护照', Filters()))}</strong> 项服务" in exact


def test_facets_count_at_most_the_capped_matches(catalog, small_caps):
    broad = search.facets("登记")
    assert sum(r["count"] for r in broad["type"]) == search.COUNT_CAP
    narrow = search.facets("护照")
    matches = SearchEntry.objects.filter(item_id__in=reference("护照", Filters()))
    assert sum(r["count"] for r in narrow["type"]) == matches.count()


def test_the_name_index_follows_publishing_and_retirement(org_a, admin_a, admin_a2):
    item = factories.published_item(org_a, admin_a, admin_a2, name="犬只登记", aliases="狗证|养狗登记")
    assert page("狗证", Filters(), 0, 5) == [item.item_id]
    assert "狗证" in search.stored_names(item.item_id)
    draft = services.start_revision(admin_a, item.item)
    services.update_draft(admin_a, draft, data={"name": "犬只登记", "aliases": "养犬登记"})
    services.publish_version(admin_a2, services.review_version(
        admin_a2, services.submit_version(admin_a, draft), approve=True))
    assert page("狗证", Filters(), 0, 5) == []
    assert page("养犬", Filters(), 0, 5) == [item.item_id]
    services.retire_item(admin_a, item.item, reason="合并办理")
    assert page("养犬", Filters(), 0, 5) == [] and search.stored_names(item.item_id) == ""


def test_ranking_by_name_uses_the_name_index_not_every_match(catalog, small_caps):
    # A dense term: the first page holds the exact and prefix names, then names, then aliases.
    results = SearchResults("登记", Filters())
    rows = {e.item_id: e for e in results[0:20]}
    ranks = [search.rank_of(rows[i].name, rows[i].aliases, {"登记"}, ["登记"]) for i in results.ids(0, 20)]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] >= 400


def test_list_rows_are_what_the_row_serializer_gives(catalog, anon):
    from django.test import RequestFactory
    from rest_framework.request import Request

    from yiwang.catalog.api import ItemRowSerializer, ROW_COLUMNS, item_rows

    request = Request(RequestFactory().get("/api/v1/items/", {"q": "登记"}))
    entries = SearchResults("登记", Filters(), related=("item__basic_item", "version", "organization"),
                            only=ROW_COLUMNS)[0:20]
    assert item_rows(request, entries) == ItemRowSerializer(entries, many=True, context={"request": request}).data
    body = anon.get("/api/v1/items/", {"q": "登记"}).json()
    assert [r["implementation_code"] for r in body["results"]] == [e.item.implementation_code for e in entries]


def test_facets_of_few_matches_equal_the_grouped_counts_over_every_match(catalog):
    for q, f in [("护照", Filters()), ("户口", Filters(object="person")), ("食品 许可", Filters(item_type="01")),
                 ("身份证", Filters(theme="kaiban"))]:
        assert SearchResults(q, f).count_exact
        counted = search.facets(q, f)
        for facet, reset in [("type", {"item_type": ""}), ("object", {"object": ""}), ("theme", {"theme": ""})]:
            everything = search._facet_counts_sql(search.search(q, Filters(**{**vars(f), **reset})).order_by())
            expected = {k: v for k, v in everything[facet].items() if k and v}
            assert {r["value"]: r["count"] for r in counted[facet] if r["count"]} == expected, (q, f, facet)
