"""Region and organisation endpoints: public, filtered, with 400 for bad filters and 404 for unknown codes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.core.validators import make_uscc


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def district_org(city):
    return factories.organization("滨江区市场监督管理局", city["district"], "0117")


def codes(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row.get("code") or row.get("uscc") for row in response.json()["results"]]


def test_regions_are_listed_in_code_order_with_their_parent(api, city):
    body = api.get("/api/v1/regions/").json()
    assert body["count"] == 3
    assert body["results"][1] == {"code": "390100000000", "name": "临江市", "level": 2, "level_name": "市",
                                  "parent": "390000000000"}


def test_regions_filter_by_parent_and_level(api, city):
    assert codes(api.get("/api/v1/regions/", {"parent": "390100000000"})) == ["390102000000"]
    assert codes(api.get("/api/v1/regions/", {"level": "1"})) == ["390000000000"]
    assert codes(api.get("/api/v1/regions/", {"level": "3", "parent": "390000000000"})) == []


def test_one_region_by_code(api, city):
    assert api.get("/api/v1/regions/390102000000/").json()["name"] == "滨江区"


@pytest.mark.parametrize("url", ["/api/v1/regions/390199000000/", "/api/v1/regions/abc/"])
def test_unknown_region_is_404(api, city, url):
    response = api.get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["fields"] == {}


@pytest.mark.parametrize("params, field", [
    ({"level": "9"}, "level"), ({"level": "x"}, "level"), ({"parent": "3901"}, "parent"),
    ({"parent": "990100000000"}, "parent"), ({"page": "abc"}, "page"), ({"page_size": "1000"}, "page_size"),
])
def test_bad_region_filters_are_400(api, city, params, field):
    response = api.get("/api/v1/regions/", params)
    assert response.status_code == 400
    messages = response.json()["fields"][field]
    assert messages and all("/ " in m for m in messages)


def test_organizations_filter_by_region_including_everything_below(api, org_a, district_org):
    assert sorted(codes(api.get("/api/v1/organizations/", {"region": "390100000000"}))) == \
        sorted([org_a.uscc, district_org.uscc])
    assert codes(api.get("/api/v1/organizations/", {"region": "390102000000"})) == [district_org.uscc]
    assert codes(api.get("/api/v1/organizations/", {"region": "110000000000"})) == []


def test_one_organization_by_credit_code(api, org_a):
    body = api.get(f"/api/v1/organizations/{org_a.uscc}/").json()
    assert body["name"] == "临江市市场监督管理局" and body["region"] == "390100000000"
    assert body["kind_name"] == "政府部门" and body["department_code"] == "0117"


def test_inactive_or_unknown_organizations_are_404(api, org_a):
    org_a.is_active = False
    org_a.save()
    assert api.get(f"/api/v1/organizations/{org_a.uscc}/").status_code == 404
    assert api.get(f"/api/v1/organizations/{make_uscc('1', '1', '390100', 'Q0000009')}/").status_code == 404
    assert codes(api.get("/api/v1/organizations/")) == []


@pytest.mark.parametrize("region", ["12", "abcdefghijkl", "990000000000"])
def test_bad_organization_region_filter_is_400(api, org_a, region):
    response = api.get("/api/v1/organizations/", {"region": region})
    assert response.status_code == 400 and "region" in response.json()["fields"]


def test_organization_list_queries_do_not_grow(api, city):
    for i in range(3):
        factories.organization(f"部门{i}", city["city"])
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/organizations/")
    for i in range(15):
        factories.organization(f"部门{i + 3}", city["district"])
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/organizations/").json()["count"] == 18
    assert len(few) == len(many)


def test_regions_and_organizations_are_read_only(api, admin_a, org_a):
    sign_in_staff(api, admin_a)
    assert api.post("/api/v1/regions/", {"code": "390103000000"}, format="json").status_code == 405
    assert api.delete(f"/api/v1/organizations/{org_a.uscc}/").status_code == 405
