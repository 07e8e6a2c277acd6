"""接入应用管理: platform administrators register, change, rotate and disable SSO clients."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import AccessToken, Application

from tests import factories
from tests.identity import helpers_oidc as h
from yiwang.core.models import AuditEntry
from yiwang.identity import services_oidc, totp
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db
BASE = "/office/oidc-clients/"


def staff_session(client, user):
    """Signed in with the second factor passed, as /accounts/totp/ leaves a staff session."""
    client.force_login(user)
    session = client.session
    session[totp.SESSION_OK] = True
    session.save()
    return client


@pytest.fixture
def admin_client(client):
    return staff_session(client, h.platform_admin())


def new_client_post(**overrides):
    data = {"name": "临江市公积金网上大厅", "description": "市公积金中心建设", "kind": "login",
            "client_type": "confidential", "redirect_uris": "https://gjj.linjiang.gov.cn/oidc/callback",
            "post_logout_redirect_uris": "", "scopes": ["openid", "profile"]}
    data.update(overrides)
    return data


def test_registering_a_client_shows_the_secret_once_and_stores_only_its_hash(admin_client):
    page = admin_client.post(f"{BASE}new/", new_client_post())
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    secret = re.search(r'id="client-secret">([^<]+)<', html).group(1)
    client_id = re.search(r'id="client-id">([^<]+)<', html).group(1)
    app = Application.objects.get(client_id=client_id)
    assert app.client_secret != secret and check_password(secret, app.client_secret)
    assert app.algorithm == "RS256" and app.authorization_grant_type == "authorization-code"
    assert app.policy.allowed_scopes == ["openid", "profile"] and app.policy.is_active
    entry = AuditEntry.objects.get(action="identity.oidc_client.create", object_id=client_id)
    assert secret not in str(entry.detail) and entry.actor == "user:sso_admin"
    # The edit page never shows it again.
    assert secret not in admin_client.get(f"{BASE}{client_id}/").content.decode()


def test_the_list_shows_registered_clients(admin_client):
    h.login_client(["https://a.example.cn/cb"], name="甲应用")
    h.system_client(name="乙系统")
    html = admin_client.get(BASE).content.decode()
    assert "甲应用" in html and "乙系统" in html and "部门系统" in html


@pytest.mark.parametrize("uri, ok", [
    ("https://gjj.linjiang.gov.cn/cb", True),
    ("http://localhost:8080/cb", True),
    ("http://127.0.0.1/cb", True),
    ("http://gjj.linjiang.gov.cn/cb", False),
    ("ftp://gjj.linjiang.gov.cn/cb", False),
    ("https://gjj.linjiang.gov.cn/cb#frag", False),
    ("https://*.linjiang.gov.cn/cb", False),
    ("https://user:pw@gjj.linjiang.gov.cn/cb", False),
    ("/relative/cb", False),
])
def test_redirect_uris_must_be_https_or_loopback_http(uri, ok):
    assert (services_oidc.uri_problem(uri) is None) is ok


def test_an_invalid_registration_names_each_field_and_creates_nothing(admin_client):
    before = Application.objects.count()
    page = admin_client.post(f"{BASE}new/", new_client_post(
        name="", redirect_uris="http://gjj.linjiang.gov.cn/cb", scopes=["profile"]))
    assert page.status_code == 400
    html = page.content.decode()
    assert "请填写此项" in html
    assert Application.objects.count() == before and not AuditEntry.objects.filter(
        action="identity.oidc_client.create").exists()


def test_service_errors_are_shown_beside_the_fields(admin_client):
    page = admin_client.post(f"{BASE}new/", new_client_post(redirect_uris="http://gjj.linjiang.gov.cn/cb",
                                                            scopes=["profile"]))
    assert page.status_code == 400
    html = page.content.decode()
    assert "http 仅限本机调试地址" in html and "须包含 openid" in html
    assert Application.objects.count() == 0


def test_a_department_system_must_be_confidential_and_use_system_scopes(admin_client):
    page = admin_client.post(f"{BASE}new/", new_client_post(kind="system", client_type="public", redirect_uris="",
                                                            scopes=["openid"]))
    assert page.status_code == 400
    html = page.content.decode()
    assert "部门系统须为机密客户端" in html and "该类应用不能使用这些权限" in html


def test_a_public_client_has_no_secret_to_show(admin_client):
    page = admin_client.post(f"{BASE}new/", new_client_post(client_type="public"))
    assert page.status_code == 200 and 'id="client-secret"' not in page.content.decode()
    assert "PKCE" in page.content.decode()


def test_editing_changes_uris_and_scopes_and_is_audited(admin_client):
    app, _ = h.login_client(["https://a.example.cn/cb"], name="甲应用", scopes=("openid",))
    answer = admin_client.post(f"{BASE}{app.client_id}/", {
        "name": "甲应用（新版）", "description": "", "redirect_uris": "https://a.example.cn/cb\nhttps://b.example.cn/cb",
        "post_logout_redirect_uris": "https://a.example.cn/", "scopes": ["openid", "profile", "phone"]})
    assert answer.status_code == 302
    app.refresh_from_db()
    assert app.name == "甲应用（新版）" and app.redirect_uris.split() == ["https://a.example.cn/cb",
                                                                          "https://b.example.cn/cb"]
    assert app.policy.allowed_scopes == ["openid", "profile", "phone"]
    assert AuditEntry.objects.filter(action="identity.oidc_client.update", object_id=app.client_id).exists()


def test_rotating_the_secret_invalidates_the_old_one(admin_client):
    app, old = h.system_client()
    page = admin_client.post(f"{BASE}{app.client_id}/rotate-secret/")
    new = re.search(r'id="client-secret">([^<]+)<', page.content.decode()).group(1)
    app.refresh_from_db()
    assert new != old and check_password(new, app.client_secret) and not check_password(old, app.client_secret)
    assert AuditEntry.objects.filter(action="identity.oidc_client.rotate_secret").exists()


def test_a_public_client_has_no_secret_to_rotate(admin_client):
    app, _ = h.login_client(["https://a.example.cn/cb"])
    before = app.client_secret
    assert admin_client.post(f"{BASE}{app.client_id}/rotate-secret/").status_code == 409
    app.refresh_from_db()
    assert app.client_secret == before


def test_disabling_revokes_every_token_and_enabling_restores_sign_in(admin_client):
    app, _ = h.system_client()
    from django.utils import timezone

    AccessToken.objects.create(application=app, token="t-1", expires=timezone.now() + timezone.timedelta(hours=1),
                               scope="catalog.read")
    assert admin_client.post(f"{BASE}{app.client_id}/disable/", {"reason": "系统下线"}).status_code == 302
    app.refresh_from_db()
    assert not app.policy.is_active and AccessToken.objects.filter(application=app).count() == 0
    entry = AuditEntry.objects.get(action="identity.oidc_client.disable")
    assert entry.detail == {"reason": "系统下线", "tokens_revoked": 1}
    assert admin_client.post(f"{BASE}{app.client_id}/enable/").status_code == 302
    app.refresh_from_db()
    assert app.policy.is_active


def test_only_platform_administrators_may_manage_clients(client, org_a):
    app, _ = h.login_client(["https://a.example.cn/cb"])
    catalog_admin = factories.staff("catalog_x", org_a, Role.CATALOG_ADMIN)
    staff_session(client, catalog_admin)
    urls = [BASE, f"{BASE}new/", f"{BASE}{app.client_id}/"]
    assert [client.get(u).status_code for u in urls] == [403, 403, 403]
    assert client.post(f"{BASE}new/", new_client_post(name="越权")).status_code == 403
    assert client.post(f"{BASE}{app.client_id}/disable/").status_code == 403
    assert client.post(f"{BASE}{app.client_id}/rotate-secret/").status_code == 403
    assert Application.objects.count() == 1 and Application.objects.get().policy.is_active


def test_citizens_are_refused_and_anonymous_visitors_sent_to_sign_in(client):
    person = h.citizen()
    assert client.get(BASE).status_code == 302
    client.force_login(person.user)
    assert client.get(BASE).status_code == 403


def test_an_unknown_client_is_404(admin_client):
    assert admin_client.get(f"{BASE}nosuchclient/").status_code == 404
