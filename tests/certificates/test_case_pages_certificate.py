"""The case pages point to the certificate the case produced: the applicant to their wallet, staff
to the certificate's office page."""

from __future__ import annotations

import pytest

from tests.certificates.test_issuance import run_to_production
from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates.models import Certificate

pytestmark = pytest.mark.django_db


def test_the_case_pages_link_the_issued_certificate(client, food_type, applicant, company, item, people):
    case = run_to_production(applicant, item, people, enterprise=company)
    cert = Certificate.objects.get(case=case)

    client.force_login(applicant)
    page = client.get(f"/my/cases/{case.number}/").content.decode()
    assert f"/my/certificates/{cert.pk}/" in page and cert.number in page

    sign_in_staff(client, people["reviewer"])
    page = client.get(f"/office/cases/{case.number}/").content.decode()
    assert f"/office/certificates/{cert.pk}/" in page and "电子证照" in page
