"""Single sign-on, proven from the outside: a third-party OpenID Connect client (Authlib) signs a
citizen in against a running server with the authorization code flow and PKCE, and validates the
ID token with the provider's published keys. Then the unhappy paths, refresh, client
credentials and logout, the same way.
"""

from __future__ import annotations

import gc
import re
import threading
import warnings

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():  # authlib.jose still works; its successor joserfc is not needed here
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from tests.identity import helpers_oidc as h
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "http://127.0.0.1:9/cb"  # never fetched: the test reads the redirect
BYE = "http://127.0.0.1:9/bye"


@pytest.fixture
def server(live_server):
    meta = requests.get(f"{live_server.url}/o/.well-known/openid-configuration", timeout=10).json()
    return {"url": live_server.url, "meta": meta}


@pytest.fixture
def person(transactional_db):
    return h.citizen()


@pytest.fixture
def app(transactional_db):
    application, _ = h.login_client([CALLBACK], logout_uris=[BYE])
    return application


def browser_for(server, user, acting_for: str = "") -> requests.Session:
    """A browser already signed in to the platform (the session cookie of a real login)."""
    name, value = h.session_cookie(user, acting_for=acting_for)
    browser = requests.Session()
    browser.cookies.set(name, value, path="/")
    return closing(browser)


_open_sessions: list[requests.Session] = []


def closing(session: requests.Session) -> requests.Session:
    """Closed after the test: the server thread serving a kept-alive connection holds a database
    connection until the socket closes, and the test database cannot be dropped while it does."""
    _open_sessions.append(session)
    return session


@pytest.fixture(autouse=True)
def _close_sessions():
    yield
    while _open_sessions:
        _open_sessions.pop().close()
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=5)
    gc.collect()  # a finished server thread's database connection can sit in a reference cycle


def rp_for(app, scope="openid profile phone enterprise", redirect_uri=CALLBACK) -> OAuth2Session:
    """The relying party, as Authlib implements it: a public client using PKCE S256."""
    return closing(OAuth2Session(app.client_id, redirect_uri=redirect_uri, scope=scope,
                                 code_challenge_method="S256", token_endpoint_auth_method="none"))


