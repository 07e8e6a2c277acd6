"""Sign-in is limited per account name and per IP address."""

import pytest
from django.core.cache import cache

from tests import factories
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_staff_signs_in_and_lands_in_the_workbench(client, org_a):
    factories.staff("catalog_x", org_a)
    response = client.post("/accounts/login/", {"username": "catalog_x", "password": "yiwang-demo"})
    assert response.status_code == 302 and response["Location"] == "/office/"


def test_wrong_password_is_told_in_chinese(client, org_a):
    factories.staff("catalog_x", org_a)
    response = client.post("/accounts/login/", {"username": "catalog_x", "password": "wrong"})
    assert response.status_code == 200 and "用户名或密码不正确" in response.content.decode()


def test_repeated_failures_on_one_account_are_refused_with_429(client, org_a, settings):
    settings.YIWANG_LOGIN_RATE_ACCOUNT = "3/5m"
    factories.staff("catalog_x", org_a)
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "catalog_x", "password": "bad"}).status_code == 200
    response = client.post("/accounts/login/", {"username": "catalog_x", "password": "yiwang-demo"})
    assert response.status_code == 429 and "尝试次数过多" in response.content.decode()
    assert response["Retry-After"] == "300"
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="identity.login.limited").count() == 1


def test_one_address_trying_many_accounts_is_limited(client, settings):
    settings.YIWANG_LOGIN_RATE_IP = "5/m"
    codes = [client.post("/accounts/login/", {"username": f"u{i}", "password": "x"}).status_code for i in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
