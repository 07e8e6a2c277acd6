"""Organisation scoping, proven from the outside: staff of department A — reviewer, catalog
administrator, organisation administrator — cannot read or act on department B's objects through
any back-office page or API endpoint. Every attempt is refused (403/404) and changes nothing.

The same requests made by B's own staff succeed, which shows the addresses are the real ones.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog import services
from yiwang.catalog.models import ItemVersion, ServiceItem
from yiwang.core.models import AuditEntry, Organization, Region
from yiwang.identity.models import AccountSecurity, Role, StaffAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(city, org_a, org_b, admin_a, admin_a2, admin_b):
    """Department B with a published item under revision and a clerk; A's staff in three roles."""
    factories.theme()
    admin_b2 = factories.staff("catalog_b2", org_b, Role.CATALOG_ADMIN)
    published = factories.published_item(org_b, admin_b, admin_b2, name="最低生活保障审批", theme_codes=["kaiban"])
    services.start_revision(admin_b, published.item)
    return {
        "code": published.item.implementation_code,
        "org_b": org_b,
        "clerk_b": factories.staff("clerk_b", org_b, Role.CLERK),
        "orgadmin_b": factories.staff("orgadmin_b", org_b, Role.ORG_ADMIN),
        "admin_b": admin_b,
        "a": {
            "reviewer": factories.staff("reviewer_a", org_a, Role.REVIEWER),
            "catalog_admin": admin_a,
            "org_admin": factories.staff("orgadmin_a", org_a, Role.ORG_ADMIN),
        },
    }


def state() -> tuple:
    """Everything an attempt could change."""
    return (AuditEntry.objects.count(), ItemVersion.objects.count(),
            tuple(ItemVersion.objects.order_by("pk").values_list("status", "lock_version")),
            tuple(ServiceItem.objects.order_by("pk").values_list("state", flat=True)),
            tuple(StaffAccount.objects.order_by("pk").values_list("organization_id", "roles", "user__is_active")),
            tuple(AccountSecurity.objects.order_by("pk").values_list("totp_confirmed_at", "locked_until")),
            Organization.objects.filter(is_active=True).count(), Region.objects.count())


def page_requests(w) -> list[tuple[str, str, dict]]:
    """Every back-office page that names one of B's objects, read and write."""
    code, uscc, region = w["code"], w["org_b"].uscc, w["org_b"].region.code
    item = f"/office/items/{code}/"
    return [
        ("get", item, {}),
        ("get", f"{item}compare/", {"a": 1, "b": 2}),
        ("get", f"{item}history/", {}),
        ("get", f"{item}versions/1/", {}),
        ("get", f"{item}versions/2/", {}),
        ("get", f"{item}versions/2/edit/", {}),
        ("post", f"{item}versions/2/edit/", {"name": "越权修改", "lock_version": "1"}),
        ("post", f"{item}versions/2/submit/", {}),
        ("post", f"{item}versions/2/review/", {"decision": "approve", "opinion": "同意"}),
        ("post", f"{item}versions/2/publish/", {}),
        ("post", f"{item}revise/", {}),
        ("post", f"{item}retire/", {"reason": "越权取消"}),
        ("get", "/office/staff/clerk_b/", {}),
        ("post", "/office/staff/clerk_b/", {"display_name": "改名", "organization": str(w["org_b"].pk),
                                            "roles": ["approver"]}),
        ("post", "/office/staff/clerk_b/reset-totp/", {}),
        ("post", "/office/staff/clerk_b/reset-password/", {}),
        ("post", "/office/staff/clerk_b/deactivate/", {"reason": "越权停用"}),
        ("post", "/office/staff/clerk_b/reactivate/", {}),
        ("get", f"/office/regions/{region}/edit/", {}),
        ("post", f"/office/regions/{region}/edit/", {"name": "越权改名"}),
        ("get", f"/office/organizations/{uscc}/edit/", {}),
        ("post", f"/office/organizations/{uscc}/edit/", {"name": "越权改名"}),
        ("post", f"/office/organizations/{uscc}/deactivate/", {"reason": "越权停用"}),
        ("post", f"/office/organizations/{uscc}/reactivate/", {}),
    ]