def consent(browser: requests.Session, url: str, *, allow: bool = True) -> requests.Response:
    """Open the consent page and press 同意 (or 拒绝); return the response without following it."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = h.hidden_fields(page.text)
    if allow:
        form["allow"] = "on"
    return browser.post(url, data=form, allow_redirects=False, timeout=10, headers={"Referer": url})


def authorize(server, app, person, *, acting_for: str = "", scope="openid profile phone enterprise"):
    """The whole front channel; returns (relying party, code_verifier, nonce, redirect Location)."""
    rp = rp_for(app, scope)
    verifier, nonce = generate_token(48), generate_token(20)
    url, _state = rp.create_authorization_url(server["meta"]["authorization_endpoint"], code_verifier=verifier,
                                              nonce=nonce)
    answer = consent(browser_for(server, person.user, acting_for), url)
    assert answer.status_code == 302, answer.text[:500]
    return rp, verifier, nonce, answer.headers["Location"]


def verify_id_token(server, app, id_token: str, nonce: str | None):
    jwks = requests.get(server["meta"]["jwks_uri"], timeout=10).json()
    options = {"iss": {"essential": True, "value": server["meta"]["issuer"]},
               "aud": {"essential": True, "value": app.client_id},
               "exp": {"essential": True}}
    if nonce:
        options["nonce"] = {"essential": True, "value": nonce}
    claims = jwt.decode(id_token, JsonWebKey.import_key_set(jwks), claims_options=options)
    claims.validate()
    return claims


# ============================================================================= the proof
def test_a_third_party_client_completes_code_and_pkce_and_validates_the_id_token(server, app, person):
    meta = server["meta"]
    assert meta["issuer"] == f"{server['url']}/o"
    assert "S256" in meta["code_challenge_methods_supported"] and "plain" not in meta["code_challenge_methods_supported"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["id_token_signing_alg_values_supported"][0] == "RS256"

    rp, verifier, nonce, location = authorize(server, app, person)
    assert location.startswith(CALLBACK + "?") and "code=" in location
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert token["token_type"] == "Bearer" and token["refresh_token"]

    claims = verify_id_token(server, app, token["id_token"], nonce)
    assert claims["name"] == "张三丰"
    assert claims["assurance_level"] == 2 and claims["acr"] == "L2"
    assert claims["id_number_masked"] == h.ID_NUMBER[:6] + "********" + h.ID_NUMBER[-4:]
    assert claims["phone_number"] == "138****5678"
    assert "acting_enterprise" not in claims  # acting for oneself
    assert claims["sub"] != str(person.subject) and claims["sub"] != str(person.user.pk)

    info = rp.get(meta["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"]
    assert info["name"] == "张三丰" and info["phone_number"] == "138****5678"
    assert h.ID_NUMBER not in str(info) and h.MOBILE not in str(info)
    assert AuditEntry.objects.filter(action="identity.oidc.consent", object_id=app.client_id).exists()


def test_the_subject_is_stable_per_client_and_differs_between_clients(server, app, person):
    other, _ = h.login_client([CALLBACK], name="临江市不动产登记网上服务")
    subs = []
    for client in (app, app, other):
        rp, verifier, nonce, location = authorize(server, client, person, scope="openid")
        token = rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location,
                               code_verifier=verifier)
        subs.append(verify_id_token(server, client, token["id_token"], nonce)["sub"])
    assert subs[0] == subs[1] != subs[2]


def test_the_acting_enterprise_is_in_the_id_token_userinfo_and_after_refresh(server, app, person):
    company = h.enterprise_of(person)
    rp, verifier, nonce, location = authorize(server, app, person, acting_for=company.uscc)
    token = rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier)
    expected = {"uscc": company.uscc, "name": company.name}
    assert verify_id_token(server, app, token["id_token"], nonce)["acting_enterprise"] == expected
    assert rp.get(server["meta"]["userinfo_endpoint"], timeout=10).json()["acting_enterprise"] == expected
    refreshed = rp.refresh_token(server["meta"]["token_endpoint"], refresh_token=token["refresh_token"])
    assert verify_id_token(server, app, refreshed["id_token"], None)["acting_enterprise"] == expected
    assert rp.get(server["meta"]["userinfo_endpoint"], timeout=10).json()["acting_enterprise"] == expected


def test_without_the_enterprise_scope_the_acting_enterprise_is_not_released(server, app, person):
    company = h.enterprise_of(person)
    rp, verifier, nonce, location = authorize(server, app, person, acting_for=company.uscc, scope="openid profile")
    token = rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier)
    claims = verify_id_token(server, app, token["id_token"], nonce)
    assert "acting_enterprise" not in claims and "phone_number" not in claims


# ============================================================================= unhappy paths
def test_a_wrong_redirect_uri_shows_an_error_page_and_creates_no_grant(server, app, person):
    rp = rp_for(app, redirect_uri="http://127.0.0.1:9/evil")
    url, _ = rp.create_authorization_url(server["meta"]["authorization_endpoint"], code_verifier=generate_token(48))
    page = browser_for(server, person.user).get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert "授权请求有误" in page.text and "Location" not in page.headers
    assert Grant.objects.count() == 0


def test_a_wrong_pkce_verifier_is_invalid_grant_and_creates_no_token(server, app, person):
    rp, _verifier, _nonce, location = authorize(server, app, person)
    with pytest.raises(OAuthError) as exc:
        rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location,
                       code_verifier=generate_token(48))
    assert exc.value.error == "invalid_grant"
    assert AccessToken.objects.count() == 0 and IDToken.objects.count() == 0


def test_an_authorization_request_without_pkce_is_refused(server, app, person):
    rp = closing(OAuth2Session(app.client_id, redirect_uri=CALLBACK, scope="openid"))
    url, _ = rp.create_authorization_url(server["meta"]["authorization_endpoint"])
    answer = browser_for(server, person.user).get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and "error=invalid_request" in answer.headers["Location"]
    assert Grant.objects.count() == 0


def test_a_scope_the_client_was_not_allowed_is_refused(server, app, person):
    rp = rp_for(app, scope="openid catalog.write")
    url, _ = rp.create_authorization_url(server["meta"]["authorization_endpoint"], code_verifier=generate_token(48))
    answer = browser_for(server, person.user).get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and "error=invalid_scope" in answer.headers["Location"]
    assert Grant.objects.count() == 0


def test_refusing_consent_returns_access_denied_and_creates_nothing(server, app, person):
    rp = rp_for(app)
    url, _ = rp.create_authorization_url(server["meta"]["authorization_endpoint"], code_verifier=generate_token(48))
    answer = consent(browser_for(server, person.user), url, allow=False)
    assert answer.status_code == 302 and "error=access_denied" in answer.headers["Location"]
    assert Grant.objects.count() == 0


def test_a_code_is_single_use(server, app, person):
    rp, verifier, _nonce, location = authorize(server, app, person)
    rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier)
    with pytest.raises(OAuthError) as exc:
        rp_for(app).fetch_token(server["meta"]["token_endpoint"], authorization_response=location,
                                code_verifier=verifier)
    assert exc.value.error == "invalid_grant"


def test_signing_in_is_required_before_consent(server, app):
    rp = rp_for(app)
    url, _ = rp.create_authorization_url(server["meta"]["authorization_endpoint"], code_verifier=generate_token(48))
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/accounts/login/?next=")


# ============================================================================= refresh, client credentials, logout
def test_refresh_tokens_rotate_and_an_old_one_is_refused(server, app, person):
    rp, verifier, _nonce, location = authorize(server, app, person)
    first = rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier)
    second = rp.refresh_token(server["meta"]["token_endpoint"], refresh_token=first["refresh_token"])
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert rp.get(server["meta"]["userinfo_endpoint"], timeout=10).status_code == 200
    with pytest.raises(OAuthError) as exc:
        rp_for(app).refresh_token(server["meta"]["token_endpoint"], refresh_token=first["refresh_token"])
    assert exc.value.error == "invalid_grant"
    # Reuse of a rotated token revokes the whole family (it may have been stolen).
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_department_system_gets_a_token_by_client_credentials_and_reads_the_api(server):
    system, secret = h.system_client()
    rp = closing(OAuth2Session(system.client_id, secret, scope="catalog.read"))
    token = rp.fetch_token(server["meta"]["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "catalog.read" and "refresh_token" not in token and "id_token" not in token
    assert rp.get(f"{server['url']}/api/v1/items/", timeout=10).status_code == 200
    refused = rp.post(f"{server['url']}/api/v1/items/", json={}, timeout=10)
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"
    own = rp.post(server["meta"]["introspection_endpoint"], data={"token": token["access_token"]},
                  auth=(system.client_id, secret), timeout=10).json()
    assert own["active"] is True and own["client_id"] == system.client_id and "username" not in own


def test_a_wrong_client_secret_gets_no_token(server):
    system, _secret = h.system_client()
    with pytest.raises(OAuthError) as exc:
        closing(OAuth2Session(system.client_id, "not-the-secret")).fetch_token(server["meta"]["token_endpoint"],
                                                                      grant_type="client_credentials")
    assert exc.value.error == "invalid_client"
    assert AccessToken.objects.count() == 0


def test_rp_initiated_logout_ends_the_session_and_the_tokens(server, app, person):
    rp, verifier, _nonce, location = authorize(server, app, person)
    token = rp.fetch_token(server["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier)
    browser = browser_for(server, person.user)
    url = (f"{server['meta']['end_session_endpoint']}?id_token_hint={token['id_token']}"
           f"&post_logout_redirect_uri={BYE}&state=s1")
    page = browser.get(url, timeout=10)
    assert page.status_code == 200 and "退出登录" in page.text
    form = h.hidden_fields(page.text)
    form["allow"] = "on"
    answer = browser.post(url, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"] == f"{BYE}?state=s1"
    assert rp.get(server["meta"]["userinfo_endpoint"], timeout=10).status_code == 401
    again = browser.get(server["meta"]["authorization_endpoint"], allow_redirects=False, timeout=10)
    assert again.status_code == 302 and re.match(r"^/accounts/login/", again.headers["Location"])


def test_jwks_publishes_the_signing_key_only_as_public_parameters(server):
    keys = requests.get(server["meta"]["jwks_uri"], timeout=10).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)


# ============================================================================= the signing key
def test_production_refuses_to_start_without_a_signing_key(tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from yiwang.identity.oidc_keys import signing_key

    with pytest.raises(ImproperlyConfigured, match="YIWANG_OIDC_RSA_KEY"):
        signing_key(production=True, var_dir=tmp_path, environ={})
    assert not list(tmp_path.iterdir())


def test_development_generates_one_private_key_file_and_keeps_it(tmp_path):
    from yiwang.identity.oidc_keys import DEV_KEY_FILE, signing_key

    with pytest.warns(RuntimeWarning, match="YIWANG_OIDC_RSA_KEY"):
        first = signing_key(production=False, var_dir=tmp_path, environ={})
    path = tmp_path / DEV_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing_key(production=False, var_dir=tmp_path, environ={}) == first
    assert [p.name for p in tmp_path.iterdir()] == [DEV_KEY_FILE]


def test_a_key_from_the_environment_is_used_and_a_bad_one_refused(tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from yiwang.identity.oidc_keys import _generate_pem, signing_key

    pem = _generate_pem().decode()
    assert signing_key(production=True, var_dir=tmp_path, environ={"YIWANG_OIDC_RSA_KEY": pem}).strip() == pem.strip()
    with pytest.raises(ImproperlyConfigured):
        signing_key(production=True, var_dir=tmp_path, environ={"YIWANG_OIDC_RSA_KEY": "not a key"})
