"""The office list and detail pages of certificates cost the same number of queries whatever the
number of rows, versions or events; a verification reads one row; a failed action shows its error
beside the box that caused it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates import services

pytestmark = pytest.mark.django_db

DATA = {"kind": "肢体残疾", "grade": "二级"}


def _queries(client, url: str) -> int:
    client.get(url)  # the first request of a session warms caches; count the second
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_page_does_not_query_per_row(client, disability_type, holder, approver):
    services.issue(disability_type, holder=holder, user=approver, data=DATA)
    sign_in_staff(client, approver)
    one = _queries(client, "/office/certificates/")
    for _ in range(4):
        services.issue(disability_type, holder=holder, user=approver, data=DATA)
    assert _queries(client, "/office/certificates/") == one


def test_the_detail_page_does_not_query_per_version_or_event(client, certificate, approver):
    sign_in_staff(client, approver)
    url = f"/office/certificates/{certificate.pk}/"
    first = _queries(client, url)
    services.suspend(approver, certificate, reason="暂扣待查")
    services.resume(approver, certificate, reason="查明无误")
    newer = services.reissue(approver, certificate, reason="遗失补发")
    newest = services.reissue(approver, newer, reason="再次遗失")
    assert _queries(client, f"/office/certificates/{newest.pk}/") == first


def test_the_catalog_page_does_not_query_per_type(client, disability_type, food_type, cert_admin):
    sign_in_staff(client, cert_admin)
    assert _queries(client, "/office/certificates/types/") < 15


def test_verifying_a_scanned_code_reads_the_certificate_once(client, certificate):
    from django.core.cache import cache

    cache.clear()
    client.post("/api/v1/certificates/verify/", {"payload": certificate.qr_payload}, content_type="application/json")
    with CaptureQueriesContext(connection) as ctx:
        answer = client.post("/api/v1/certificates/verify/", {"payload": certificate.qr_payload},
                             content_type="application/json")
    assert answer.status_code == 200 and answer.json()["result"] == "valid"
    assert len(ctx.captured_queries) <= 2


def test_an_action_without_a_reason_marks_that_actions_box(client, certificate, approver):
    sign_in_staff(client, approver)
    response = client.post(f"/office/certificates/{certificate.pk}/act/", {
        "action": "revoke", "reason": " ", "lock_version": certificate.lock_version})
    text = response.content.decode()
    assert response.status_code == 400 and 'href="#f-reason"' in text
    assert text.count('id="f-reason"') == 1
    box = text[text.index('id="f-reason"'):]
    assert box.index('id="r-revoke"') < box.index("</div>") and 'aria-invalid="true"' in box[:box.index("</div>")]
