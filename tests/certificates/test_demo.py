"""The demo loader: four types of the catalog and certificates in the demo accounts' wallets,
made through the services, and nothing more on a second run."""

from __future__ import annotations

import pytest

from tests import factories
from tests.identity.helpers_levels import citizen, enterprise_of
from yiwang.certificates import demo, services
from yiwang.certificates.models import Certificate, CertificateType, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_city(city, org_a, org_b):
    factories.organization("临江市残疾人联合会", city["city"], "0126")
    me = citizen("citizen", "张三丰", level=2)
    boss = citizen("company", "赵大勇", level=2)
    enterprise_of(boss, "临江市青禾餐饮有限公司")
    for n in range(20):
        citizen(f"resident{n}", f"居民{n:02d}", level=1)
    for n in range(6):
        enterprise_of(citizen(f"boss{n}", f"老板{n}", level=2), f"临江市示例{n}号商贸有限公司")
    return me


def test_demo_load_makes_types_and_certificates_once(demo_city):
    made = demo.load()
    assert made["证照类型"] == 4
    names = set(CertificateType.objects.values_list("name", flat=True))
    assert names == {"营业执照", "食品经营许可证", "中华人民共和国残疾人证", "结婚证"}
    assert Certificate.objects.filter(person=demo_city).count() >= 2
    assert Certificate.objects.filter(enterprise__legal_representative__user__username="company").count() >= 2
    statuses = set(Certificate.objects.values_list("status", flat=True))
    assert {Status.VALID, Status.SUSPENDED, Status.REVOKED} <= statuses
    assert Certificate.objects.filter(version=2).exists()
    count = Certificate.objects.count()
    assert count >= 30
    again = demo.load()
    assert again["电子证照"] == 0 and Certificate.objects.count() == count
    licence = Certificate.objects.filter(certificate_type__name="营业执照").first()
    assert services.verify(qr=licence.qr_payload).outcome in ("valid", "suspended", "revoked", "expired")
