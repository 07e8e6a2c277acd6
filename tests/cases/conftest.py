"""A city with a service centre, a department with its case staff, a citizen and a published item."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories
from tests.identity.helpers_levels import citizen as make_citizen
from yiwang.core.models import Organization
from yiwang.identity.models import Role

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name: str = "申请书.pdf", data: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


@pytest.fixture
def centre(city):
    org = factories.organization("临江市政务服务中心", city["city"], "0002")
    org.kind = Organization.Kind.CENTRE
    org.save()
    return org


@pytest.fixture
def people(centre, org_a, org_b):
    return {
        "clerk": factories.staff("clerk_c", centre, Role.CLERK),
        "reviewer": factories.staff("reviewer_a", org_a, Role.REVIEWER),
        "reviewer2": factories.staff("reviewer_a2", org_a, Role.REVIEWER),
        "approver": factories.staff("approver_a", org_a, Role.APPROVER),
        "approver2": factories.staff("approver_a2", org_a, Role.APPROVER),
        "supervisor": factories.staff("supervisor_a", org_a, Role.SUPERVISOR),
        "reviewer_b": factories.staff("reviewer_b", org_b, Role.REVIEWER),
        "approver_b": factories.staff("approver_b", org_b, Role.APPROVER),
    }


@pytest.fixture
def applicant(db):
    return make_citizen("applicant1", "王小明", level=2).user


@pytest.fixture
def other_applicant(db):
    return make_citizen("applicant2", "刘红", level=2).user


@pytest.fixture
def item(published):
    from yiwang.catalog.models import ServiceItem

    return ServiceItem.objects.get(pk=published.item_id)


def form_for(user) -> dict:
    person = user.person
    return {"applicant_name": person.name, "id_number": person.id_number, "mobile": person.mobile,
            "address": "临江市滨江区江滨路1号", "description": "申请开办小餐馆"}


def all_files(item) -> dict:
    return {m.pk: pdf(f"{m.name}.pdf") for m in item.published_version.materials.all()}


def submit(user, item, **kw):
    from yiwang.cases import services

    kw.setdefault("form_data", form_for(user))
    kw.setdefault("files", all_files(item))
    return services.submit_application(user, item=item, **kw)


def open_step(case, key: str):
    step = case.steps.filter(state="open", key=key).first()
    assert step is not None, f"no open step {key}: {[s.key for s in case.steps.filter(state='open')]}"
    return step


def act(user, case, key: str, outcome: str, **kw):
    from yiwang.cases import services

    case.refresh_from_db()
    return services.act(user, case, step_id=open_step(case, key).pk, outcome=outcome,
                        lock_version=case.lock_version, **kw)
