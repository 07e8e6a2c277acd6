"""The REST API accepts the provider's bearer tokens; scopes decide what a token may do."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from tests import factories
from tests.identity import helpers_oidc as h

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/items/"
CALLBACK = "https://catalog-tool.linjiang.gov.cn/cb"


def issue_token(user, scope: str) -> dict:
    """A token for ``user`` through the real front and back channels (code + PKCE)."""
    app, secret = h.login_client([CALLBACK], name=f"事项维护工具{secrets.token_hex(3)}", public=False,
                                 scopes=("openid", "catalog.read", "catalog.write"))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    browser = Client()
    browser.force_login(user)
    session = browser.session
    session["2fa_ok"] = True
    session.save()
    query = urlencode({"response_type": "code", "client_id": app.client_id, "redirect_uri": CALLBACK,
                       "scope": scope, "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
    page = browser.get(f"/o/authorize/?{query}")
    assert page.status_code == 200, page.content[:300]
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    answer = browser.post(f"/o/authorize/?{query}", {**form, "allow": "on"})
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    token = Client().post("/o/token/", {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                                         "code_verifier": verifier, "client_id": app.client_id,
                                         "client_secret": secret})
    assert token.status_code == 200, token.content
    return token.json()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_without_catalog_write_gets_403_on_create(org_a, admin_a):
    token = issue_token(admin_a, "openid catalog.read")
    response = bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json")
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_a_catalog_administrators_token_with_catalog_write_creates_an_item(org_a, admin_a):
    token = issue_token(admin_a, "openid catalog.write")
    response = bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["organization"]["uscc"] == org_a.uscc


def test_catalog_write_does_not_lift_the_organisation_scoping(org_a, admin_b):
    token = issue_token(admin_b, "openid catalog.write")
    response = bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_catalog_read_reads_drafts_of_ones_own_organisation_only(published, admin_a, admin_b):
    code = published.item.implementation_code
    own = bearer(issue_token(admin_a, "openid catalog.read")["access_token"])
    other = bearer(issue_token(admin_b, "openid catalog.read")["access_token"])
    assert own.get(f"{ITEMS}{code}/versions/").status_code == 200
    assert other.get(f"{ITEMS}{code}/versions/").status_code == 404
    assert bearer(issue_token(admin_a, "openid")["access_token"]).get(f"{ITEMS}{code}/versions/").status_code == 403


def test_an_expired_token_is_401(org_a, admin_a):
    token = issue_token(admin_a, "openid catalog.write")
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    response = bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401(org_a, admin_a):
    token = issue_token(admin_a, "openid catalog.write")
    app = AccessToken.objects.get().application
    revoke = Client().post("/o/revoke_token/", {"token": token["access_token"], "client_id": app.client_id,
                                                "client_secret": "wrong"})
    assert revoke.status_code != 200 or AccessToken.objects.exists()  # a wrong secret revokes nothing
    AccessToken.objects.get().revoke()
    response = bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json")
    assert response.status_code == 401


def test_a_made_up_token_is_401_and_public_reads_still_work(published):
    client = bearer("not-a-real-token")
    assert client.post(ITEMS, {}, format="json").status_code == 401
    assert client.get(ITEMS).status_code == 200


def test_a_disabled_clients_tokens_stop_working_at_once(org_a, admin_a):
    from yiwang.identity import services_oidc

    token = issue_token(admin_a, "openid catalog.write")
    services_oidc.disable_client(h.platform_admin(), AccessToken.objects.get().application, reason="停用")
    assert bearer(token["access_token"]).post(ITEMS, h_item(org_a), format="json").status_code == 401


def test_a_department_systems_token_reads_public_data_but_writes_nothing(published, org_a):
    system, secret = h.system_client()
    answer = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": "catalog.read"},
                           HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{system.client_id}:{secret}".encode()).decode())
    assert answer.status_code == 200, answer.content
    client = bearer(answer.json()["access_token"])
    assert client.get(ITEMS).json()["count"] == 1
    code = published.item.implementation_code
    assert client.get(f"{ITEMS}{code}/versions/").status_code == 403
    assert client.post(ITEMS, h_item(org_a), format="json").status_code == 403


def test_session_users_are_unaffected_by_scopes(org_a, admin_a):
    client = APIClient()
    client.force_login(admin_a)
    session = client.session
    session["2fa_ok"] = True  # a staff session counts once the second factor is passed
    session.save()
    assert client.post(ITEMS, h_item(org_a), format="json").status_code == 201


def test_introspection_tells_a_resource_server_about_any_token_and_others_only_their_own(org_a, admin_a):
    token = issue_token(admin_a, "openid catalog.read")
    gateway, gateway_secret = h.system_client(name="临江市政务网关", scopes=("introspection",))
    bystander, bystander_secret = h.system_client(name="另一个部门系统")
    auth = lambda cid, sec: "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()
    seen = Client().post("/o/introspect/", {"token": token["access_token"]},
                         HTTP_AUTHORIZATION=auth(gateway.client_id, gateway_secret)).json()
    assert seen["active"] is True and seen["scope"] == "openid catalog.read" and "username" not in seen
    assert len(seen["sub"]) == 36
    hidden = Client().post("/o/introspect/", {"token": token["access_token"]},
                           HTTP_AUTHORIZATION=auth(bystander.client_id, bystander_secret)).json()
    assert hidden == {"active": False}
    refused = Client().post("/o/introspect/", {"token": token["access_token"]},
                            HTTP_AUTHORIZATION=auth(gateway.client_id, "wrong"))
    assert refused.status_code == 401


def h_item(org) -> dict:
    return {"organization": org.uscc, **factories.item_data(), "materials": factories.materials()}
