"""Read paths of seals, scoped to the organisations the staff member may see."""

from __future__ import annotations

from django.db.models import QuerySet

from yiwang.core.errors import NotFound
from yiwang.core.models import Organization
from yiwang.identity import scoping
from yiwang.identity.models import Role
from yiwang.seals.models import Seal, SealAuthorization


def visible_seals(user) -> QuerySet[Seal]:
    qs = Seal.objects.select_related("organization").defer("image_png", "private_key_encrypted")
    return scoping.scope_queryset(qs, user)


def seal_for(user, pk: int) -> Seal:
    seal = scoping.scope_queryset(Seal.objects.select_related("organization"), user).filter(pk=pk).first()
    if seal is None:
        raise NotFound("未找到该印章 / seal not found")
    return seal


def administered_organizations(user) -> QuerySet[Organization]:
    """Organisations whose seals the user administers (org_admin reach, or all for a platform admin)."""
    qs = Organization.objects.filter(is_active=True).order_by("name")
    return scoping.scope_queryset(qs, user, field="pk", role=Role.ORG_ADMIN)


def applicable_organizations(user) -> QuerySet[Organization]:
    """Organisations the user may apply for a seal of: administered ones, and their own if authorised."""
    ids = set(administered_organizations(user).values_list("pk", flat=True))
    staff = scoping.staff_of(user)
    if staff and SealAuthorization.objects.filter(organization_id=staff.organization_id,
                                                  role__in=list(staff.roles)).exists():
        ids.add(staff.organization_id)
    return Organization.objects.filter(pk__in=ids).order_by("name")


def authorizations(user) -> QuerySet[SealAuthorization]:
    qs = SealAuthorization.objects.select_related("organization", "granted_by")
    return scoping.scope_queryset(qs, user, role=Role.ORG_ADMIN)
