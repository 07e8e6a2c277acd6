"""Certificate fixtures: types of the catalog mapped to the case tests' item, staff who act on
certificates, and certificates issued through the real services."""

from __future__ import annotations

import pytest

from tests import factories
from tests.cases.conftest import applicant, centre, item, other_applicant, people  # noqa: F401
from tests.identity.helpers_levels import citizen, enterprise_of
from yiwang.certificates import services
from yiwang.identity.models import Role

FOOD_FIELDS = [
    {"name": "operator", "label": "经营者名称", "type": "string", "key": True},
    {"name": "legal_rep", "label": "法定代表人（负责人）", "type": "string", "key": True, "mask": "name"},
    {"name": "address", "label": "经营场所", "type": "string", "mask": "address"},
    {"name": "scope", "label": "经营项目", "type": "string", "key": True},
    {"name": "case_number", "label": "办件编号", "type": "string", "required": False},
]
FOOD_MAPPING = {"operator": "enterprise.name|applicant.name", "legal_rep": "enterprise.legal_representative",
                "address": "form.address|enterprise.address", "scope": "form.scope|=预包装食品销售（含冷藏冷冻食品）",
                "case_number": "case.number"}
DISABILITY_FIELDS = [
    {"name": "kind", "label": "残疾类别", "type": "string", "key": True},
    {"name": "grade", "label": "残疾等级", "type": "string", "key": True},
    {"name": "address", "label": "户籍地址", "type": "string", "mask": "address", "required": False},
    {"name": "assessed_on", "label": "评定日期", "type": "date", "required": False},
]


@pytest.fixture
def approver(org_a):
    return factories.staff("cert_approver_a", org_a, Role.APPROVER)


@pytest.fixture
def approver2(org_a):
    return factories.staff("cert_approver_a2", org_a, Role.APPROVER)


@pytest.fixture
def cert_admin(org_a):
    return factories.staff("cert_catalog_a", org_a, Role.CATALOG_ADMIN)


@pytest.fixture
def food_type(cert_admin, org_a, item):  # noqa: F811
    return services.save_type(
        cert_admin, name="食品经营许可证", type_code=f"{org_a.uscc}001", defining_organization=org_a,
        issuing_organization=org_a, holder_kind="enterprise", fields=FOOD_FIELDS, form_mapping=FOOD_MAPPING,
        validity_years=5, template="permit", service_items=[item], stands_for_materials=["食品经营许可证"])


@pytest.fixture
def disability_type(cert_admin, org_a):
    return services.save_type(
        cert_admin, name="中华人民共和国残疾人证", type_code=f"{org_a.uscc}002", defining_organization=org_a,
        issuing_organization=org_a, holder_kind="person", fields=DISABILITY_FIELDS, validity_years=10,
        template="card")


@pytest.fixture
def holder(db):
    return citizen("cert_holder", "李春燕", level=2)


@pytest.fixture
def company(applicant):  # noqa: F811
    return enterprise_of(applicant.person, "临江市青禾餐饮有限公司")


@pytest.fixture
def certificate(disability_type, holder, approver):
    return services.issue(disability_type, holder=holder, user=approver,
                          data={"kind": "肢体残疾", "grade": "二级", "address": "临江市滨江区江滨路1号"})
