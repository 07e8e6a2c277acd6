"""Platform administrators maintain regions and organisations; nobody else may."""

from __future__ import annotations

import pytest

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.core import services
from yiwang.core.errors import NotPermitted, ValidationFailed
from yiwang.core.models import AuditEntry, Organization, Region
from yiwang.core.validators import make_uscc

pytestmark = pytest.mark.django_db

TOWN = "390102001000"


def wrong_check_char(uscc: str) -> str:
    return uscc[:-1] + ("1" if uscc[-1] != "1" else "2")


def org_post(region_code: str, **overrides) -> dict:
    data = {"uscc": make_uscc("1", "1", "390102", "TWN00001"), "name": "滨江区江南街道便民服务中心",
            "short_name": "江南街道", "kind": "town_centre", "nature": "1", "department_code": "",
            "region": region_code, "parent": "", "address": "江南路1号", "phone": "0391-5550001"}
    data.update(overrides)
    return data


def test_platform_admin_creates_a_town_and_an_organisation_in_it(client, city, platform_admin):
    sign_in_staff(client, platform_admin)
    r = client.post(f"/office/regions/?parent={city['district'].code}", {"code": TOWN, "name": "江南街道",
                                                                          "parent": city["district"].code})
    assert r.status_code == 302
    town = Region.objects.get(code=TOWN)
    assert town.level == Region.Level.TOWN and town.parent == city["district"]
    listing = client.get(r["Location"]).content.decode()
    assert "江南街道" in listing and "已新建区划" in listing

    r = client.post("/office/organizations/new/", org_post(TOWN))
    assert r.status_code == 302
    org = Organization.objects.get(name="滨江区江南街道便民服务中心")
    assert org.region == town and org.is_active
    assert "滨江区江南街道便民服务中心" in client.get("/office/organizations/?q=江南").content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"core.region.create", "core.organization.create"} <= actions


@pytest.mark.parametrize("code, message", [
    ("39010200100", "行政区划代码应为12位数字"),
    ("990102001000", "省级代码无效"),
    ("390102099000", None),  # valid: its parent (the district) exists
    ("390199001000", "上级区划 390199000000 尚未建立"),
])
def test_region_codes_are_checked_and_the_parent_must_exist(client, city, platform_admin, code, message):
    sign_in_staff(client, platform_admin)
    before = AuditEntry.objects.count()
    r = client.post("/office/regions/", {"code": code, "name": "某街道"})
    if message is None:
        assert r.status_code == 302
        return
    assert r.status_code == 400
    body = r.content.decode()
    assert message in body and 'href="#f-code"' in body and 'value="某街道"' in body
    assert AuditEntry.objects.count() == before and not Region.objects.filter(code=code).exists()


def test_duplicate_region_code_is_refused(city, platform_admin):
    with pytest.raises(ValidationFailed) as exc:
        services.create_region(platform_admin, code=city["district"].code, name="重复")
    assert "已存在" in exc.value.fields["code"][0]


def test_region_name_can_change_but_not_its_code(client, city, platform_admin):
    sign_in_staff(client, platform_admin)
    r = client.post(f"/office/regions/{city['district'].code}/edit/", {"name": "滨江新区", "code": "390103000000"})
    assert r.status_code == 302
    city["district"].refresh_from_db()
    assert city["district"].name == "滨江新区" and city["district"].code == "390102000000"
    assert client.post(f"/office/regions/{city['district'].code}/edit/", {"name": ""}).status_code == 400


