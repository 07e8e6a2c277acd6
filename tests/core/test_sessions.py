"""The session store: Django's database sessions, read with one plain query."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from yiwang.core.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _saved(**data) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_a_saved_session_is_read_back_with_one_query():
    key = _saved(user="42", acting="")
    store = SessionStore(key)
    with CaptureQueriesContext(connection) as q:
        assert store["user"] == "42"
    assert len(q.captured_queries) == 1 and store.session_key == key


def test_an_expired_unknown_or_tampered_session_is_empty_and_gets_a_new_key():
    expired = _saved(user="1")
    Session.objects.filter(session_key=expired).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    tampered = _saved(user="2")
    Session.objects.filter(session_key=tampered).update(session_data="not-a-signed-value")
    for key in (expired, "no-such-session-key-0123456789", tampered):
        store = SessionStore(key)
        assert store.load() == {}
        if key != tampered:  # a bad signature is Django's decode: empty data, the key kept
            assert store.session_key is None
    store = SessionStore(expired)
    store["user"] = "3"
    store.save()
    assert store.session_key != expired and SessionStore(store.session_key)["user"] == "3"


def test_sign_in_and_out_work_through_the_store(client, django_user_model):
    from django.conf import settings

    assert settings.SESSION_ENGINE == "yiwang.core.sessions"
    user = django_user_model.objects.create_user("store_user", password="x" * 12)
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    client.logout()
    assert not Session.objects.filter(session_key=key).exists()
