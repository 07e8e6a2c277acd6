"""The signed-in account on every request: kept per worker process on PostgreSQL, never stale.

These tests commit (``transaction=True``), as separate requests and processes do: what another
process changes must be seen on the next request, whether or not this process saw a signal.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.identity.helpers_levels import citizen
from yiwang.identity.backends import IdentifierBackend
from yiwang.identity.models import Person

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def _get(user_id):
    return IdentifierBackend().get_user(user_id)


def _signed_in(username: str) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": "yiwang-demo"}).status_code == 302
    return client


def _who(client: Client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.username if user.is_authenticated else None


def test_each_request_gets_its_own_instances():
    person = citizen("acct_own", "钱二", level=2)
    first = _get(person.user_id)
    first.person.name = "改过的名字"
    first.first_name = "改过"
    second = _get(person.user_id)
    assert second is not first and second.person is not first.person
    assert second.person.name == "钱二" and second.first_name == ""
    assert second.person.user is second
    assert second.person.id_number == person.id_number  # decrypted, as read


def test_a_change_made_without_signals_is_seen_on_the_next_request():
    person = citizen("acct_change", "孙三", level=2)
    client = _signed_in("acct_change")
    assert _who(client) == "acct_change"
    assert _get(person.user_id).person.assurance_level == 2
    # Another process raises the level and then deactivates the account (no signal reaches us).
    Person.objects.filter(pk=person.pk).update(assurance_level=3)
    assert _get(person.user_id).person.assurance_level == 3
    User.objects.filter(pk=person.user_id).update(is_active=False)
    assert _get(person.user_id) is None
    assert _who(client) is None


def test_a_password_changed_elsewhere_signs_the_session_out():
    citizen("acct_pw", "李四", level=2)
    client = _signed_in("acct_pw")
    assert _who(client) == "acct_pw"
    assert _who(client) == "acct_pw"  # served from what the process kept
    User.objects.filter(username="acct_pw").update(password=make_password("another-password-1"))
    assert _who(client) is None


def test_a_deleted_account_is_gone():
    person = citizen("acct_gone", "周五", level=2)
    assert _get(person.user_id) is not None
    User.objects.filter(pk=person.user_id).delete()
    assert _get(person.user_id) is None
    assert _get(10**9) is None


def test_staff_without_a_person_and_a_person_added_later():
    user = User.objects.create_user(username="acct_staff", password="yiwang-demo")
    found = _get(user.pk)
    assert found is not None and not hasattr(found, "person")
    Person.objects.bulk_create([Person(user=user, name="吴六", id_number="110101199003070011",
                                       mobile="13800000006")])  # bulk_create sends no signal
    assert _get(user.pk).person.name == "吴六"


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row versions (xmin) are PostgreSQL's")
def test_on_postgresql_a_repeat_costs_one_narrow_query():
    person = citizen("acct_cheap", "郑七", level=2)
    _get(person.user_id)
    with CaptureQueriesContext(connection) as queries:
        user = _get(person.user_id)
        assert user.person.name == "郑七"
    assert len(queries) == 1 and "xmin" in queries[0]["sql"]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row versions (xmin) are PostgreSQL's")
def test_rows_changed_in_the_current_transaction_are_read_as_they_are_now():
    person = citizen("acct_txn", "王八", level=2)
    with transaction.atomic():
        User.objects.filter(pk=person.user_id).update(first_name="甲")
        assert _get(person.user_id).first_name == "甲"
        User.objects.filter(pk=person.user_id).update(first_name="乙")  # same transaction, same xmin
        assert _get(person.user_id).first_name == "乙"
        transaction.set_rollback(True)
    assert _get(person.user_id).first_name == ""
