"""The synthetic item generator behind the benchmarks: valid, published, searchable, audited."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from tests import factories
from yiwang.catalog import search, synthetic
from yiwang.catalog.models import ItemVersion, SearchEntry, ServiceItem
from yiwang.core import audit, validators
from yiwang.core.models import AuditEntry, Organization

pytestmark = pytest.mark.django_db


def _search_row(item_id: int) -> dict:
    entry = SearchEntry.objects.get(item_id=item_id)
    return {"index": search.stored_index(item_id), "name": entry.name, "aliases": entry.aliases,
            "region_code": entry.region_code, "item_type": entry.item_type, "for_person": entry.for_person,
            "for_legal": entry.for_legal, "online_level": entry.online_level, "popularity": entry.popularity,
            "themes": sorted(entry.themes.values_list("code", flat=True))}


def test_fifty_items_are_published_with_valid_codes_and_materials():
    call_command("generate_items", "50", "--seed", "7", verbosity=0)

    items = list(ServiceItem.objects.select_related("published_version", "basic_item", "organization"))
    assert len(items) == 50
    for item in items:
        assert validators.check_implementation_code(item.implementation_code) == item.implementation_code
        assert validators.check_basic_code(item.basic_item.basic_code) == item.basic_item.basic_code
        assert item.implementation_code.startswith(item.organization.uscc)
        assert item.implementation_code.endswith(item.basic_item.basic_code)
        version = item.published_version
        assert version is not None and version.status == ItemVersion.Status.PUBLISHED
        assert version.published_at is not None
        assert 2 <= version.materials.count() <= 6
        assert version.promised_limit_days <= version.statutory_limit_days
    assert ItemVersion.objects.exclude(status=ItemVersion.Status.PUBLISHED).count() == 0


def test_search_rows_are_exactly_what_publishing_would_index():
    synthetic.generate(50, seed=3)

    for version in ItemVersion.objects.select_related("item")[:50]:
        generated = _search_row(version.item_id)
        search.index_version(version)
        assert _search_row(version.item_id) == generated


def test_generated_items_are_found_by_search():
    synthetic.generate(50, seed=5)

    version = ItemVersion.objects.order_by("id").first()
    hits = list(search.search(version.name).values_list("item_id", flat=True))
    assert version.item_id in hits
    assert search.search("营业执照").exists() or search.search("申请表").exists()


def test_one_audit_entry_records_the_batch_and_the_chain_verifies():
    before = AuditEntry.objects.count()
    synthetic.generate(50, seed=1)

    entries = AuditEntry.objects.filter(action="catalog.synthetic.generate")
    assert AuditEntry.objects.count() == before + 1
    assert entries.count() == 1
    assert entries[0].detail["count"] == 50
    assert audit.verify().ok


def test_same_seed_gives_same_items():
    def run() -> list[tuple]:
        with transaction.atomic():
            synthetic.generate(30, seed=11)
            rows = list(ServiceItem.objects.order_by("implementation_code").values_list(
                "implementation_code", "published_version__name", "published_version__item_type"))
            transaction.set_rollback(True)
        return rows

    assert run() == run()


def test_existing_departments_implement_the_items(org_a, org_b):
    result = synthetic.generate(40, seed=2)

    assert result.organizations_created == 0
    assert set(ServiceItem.objects.values_list("organization_id", flat=True)) <= {org_a.id, org_b.id}
    assert Organization.objects.count() == 2


def test_a_second_run_adds_items_without_code_collisions():
    synthetic.generate(30, seed=1)
    synthetic.generate(30, seed=1)

    codes = list(ServiceItem.objects.values_list("implementation_code", flat=True))
    assert len(codes) == len(set(codes)) == 60
    pairs = list(ServiceItem.objects.values_list("organization_id", "basic_item_id"))
    assert len(pairs) == len(set(pairs))


def test_departments_can_still_create_items_after_generation(org_a, admin_a, admin_a2):
    synthetic.generate(30, seed=4)

    version = factories.published_item(org_a, admin_a, admin_a2)

    assert version.status == ItemVersion.Status.PUBLISHED
    assert not synthetic._is_synthetic_basic(version.item.basic_item.basic_code)


def test_count_below_one_is_refused():
    with pytest.raises(CommandError, match="数量"):
        call_command("generate_items", "0", verbosity=0)
    assert not ServiceItem.objects.exists()
