"""Many processes, one key: lazy creation of the CA and of a purpose's key under concurrency (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from yiwang.seals import signing
from yiwang.seals.models import AuthorityKey, SigningKey

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent writers: PostgreSQL")
def test_concurrent_first_signatures_share_one_key_and_one_ca():
    barrier = threading.Barrier(4)
    results, errors = [], []

    def sign():
        try:
            barrier.wait()
            results.append(signing.sign_payload(b"race", purpose="race"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({r.kid for r in results}) == 1
    assert SigningKey.objects.filter(purpose="race", state="active").count() == 1
    assert AuthorityKey.objects.filter(state="active").count() == 2
    assert all(signing.verify_payload(r.kid, b"race", r.signature) for r in results)