@pytest.mark.parametrize("overrides, field, message", [
    ({"uscc": "11390102TWN0001"}, "uscc", "统一社会信用代码应为18位"),
    ({"uscc": wrong_check_char(make_uscc("1", "1", "390102", "TWN00001"))}, "uscc", "校验位错误"),
    ({"region": "390102777000"}, "region", "请选择已有的行政区划"),
    ({"parent": make_uscc("1", "1", "390102", "NPE00001")}, "parent", "上级机构不存在"),
    ({"department_code": "12a"}, "department_code", "部门编码应为4位数字"),
    ({"name": ""}, "name", "请填写此项"),
])
def test_invalid_organisation_input_gets_messages_beside_the_fields(client, city, platform_admin, overrides, field,
                                                                     message):
    sign_in_staff(client, platform_admin)
    before = (AuditEntry.objects.count(), Organization.objects.count())
    r = client.post("/office/organizations/new/", org_post(city["district"].code, **overrides))
    assert r.status_code == 400
    body = r.content.decode()
    assert message in body and f'href="#f-{field}"' in body and "error-summary" in body
    assert (AuditEntry.objects.count(), Organization.objects.count()) == before


def test_credit_code_must_be_unique(client, city, org_a, platform_admin):
    sign_in_staff(client, platform_admin)
    r = client.post("/office/organizations/new/", org_post(city["city"].code, uscc=org_a.uscc))
    assert r.status_code == 400 and "已被其他机构使用" in r.content.decode()


def test_an_organisation_cannot_sit_below_itself(client, city, org_a, platform_admin):
    child = factories.organization("市场监管局江南所", city["district"], parent=org_a)
    sign_in_staff(client, platform_admin)
    data = org_post(city["city"].code, uscc=org_a.uscc, name=org_a.name, parent=child.uscc)
    r = client.post(f"/office/organizations/{org_a.uscc}/edit/", data)
    assert r.status_code == 400 and "上级机构不能是本机构或其下级机构" in r.content.decode()
    org_a.refresh_from_db()
    assert org_a.parent is None


def test_editing_and_deactivating_an_organisation_is_audited(client, city, org_a, platform_admin):
    sign_in_staff(client, platform_admin)
    data = org_post(city["city"].code, uscc=org_a.uscc, name="临江市市场监管局", department_code="0117")
    assert client.post(f"/office/organizations/{org_a.uscc}/edit/", data).status_code == 302
    org_a.refresh_from_db()
    assert org_a.name == "临江市市场监管局"
    assert client.post(f"/office/organizations/{org_a.uscc}/deactivate/", {"reason": "机构改革"}).status_code == 302
    org_a.refresh_from_db()
    assert not org_a.is_active
    assert "已停用机构" in client.get("/office/").content.decode()  # the confirmation is shown once
    assert "临江市市场监管局" not in client.get("/office/organizations/").content.decode()
    assert "临江市市场监管局" in client.get("/office/organizations/?show=inactive").content.decode()
    entry = AuditEntry.objects.get(action="core.organization.deactivate")
    assert entry.object_id == org_a.uscc and entry.detail == {"reason": "机构改革"} and entry.before_digest
    assert client.post(f"/office/organizations/{org_a.uscc}/deactivate/").status_code == 409


def test_an_organisation_with_items_keeps_its_credit_code(city, published, platform_admin):
    org = published.item.organization
    with pytest.raises(ValidationFailed) as exc:
        services.update_organization(platform_admin, org, data={"uscc": make_uscc("1", "1", "390100", "NEWC0001")})
    assert "不能修改" in exc.value.fields["uscc"][0]


def test_catalog_admin_gets_403_on_region_and_organisation_pages(client, city, org_a, admin_a):
    sign_in_staff(client, admin_a)
    before = (AuditEntry.objects.count(), Region.objects.count(), Organization.objects.count())
    for url in ("/office/regions/", f"/office/regions/{city['city'].code}/edit/", "/office/organizations/",
                "/office/organizations/new/", f"/office/organizations/{org_a.uscc}/edit/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/office/regions/", {"code": TOWN, "name": "江南街道"}).status_code == 403
    assert client.post("/office/organizations/new/", org_post(TOWN)).status_code == 403
    assert client.post(f"/office/organizations/{org_a.uscc}/deactivate/", {}).status_code == 403
    assert (AuditEntry.objects.count(), Region.objects.count(), Organization.objects.count()) == before


def test_services_refuse_anyone_but_a_platform_admin(city, admin_a):
    with pytest.raises(NotPermitted):
        services.create_region(admin_a, code=TOWN, name="江南街道")
