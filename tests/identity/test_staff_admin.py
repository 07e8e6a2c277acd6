"""Organisation administrators open and maintain staff accounts of their own organisation tree."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tests import factories
from tests.identity.helpers_totp import give_authenticator, sign_in_staff
from yiwang.core.errors import NotFound, NotPermitted, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.identity import services_staff
from yiwang.identity.models import AccountSecurity, Role, StaffAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def unit_a(org_a, city):
    """A sub-unit of department A (its 执法支队)."""
    return factories.organization("临江市市场监管执法支队", city["city"], "0117", parent=org_a)


@pytest.fixture
def orgadmin_a(org_a):
    return factories.staff("orgadmin_a", org_a, Role.ORG_ADMIN)


def new_staff(org, **overrides) -> dict:
    data = {"username": "clerk_new", "display_name": "王小明", "organization": str(org.pk),
            "roles": ["clerk", "reviewer"], "password_choice": "generate", "password": ""}
    data.update(overrides)
    return data


# ----------------------------------------------------------------------------- creating
def test_org_admin_opens_an_account_in_a_sub_unit_and_sees_the_password_once(client, orgadmin_a, unit_a):
    sign_in_staff(client, orgadmin_a)
    response = client.post("/office/staff/new/", new_staff(unit_a))
    html = response.content.decode()
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    staff = StaffAccount.objects.get(user__username="clerk_new")
    assert staff.organization == unit_a and sorted(staff.roles) == ["clerk", "reviewer"]
    password = html.split('letter-spacing:.08em">')[1].split("<")[0]
    assert len(password) == services_staff.INITIAL_PASSWORD_LENGTH
    assert staff.user.check_password(password)
    assert password not in str(list(AuditEntry.objects.values_list("detail", flat=True)))
    assert AuditEntry.objects.filter(action="identity.staff.create", object_id="clerk_new").count() == 1
    # Never again: the detail page does not show it.
    assert password not in client.get("/office/staff/clerk_new/").content.decode()
    # The new member signs in with it and is asked to set up the authenticator.
    client.logout()
    r = client.post("/accounts/login/", {"username": "clerk_new", "password": password})
    assert r.status_code == 302 and r["Location"].startswith("/accounts/totp/")
    assert "设置动态口令" in client.get(r["Location"]).content.decode()


def test_the_administrator_may_set_the_password_under_the_policy(client, orgadmin_a, org_a):
    sign_in_staff(client, orgadmin_a)
    weak = client.post("/office/staff/new/", new_staff(org_a, password_choice="set", password="12345678"))
    assert weak.status_code == 400 and not StaffAccount.objects.filter(user__username="clerk_new").exists()
    ok = client.post("/office/staff/new/", new_staff(org_a, password_choice="set", password="Linjiang-2025-Desk"))
    assert ok.status_code == 201
    assert get_user_model().objects.get(username="clerk_new").check_password("Linjiang-2025-Desk")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"username": ""}, "登录用户名"),
    ({"username": "a b"}, "用户名只能包含"),
    ({"username": "orgadmin_a"}, "已被使用"),
    ({"username": "new"}, "已被使用"),
    ({"display_name": ""}, "姓名"),
    ({"roles": []}, "角色"),
    ({"roles": ["platform_admin"]}, "角色"),
    ({"organization": ""}, "所属机构"),
])
def test_bad_input_is_reported_on_its_field_and_nothing_is_created(client, orgadmin_a, org_a, overrides, field):
    sign_in_staff(client, orgadmin_a)
    before = (StaffAccount.objects.count(), AuditEntry.objects.count())
    response = client.post("/office/staff/new/", new_staff(org_a, **overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error-summary' in html and field in html
    assert (StaffAccount.objects.count(), AuditEntry.objects.count()) == before


def test_org_admin_cannot_open_accounts_in_another_department(client, orgadmin_a, org_b):
    sign_in_staff(client, orgadmin_a)
    response = client.post("/office/staff/new/", new_staff(org_b))
    assert response.status_code == 400
    assert not StaffAccount.objects.filter(user__username="clerk_new").exists()
    with pytest.raises(ValidationFailed) as exc:
        services_staff.create_staff(orgadmin_a, username="x_b", display_name="某", organization=org_b, roles=["clerk"])
    assert "organization" in exc.value.fields


def test_only_platform_admins_grant_the_platform_admin_role(orgadmin_a, org_a, platform_admin):
    with pytest.raises(ValidationFailed) as exc:
        services_staff.create_staff(orgadmin_a, username="p_two", display_name="某", organization=org_a,
                                    roles=["platform_admin"])
    assert "roles" in exc.value.fields
    staff, _ = services_staff.create_staff(platform_admin, username="p_two", display_name="某", organization=org_a,
                                           roles=["platform_admin"])
    assert staff.roles == ["platform_admin"]


def test_staff_without_the_org_admin_role_cannot_administer(client, admin_a, org_a):
    sign_in_staff(client, admin_a)
    assert client.get("/office/staff/").status_code == 403
    assert client.post("/office/staff/new/", new_staff(org_a)).status_code == 403
    with pytest.raises(NotPermitted):
        services_staff.create_staff(admin_a, username="x", display_name="某", organization=org_a, roles=["clerk"])


def test_nobody_registers_themselves_as_staff(client, db):
    assert client.get("/office/staff/new/")["Location"].startswith("/accounts/login/")
    assert client.post("/office/staff/new/", {"username": "me"}).status_code == 302
    assert not StaffAccount.objects.exists()


# ----------------------------------------------------------------------------- maintaining
def test_list_shows_the_admins_tree_only(client, orgadmin_a, unit_a, admin_a, admin_b):
    factories.staff("clerk_unit", unit_a, Role.CLERK)
    sign_in_staff(client, orgadmin_a)
    html = client.get("/office/staff/").content.decode()
    assert "catalog_a" in html and "clerk_unit" in html and "catalog_b" not in html


def test_roles_and_organisation_are_changed_with_an_audit_entry(client, orgadmin_a, admin_a, unit_a):
    sign_in_staff(client, orgadmin_a)
    response = client.post("/office/staff/catalog_a/", {"display_name": "李四", "organization": str(unit_a.pk),
                                                        "roles": ["catalog_admin", "supervisor"]})
    assert response.status_code == 302
    staff = StaffAccount.objects.get(user=admin_a)
    assert staff.organization == unit_a and staff.roles == ["catalog_admin", "supervisor"]
    entry = AuditEntry.objects.get(action="identity.staff.update")
    assert entry.detail["roles"] == ["catalog_admin", "supervisor"]


def test_resetting_the_authenticator_forces_a_new_setup(client, orgadmin_a, admin_a):
    give_authenticator(admin_a)
    sign_in_staff(client, orgadmin_a)
    assert client.post("/office/staff/catalog_a/reset-totp/").status_code == 302
    security = AccountSecurity.objects.get(user=admin_a)
    assert security.totp_confirmed_at is None and security.totp_secret == ""
    assert AuditEntry.objects.filter(action="identity.totp.reset", object_id="catalog_a").exists()


def test_resetting_the_password_shows_a_new_one_once_and_lifts_a_lock(client, orgadmin_a, admin_a):
    from django.utils import timezone

    AccountSecurity.objects.create(user=admin_a, failed_logins=3, locked_until=timezone.now() + timezone.timedelta(minutes=9))
    sign_in_staff(client, orgadmin_a)
    response = client.post("/office/staff/catalog_a/reset-password/")
    assert response.status_code == 200 and "新密码" in response.content.decode()
    security = AccountSecurity.objects.get(user=admin_a)
    assert security.locked_until is None and security.failed_logins == 0
    admin_a.refresh_from_db()
    assert not admin_a.check_password("yiwang-demo")


def test_deactivation_needs_a_reason_and_stops_sign_in(client, orgadmin_a, admin_a):
    sign_in_staff(client, orgadmin_a)
    assert client.post("/office/staff/catalog_a/deactivate/", {"reason": ""}).status_code == 400
    assert get_user_model().objects.get(pk=admin_a.pk).is_active
    assert client.post("/office/staff/catalog_a/deactivate/", {"reason": "调离本单位"}).status_code == 302
    assert not get_user_model().objects.get(pk=admin_a.pk).is_active
    other = client.__class__()
    r = other.post("/accounts/login/", {"username": "catalog_a", "password": "yiwang-demo"})
    assert r.status_code != 302 or not r["Location"].startswith("/accounts/totp/")
    assert client.post("/office/staff/catalog_a/reactivate/").status_code == 302
    assert get_user_model().objects.get(pk=admin_a.pk).is_active


def test_admins_cannot_deactivate_themselves(orgadmin_a):
    with pytest.raises(ValidationFailed):
        services_staff.deactivate_staff(orgadmin_a, orgadmin_a.staff, reason="测试")


def test_org_admin_cannot_touch_a_platform_admin_in_their_organisation(org_a):
    orgadmin = factories.staff("oa", org_a, Role.ORG_ADMIN)
    top = factories.staff("top", org_a, Role.PLATFORM_ADMIN)
    with pytest.raises(NotPermitted):
        services_staff.deactivate_staff(orgadmin, top.staff, reason="x")
    with pytest.raises(NotPermitted):
        services_staff.reset_second_factor(orgadmin, top.staff)


def test_staff_of_another_department_are_not_found(orgadmin_a, admin_b):
    with pytest.raises(NotFound):
        services_staff.get_staff_for(orgadmin_a, "catalog_b")
    with pytest.raises(NotFound):
        services_staff.reset_second_factor(orgadmin_a, admin_b.staff)


def test_platform_admin_manages_staff_everywhere(client, platform_admin, admin_b):
    sign_in_staff(client, platform_admin)
    assert client.get("/office/staff/catalog_b/").status_code == 200
    assert client.post("/office/staff/catalog_b/reset-totp/").status_code == 302
