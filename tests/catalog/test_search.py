"""Chinese search: names, aliases, materials, conditions and themes; ranking; synonyms; facets."""

import pytest

from tests import factories
from yiwang.catalog import search, services
from yiwang.catalog.models import Synonym
from yiwang.catalog.search import Filters

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(org_a, org_b, admin_a, admin_a2, admin_b, platform_admin):
    factories.theme("kaiban", "企业开办", "legal")
    factories.theme("hunyin", "婚姻登记", "person")
    items = {
        "licence": factories.published_item(org_a, admin_a, admin_a2, theme_codes=["kaiban"]),
        "company": factories.published_item(
            org_a, admin_a, admin_a2, theme_codes=["kaiban"], name="企业设立登记", aliases="开公司|注册公司",
            item_type="07", result_name="营业执照", online_depth=["1", "2", "3", "4", "5"], visits=0,
            mats=factories.materials("公司登记（备案）申请书", "公司章程")),
        "licence_change": factories.published_item(
            org_a, admin_a, admin_a2, name="食品经营许可变更", aliases="",
            mats=factories.materials("变更申请书")),
        "marriage": factories.published_item(
            org_b, admin_b, platform_admin, theme_codes=["hunyin"], name="内地居民结婚登记", aliases="领结婚证",
            item_type="07", service_objects=["1"], conditions="男女双方须亲自到婚姻登记机关申请。",
            result_name="结婚证", mats=factories.materials("居民户口簿", "居民身份证")),
    }
    search.forget_synonyms()
    return {k: v.item_id for k, v in items.items()}


def ids(qs):
    return [e.item_id for e in qs]


def test_exact_name_ranks_first(catalog):
    result = ids(search.search("食品经营许可"))
    assert result[0] == catalog["licence"]
    assert set(result) == {catalog["licence"], catalog["licence_change"]}


def test_matches_in_materials_conditions_themes_and_results(catalog):
    assert ids(search.search("公司章程")) == [catalog["company"]]
    assert ids(search.search("亲自到婚姻登记机关")) == [catalog["marriage"]]
    assert catalog["marriage"] in ids(search.search("婚姻登记"))
    assert catalog["company"] in ids(search.search("营业执照"))


def test_one_and_two_character_queries_work(catalog):
    assert catalog["marriage"] in ids(search.search("婚"))
    assert ids(search.search("户口")) == [catalog["marriage"]]


def test_aliases_of_the_item_are_searched(catalog):
    assert ids(search.search("开公司")) == [catalog["company"]]
    assert ids(search.search("领结婚证")) == [catalog["marriage"]]


def test_everyday_words_expand_through_synonyms(catalog):
    assert ids(search.search("开饭店")) == [catalog["licence"]]  # the item's own alias
    Synonym.objects.create(word="开餐厅", expansions="食品经营许可")
    search.forget_synonyms()
    assert set(ids(search.search("开餐厅"))) == {catalog["licence"], catalog["licence_change"]}


def test_tokens_that_only_co_occur_do_not_match(catalog):
    # "许可经营" has the bigrams of 食品经营许可 scattered, never in this order.
    assert ids(search.search("营许可经")) == []


def test_several_terms_must_all_match(catalog):
    assert ids(search.search("食品 变更")) == [catalog["licence_change"]]


def test_filters_narrow_the_results(catalog, org_b):
    assert ids(search.search("", Filters(organization=org_b.id))) == [catalog["marriage"]]
    assert set(ids(search.search("", Filters(item_type="07")))) == {catalog["company"], catalog["marriage"]}
    assert ids(search.search("", Filters(theme="hunyin"))) == [catalog["marriage"]]
    assert ids(search.search("", Filters(object="person"))) == [catalog["marriage"]]
    assert ids(search.search("", Filters(depth=4))) == [catalog["company"]]
    assert len(ids(search.search("", Filters(region="390100000000")))) == 4
    assert ids(search.search("", Filters(region="390102000000"))) == []


def test_facets_count_the_matching_items(catalog):
    f = search.facets("")
    assert {r["value"]: r["count"] for r in f["type"]} == {"01": 2, "07": 2}
    assert {r["value"]: r["count"] for r in f["object"]} == {"person": 1, "legal": 3}
    assert {r["value"]: r["count"] for r in f["theme"]} == {"kaiban": 2, "hunyin": 1}
    assert {r["value"]: r["count"] for r in f["depth"]}[4] == 1
    assert f["region"][0]["count"] == 4
    narrowed = search.facets("", Filters(item_type="07"))
    # a facet ignores its own filter, so other types stay visible as alternatives
    assert {r["value"] for r in narrowed["type"]} == {"01", "07"}
    assert {r["value"]: r["count"] for r in narrowed["object"]} == {"person": 1, "legal": 1}


def test_a_new_published_version_replaces_the_indexed_text(catalog, admin_a, admin_a2):
    from yiwang.catalog.models import ServiceItem

    item = ServiceItem.objects.get(pk=catalog["licence_change"])
    draft = services.start_revision(admin_a, item)
    services.update_draft(admin_a, draft, data={"name": "食品经营许可事项变更"})
    services.publish_version(admin_a2, services.review_version(
        admin_a2, services.submit_version(admin_a, draft), approve=True))
    assert ids(search.search("事项变更")) == [catalog["licence_change"]]


def test_queries_without_searchable_characters_return_everything_in_order(catalog):
    assert len(ids(search.search("!!! ???"))) == 4


def test_a_name_reached_through_a_synonym_beats_an_alias_match(catalog, org_a, admin_a, admin_a2):
    sole = factories.published_item(org_a, admin_a, admin_a2, name="个人独资企业设立登记", aliases="开公司",
                                    item_type="07")
    Synonym.objects.create(word="开公司", expansions="企业设立登记")
    search.forget_synonyms()
    result = ids(search.search("开公司"))
    assert result[:2] == [catalog["company"], sole.item_id]
