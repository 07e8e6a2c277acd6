"""授权用证 API: an OIDC client with a real client-credentials token reads the certificates granted to
it; no grant, another client's grant, a revoked or expired grant, a file not granted, a token
without the scope — each refused with a bilingual reason and logged for the holder."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.test import Client

from tests.identity.helpers_oidc import system_client
from yiwang.certificates import grants
from yiwang.certificates.models import CertificateAccess

pytestmark = pytest.mark.django_db
API = "/api/v1/shared-certificates/"


def token(app, secret: str, scope: str = "certificates:read") -> str:
    basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    answer = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": scope},
                           HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


@pytest.fixture
def housing():
    app, secret = system_client("临江市住房保障系统", scopes=("certificates:read", "catalog.read"))
    return app, secret


def bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def share(holder, certificate, app, **kw):
    return grants.grant(holder.user, None, certificate, grantee_kind="client", client_id=app.client_id,
                        purpose=kw.pop("purpose", "公租房资格审核"), **kw)


def test_client_lists_and_reads_its_granted_certificate(client, certificate, holder, housing):
    app, secret = housing
    g = share(holder, certificate, app, scope="face_file")
    auth = bearer(token(app, secret))
    rows = client.get(API, **auth).json()
    assert [r["id"] for r in rows] == [g.pk] and rows[0]["number"] == certificate.number
    one = client.get(f"{API}{g.pk}/", {"purpose": "核对申请人残疾等级"}, **auth)
    body = one.json()
    assert one.status_code == 200 and body["identifier"] == certificate.identifier and body["status"] == "01"
    assert {"name": "grade", "label": "残疾等级", "value": "二级"} in body["fields"]
    assert body["file_url"] == f"{API}{g.pk}/file/"
    pdf = client.get(f"{API}{g.pk}/file/", {"purpose": "存档"}, **auth)
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF-")
    logged = CertificateAccess.objects.filter(certificate=certificate, allowed=True).order_by("id")
    assert [(a.what, a.client_id, a.purpose) for a in logged] == [
        ("face", app.client_id, "核对申请人残疾等级"), ("file", app.client_id, "存档")]
    client.force_login(holder.user)
    assert "临江市住房保障系统" in client.get(f"/my/certificates/{certificate.pk}/").content.decode()


def test_refusals_are_bilingual_and_logged(client, certificate, holder, housing):
    app, secret = housing
    other_app, _ = system_client("另一个系统", scopes=("certificates:read",))
    mine = share(holder, certificate, app)  # data only
    theirs = share(holder, certificate, other_app)
    auth = bearer(token(app, secret))
    file_ = client.get(f"{API}{mine.pk}/file/", **auth)
    assert file_.status_code == 403 and " / " in file_.json()["detail"] and "仅可查看照面信息" in file_.json()["detail"]
    other = client.get(f"{API}{theirs.pk}/", **auth)
    assert other.status_code == 404 and "没有该证照的有效授权" in other.json()["detail"]
    assert client.get(f"{API}999999/", **auth).status_code == 404
    grants.revoke(holder.user, None, mine.pk)
    revoked = client.get(f"{API}{mine.pk}/", **auth)
    assert revoked.status_code == 403 and "撤销" in revoked.json()["detail"]
    assert client.get(API, **auth).json() == []
    refused = CertificateAccess.objects.filter(allowed=False)
    assert refused.count() == 4 and refused.filter(certificate=certificate).count() == 3


def test_expired_grant_is_refused(client, certificate, holder, housing, monkeypatch):
    app, secret = housing
    g = share(holder, certificate, app, valid_until=dt.date.today() + dt.timedelta(days=1))
    monkeypatch.setattr(grants, "_today", lambda: dt.date.today() + dt.timedelta(days=5))
    answer = client.get(f"{API}{g.pk}/", **bearer(token(app, secret)))
    assert answer.status_code == 403 and "到期" in answer.json()["detail"]


def test_tokens_without_the_scope_or_a_user_token_are_refused(client, certificate, holder, housing):
    app, secret = housing
    share(holder, certificate, app)
    no_scope = client.get(API, **bearer(token(app, secret, scope="catalog.read")))
    assert no_scope.status_code == 403 and no_scope.json()["code"] == "insufficient_scope"
    assert " / " in no_scope.json()["detail"]
    assert client.get(API).status_code == 401
    assert client.get(API, **bearer("not-a-token")).status_code == 401


def test_granting_to_an_unknown_client_is_refused(certificate, holder):
    from yiwang.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        grants.grant(holder.user, None, certificate, grantee_kind="client", client_id="nope", purpose="查看")
    assert "client_id" in exc.value.fields


def test_a_purpose_over_200_characters_is_a_400_naming_the_field(client, certificate, holder, housing):
    app, secret = housing
    g = share(holder, certificate, app)
    answer = client.get(f"{API}{g.pk}/", {"purpose": "事" * 201}, **bearer(token(app, secret)))
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert "purpose" in body["fields"] and " / " in body["fields"]["purpose"][0]
    assert not CertificateAccess.objects.filter(what="face", allowed=True).exists()


def test_an_id_beyond_any_integer_column_is_a_404(client, housing):
    app, secret = housing
    answer = client.get(f"{API}{'9' * 30}/", **bearer(token(app, secret)))
    assert answer.status_code == 404 and " / " in answer.json()["detail"]
