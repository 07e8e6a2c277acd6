"""Submissions at once from many connections: distinct numbers, one case per idempotency key, and a
failure after the number is drawn leaves a gap but no half case (PostgreSQL, real transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tests.cases.conftest import all_files, form_for
from yiwang.cases import numbering, services
from yiwang.cases.models import Case, CaseMaterial, CaseStep
from yiwang.core.models import AuditEntry

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL")]


def _at_once(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_submissions_get_distinct_numbers_of_the_day(applicant, item, people):
    cases = _at_once(6, lambda i: services.submit_application(
        applicant, item=item, form_data=form_for(applicant), files=all_files(item), idempotency_key=f"k{i}"))
    numbers = sorted(c.number for c in cases)
    assert len(set(numbers)) == 6 == Case.objects.count()
    assert [int(n[-4:]) for n in numbers] == [1, 2, 3, 4, 5, 6]
    assert all(numbering.is_case_number(n) for n in numbers)


def test_the_same_key_sent_at_once_makes_one_case(applicant, item, people):
    cases = _at_once(4, lambda i: services.submit_application(
        applicant, item=item, form_data=form_for(applicant), files=all_files(item), idempotency_key="same"))
    assert len({c.pk for c in cases}) == 1 and Case.objects.count() == 1


def test_a_failure_after_the_number_leaves_a_gap_and_nothing_else(applicant, item, people, monkeypatch):
    first = services.submit_application(applicant, item=item, form_data=form_for(applicant), files=all_files(item))
    audit_before = AuditEntry.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(services, "_open_steps", broken)  # after the case and its materials were written
    with pytest.raises(RuntimeError):
        services.submit_application(applicant, item=item, form_data=form_for(applicant), files=all_files(item))
    monkeypatch.undo()
    assert Case.objects.count() == 1 and CaseMaterial.objects.exclude(case=first).count() == 0
    assert CaseStep.objects.exclude(case=first).count() == 0 and AuditEntry.objects.count() == audit_before
    third = services.submit_application(applicant, item=item, form_data=form_for(applicant), files=all_files(item))
    assert int(third.number[-4:]) == int(first.number[-4:]) + 2  # unique, not gap-free