def api_requests(w) -> list[tuple[str, str, dict]]:
    items = f"/api/v1/items/{w['code']}/"
    return [
        ("get", f"{items}versions/", {}),
        ("get", f"{items}versions/1/", {}),
        ("get", f"{items}versions/2/", {}),
        ("get", f"{items}diff/", {"a": 1, "b": 2}),
        ("patch", f"{items}draft/", {"lock_version": 1, "hours": "全天"}),
        ("post", f"{items}submit/", {}),
        ("post", f"{items}review/", {"approve": True}),
        ("post", f"{items}publish/", {}),
        ("post", f"{items}revise/", {}),
        ("post", f"{items}retire/", {"reason": "越权取消"}),
    ]


def send(client, method: str, url: str, data: dict, *, api: bool = False):
    if method == "get":
        return client.get(url, data)
    if api:
        return getattr(client, method)(url, data, format="json")
    return client.post(url, data)


A_ROLES = ["reviewer", "catalog_admin", "org_admin"]


@pytest.mark.parametrize("role", A_ROLES)
def test_staff_of_department_a_cannot_reach_department_b_through_any_page(world, role):
    client = sign_in_staff(Client(), world["a"][role])
    before = state()
    refused = {}
    for method, url, data in page_requests(world):
        refused[f"{method.upper()} {url}"] = send(client, method, url, data).status_code
    assert {k: v for k, v in refused.items() if v not in (403, 404)} == {}
    assert state() == before


@pytest.mark.parametrize("role", A_ROLES)
def test_staff_of_department_a_cannot_reach_department_b_through_the_api(world, role):
    client = sign_in_staff(APIClient(), world["a"][role])
    before = state()
    refused = {}
    for method, url, data in api_requests(world):
        refused[f"{method.upper()} {url}"] = send(client, method, url, data, api=True).status_code
    assert {k: v for k, v in refused.items() if v not in (403, 404)} == {}
    assert state() == before


@pytest.mark.parametrize("role", A_ROLES)
def test_staff_of_department_a_cannot_create_anything_for_department_b(world, role):
    from tests.catalog.test_api import new_item_body
    from tests.catalog.test_office_pages import item_post

    org_b = world["org_b"]
    before = state()
    page = sign_in_staff(Client(), world["a"][role])
    assert page.post("/office/items/new/", item_post(org_b)).status_code in (400, 403)
    assert page.post("/office/staff/new/", {"username": "spy_b", "display_name": "某", "organization": str(org_b.pk),
                                            "roles": ["clerk"], "password_choice": "generate"}).status_code in (400, 403)
    api = sign_in_staff(APIClient(), world["a"][role])
    assert api.post("/api/v1/items/", new_item_body(org_b, themes=[]), format="json").status_code in (400, 403)
    assert state() == before


@pytest.mark.parametrize("role", A_ROLES)
def test_lists_of_department_a_staff_never_show_department_b(world, role):
    client = sign_in_staff(Client(), world["a"][role])
    for url in ("/office/", "/office/items/", "/office/items/?status=draft", "/office/staff/"):
        response = client.get(url)
        html = response.content.decode() if response.status_code == 200 else ""
        assert world["code"] not in html and "最低生活保障审批" not in html and "clerk_b" not in html, url


def test_department_b_staff_reach_the_same_addresses(world):
    """The control: every read above works for B's own staff, so the refusals were about scope."""
    catalog_b = sign_in_staff(Client(), world["admin_b"])
    reads = [url for method, url, _ in page_requests(world) if method == "get" and url.startswith("/office/items/")]
    assert {url: catalog_b.get(url, {"a": 1, "b": 2}).status_code for url in reads} == {url: 200 for url in reads}
    orgadmin_b = sign_in_staff(Client(), world["orgadmin_b"])
    assert orgadmin_b.get("/office/staff/clerk_b/").status_code == 200
    api = sign_in_staff(APIClient(), world["admin_b"])
    api_reads = [url for method, url, _ in api_requests(world) if method == "get"]
    assert {url: api.get(url, {"a": 1, "b": 2}).status_code for url in api_reads} == {url: 200 for url in api_reads}
    before = AuditEntry.objects.count()
    assert api.post(f"/api/v1/items/{world['code']}/submit/").status_code == 200
    assert AuditEntry.objects.count() == before + 1
