"""The staff item list (事项清单) reads columns kept on the item: they follow every version change,
and the page costs the same few queries however many items there are."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog import services, synthetic
from yiwang.catalog.models import ItemVersion, ServiceItem
from yiwang.core.errors import Conflict, NotPermitted
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db

OPEN = ("draft", "submitted", "reviewed")


def from_versions(item: ServiceItem) -> dict:
    """What the list columns must say, worked out from the versions themselves."""
    versions = list(ItemVersion.objects.filter(item=item).order_by("-number"))
    latest = versions[0] if versions else None
    open_v = next((v for v in versions if v.status in OPEN), None)
    return {"latest_name": latest.name if latest else "", "latest_type": latest.item_type if latest else "",
            "latest_updated_at": latest.updated_at if latest else None,
            "open_status": open_v.status if open_v else "", "open_number": open_v.number if open_v else None}


def stored(item: ServiceItem) -> dict:
    return ServiceItem.objects.filter(pk=item.pk).values(*services.LISTING_FIELDS).get()


def assert_in_step(item: ServiceItem) -> dict:
    columns = stored(item)
    assert columns == from_versions(item)
    return columns


# ----------------------------------------------------------------------------- the columns
def test_list_columns_follow_every_step_of_the_lifecycle(org_a, admin_a, admin_a2):
    draft = services.create_item(admin_a, organization=org_a, data=factories.item_data(name="食品经营许可"),
                                 materials=factories.materials())
    item = draft.item
    assert assert_in_step(item) == {**from_versions(item), "latest_name": "食品经营许可", "latest_type": "01",
                                     "open_status": "draft", "open_number": 1}

    before = stored(item)["latest_updated_at"]
    draft = services.update_draft(admin_a, draft, data={"name": "食品经营许可（新办）", "item_type": "20"},
                                  expected_lock=draft.lock_version)
    columns = assert_in_step(item)
    assert (columns["latest_name"], columns["latest_type"]) == ("食品经营许可（新办）", "20")
    assert columns["latest_updated_at"] >= before

    draft = services.submit_version(admin_a, draft)
    assert assert_in_step(item)["open_status"] == "submitted"

    draft = services.review_version(admin_a2, draft, approve=False, opinion="请补充设定依据")
    assert assert_in_step(item)["open_status"] == "draft"

    draft = services.submit_version(admin_a, draft)
    draft = services.review_version(admin_a2, draft, approve=True, opinion="同意")
    assert assert_in_step(item)["open_status"] == "reviewed"

    services.publish_version(admin_a2, draft)
    columns = assert_in_step(item)
    assert (columns["open_status"], columns["open_number"]) == ("", None)
    assert columns["latest_name"] == "食品经营许可（新办）"

    revision = services.start_revision(admin_a, item)
    columns = assert_in_step(item)
    assert (columns["open_status"], columns["open_number"]) == ("draft", 2)

    services.update_draft(admin_a, revision, data={"name": "食品经营许可（变更）"}, expected_lock=revision.lock_version)
    assert assert_in_step(item)["latest_name"] == "食品经营许可（变更）"

    retired = services.retire_item(admin_a, item, reason="职能调整")
    columns = assert_in_step(item)
    assert (columns["open_status"], columns["open_number"]) == ("", None)
    assert retired.open_status == "" and retired.latest_name == "食品经营许可（变更）"


def test_a_refused_change_leaves_the_columns_as_they_were(org_a, admin_a, admin_b):
    draft = services.create_item(admin_a, organization=org_a, data=factories.item_data(),
                                 materials=factories.materials())
    columns = stored(draft.item)
    with pytest.raises(NotPermitted):
        services.update_draft(admin_b, draft, data={"name": "别的名称"})
    with pytest.raises(Conflict):
        services.update_draft(admin_a, draft, data={"name": "别的名称"}, expected_lock=draft.lock_version + 5)
    assert stored(draft.item) == columns == from_versions(draft.item)


def test_the_migration_fills_the_columns_of_existing_items(published, org_a, admin_a):
    services.start_revision(admin_a, published.item)
    other = services.create_item(admin_a, organization=org_a, data=factories.item_data(name="食品生产许可"),
                                 materials=factories.materials())
    ServiceItem.objects.update(latest_name="", latest_type="", latest_updated_at=None, open_status="",
                               open_number=None)

    migration = importlib.import_module("yiwang.catalog.migrations.0004_item_listing_fields")
    migration.fill_listing_fields(apps, None)

    assert assert_in_step(published.item)["open_number"] == 2
    assert assert_in_step(other.item)["latest_name"] == "食品生产许可"


def test_generated_items_carry_their_list_columns():
    synthetic.generate(20, seed=11)

    for item in ServiceItem.objects.all():
        columns = assert_in_step(item)
        assert columns["latest_name"] and columns["latest_updated_at"] is not None


# ----------------------------------------------------------------------------- the page
def _page_queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


LIST_URLS = ["/office/items/", "/office/items/?status=draft", "/office/items/?q=许可&type=01",
             "/office/items/?sort=name", "/office/items/?sort=-version", "/office/items/?sort=org&page=2"]


@pytest.mark.parametrize("url", LIST_URLS)
def test_the_list_costs_the_same_few_queries_for_three_items_or_forty(client, city, url):
    parent = factories.organization("临江市市场监督管理局", city["city"], "0117")
    units = [factories.organization(f"临江市市场监督管理局第{i}分局", city["city"], "0117", parent=parent)
             for i in range(3)]
    admin = factories.staff("catalog_parent", parent, Role.CATALOG_ADMIN)
    sign_in_staff(client, admin)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            services.create_item(admin, organization=units[i % 3],
                                 data=factories.item_data(name=f"食品经营许可{i:02d}"), materials=factories.materials())

    add(3, 0)
    _page_queries(client, url)  # the first request after sign-in also writes the session's touch time
    few, _ = _page_queries(client, url)
    add(37, 3)
    many, body = _page_queries(client, url)

    assert many == few, (few, many)
    # session, user, staff account, the organisation tree (one query per level), count, the
    # page's ids, the page's rows (the session is written at most once a minute)
    assert many <= 8
    if url == "/office/items/":
        assert "共 40 项" in body


def test_the_default_order_is_newest_change_first_across_the_organisations_in_scope(client, city):
    parent = factories.organization("临江市民政局", city["city"], "0107")
    unit = factories.organization("临江市民政局婚姻登记处", city["city"], "0107", parent=parent)
    outsider = factories.organization("临江市教育局", city["city"], "0101")
    admin = factories.staff("catalog_mz", parent, Role.CATALOG_ADMIN)
    stranger = factories.staff("catalog_jy", outsider, Role.CATALOG_ADMIN)
    old = services.create_item(admin, organization=unit, data=factories.item_data(name="婚姻登记"),
                               materials=factories.materials())
    services.create_item(admin, organization=parent, data=factories.item_data(name="社会团体登记"),
                         materials=factories.materials())
    services.create_item(stranger, organization=outsider, data=factories.item_data(name="教师资格认定"),
                         materials=factories.materials())
    services.update_draft(admin, old, data={"name": "婚姻登记（补领）"}, expected_lock=old.lock_version)

    sign_in_staff(client, admin)
    body = client.get("/office/items/").content.decode()
    assert "教师资格认定" not in body
    assert body.index("婚姻登记（补领）") < body.index("社会团体登记")
    body = client.get("/office/items/?sort=updated").content.decode()
    assert body.index("社会团体登记") < body.index("婚姻登记（补领）")
    assert "共 1 项" in client.get("/office/items/?type=01&q=补领").content.decode()
