"""Process-local memos: loaded once, emptied by a watched model's save or delete, kept per database."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from tests import factories
from yiwang.core import memo
from yiwang.core.memo import Memo

pytestmark = pytest.mark.django_db

REGIONS = Memo("tests.regions", ttl=60, watch=("core.Region",))


def _names():
    from yiwang.core.models import Region

    return sorted(Region.objects.values_list("name", flat=True))


def test_loaded_once_until_a_watched_model_changes(city):
    calls = []

    def load():
        calls.append(1)
        return _names()

    assert REGIONS.get("all", load) == ["临江市", "江川省", "滨江区"]
    assert REGIONS.get("all", load) == ["临江市", "江川省", "滨江区"]
    assert len(calls) == 1
    factories.region("390103000000", "江北区", city["city"])  # a save: the memo empties
    assert "江北区" in REGIONS.get("all", load)
    assert len(calls) == 2
    city["district"].delete()  # a delete too
    assert "滨江区" not in REGIONS.get("all", load)
    assert len(calls) == 3


def test_a_change_inside_a_transaction_is_forgotten_again_at_commit(city, django_capture_on_commit_callbacks):
    calls = []

    def load():
        calls.append(1)
        return _names()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        factories.region("390104000000", "江南区", city["city"])
        assert "江南区" in REGIONS.get("all", load)  # refilled before the commit
    REGIONS.get("all", load)  # emptied again when the transaction committed
    assert len(calls) == 2


def test_expired_values_are_loaded_again(db):
    quick = Memo("tests.quick", ttl=0)
    assert quick.get("k", lambda: 1) == 1
    assert quick.get("k", lambda: 2) == 2  # ttl 0: never kept


def test_forget_clear_and_clear_all(db):
    values = Memo("tests.values", ttl=60)
    values.get("a", lambda: 1)
    values.get("b", lambda: 2)
    values.forget("a")
    assert values.get("a", lambda: 10) == 10 and values.get("b", lambda: 20) == 2
    memo.clear_all()
    assert values.get("b", lambda: 30) == 30


def test_values_are_kept_per_database(db, settings):
    per_db = Memo("tests.per_db", ttl=60)
    assert per_db.get("k", lambda: "here") == "here"
    name = connection.settings_dict["NAME"]
    try:
        connection.settings_dict["NAME"] = f"{name}-other"
        assert per_db.get("k", lambda: "there") == "there"
    finally:
        connection.settings_dict["NAME"] = name
    assert per_db.get("k", lambda: "again") == "here"


def test_the_size_bound_starts_afresh(db):
    small = Memo("tests.small", ttl=60, size=2)
    small.get(1, lambda: "a")
    small.get(2, lambda: "b")
    small.get(3, lambda: "c")  # full: emptied, then 3 stored
    assert small.get(1, lambda: "A") == "A"
    assert small.get(3, lambda: "C") == "c"
