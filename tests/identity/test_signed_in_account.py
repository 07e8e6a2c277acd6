"""The signed-in account on every request: one prepared statement, the same instances as the ORM's."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.identity.helpers_levels import citizen
from yiwang.identity.backends import IdentifierBackend
from yiwang.identity.models import Person

pytestmark = pytest.mark.django_db
User = get_user_model()


def _get(user_id):
    return IdentifierBackend().get_user(user_id)


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _signed_in(username: str) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": "yiwang-demo"}).status_code == 302
    return client


def _who(client: Client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.username if user.is_authenticated else None


def test_the_account_and_person_are_what_the_orm_would_load_in_one_query():
    person = citizen("acct_same", "钱二", mobile="13912345670", level=3)
    _signed_in("acct_same")  # sets last_login
    with CaptureQueriesContext(connection) as queries:
        user = _get(person.user_id)
        assert user.person.mobile == "13912345670"  # decrypted, and no second query for the person
    assert len(queries) == 1
    expected = User.objects.select_related("person").get(pk=person.user_id)
    assert _fields(user) == _fields(expected)
    assert _fields(user.person) == _fields(expected.person)
    assert user.last_login is not None and user.last_login.tzinfo is not None  # types as the ORM gives them
    assert user.person.subject == expected.person.subject and user.person.user is user
    assert user.person.verified_in_person_by_id is not None
    assert not user._state.adding and user._state.db == "default"


def test_each_request_gets_its_own_instances():
    person = citizen("acct_own", "孙三", level=2)
    first = _get(person.user_id)
    first.person.name = "改过的名字"
    second = _get(person.user_id)
    assert second is not first and second.person.name == "孙三"


def test_a_change_without_signals_is_seen_on_the_next_request():
    person = citizen("acct_change", "李四", level=2)
    client = _signed_in("acct_change")
    assert _who(client) == "acct_change"
    Person.objects.filter(pk=person.pk).update(assurance_level=3)
    assert _get(person.user_id).person.assurance_level == 3
    User.objects.filter(pk=person.user_id).update(is_active=False)
    assert _get(person.user_id) is None
    assert _who(client) is None


def test_a_password_changed_elsewhere_signs_the_session_out():
    citizen("acct_pw", "周五", level=2)
    client = _signed_in("acct_pw")
    assert _who(client) == "acct_pw"
    User.objects.filter(username="acct_pw").update(password=make_password("another-password-1"))
    assert _who(client) is None


def test_staff_without_a_person_a_person_added_later_and_a_deleted_account():
    user = User.objects.create_user(username="acct_staff", password="yiwang-demo")
    with CaptureQueriesContext(connection) as queries:
        found = _get(user.pk)
        assert found is not None and not hasattr(found, "person")
    assert len(queries) == 1
    Person.objects.create(user=user, name="吴六", id_number="110101199003070011", mobile="13800000006")
    assert _get(user.pk).person.name == "吴六"
    User.objects.filter(pk=user.pk).delete()
    assert _get(user.pk) is None
    assert _get(10**9) is None and _get(None) is None
