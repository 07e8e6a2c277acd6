"""Seals fixtures: an organisation administrator and an active seal made through the real lifecycle."""

from __future__ import annotations

import io

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests import factories
from yiwang.identity.models import Role
from yiwang.seals import services


@pytest.fixture
def clerk_a(org_a):
    return factories.staff("clerk_a", org_a, Role.CLERK)


def make_active_seal(user, organization, seal_type="approval"):
    seal = services.apply_for_seal(user, organization, seal_type, reason="办理行政审批")
    seal = services.review_seal(user, seal)
    seal = services.produce_seal(user, seal)
    seal = services.file_seal(user, seal, reason="公安机关备案")
    return services.activate_seal(user, seal)


@pytest.fixture
def active_seal(org_admin_a, org_a):
    return make_active_seal(org_admin_a, org_a)


def simple_pdf(pages: int = 2) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        c.drawString(72, 760, f"Decision notice page {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()
