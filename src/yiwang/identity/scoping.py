"""Organisation scoping: the one place that decides which organisations a staff user may see
and act for. Every staff query and action goes through these functions.
"""

from __future__ import annotations

from django.db.models import QuerySet

from yiwang.core.models import Organization
from yiwang.identity.models import Role, StaffAccount

# Roles whose reach includes the organisation's descendants (a department's catalog
# administrator maintains the items of its sub-units; a supervisor oversees them).
DESCENDANT_ROLES = {Role.CATALOG_ADMIN, Role.ORG_ADMIN, Role.SUPERVISOR}


def staff_of(user) -> StaffAccount | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.staff
    except StaffAccount.DoesNotExist:
        return None


def has_role(user, role: str) -> bool:
    staff = staff_of(user)
    return bool(staff and (role in staff.roles or Role.PLATFORM_ADMIN in staff.roles))


def is_platform_admin(user) -> bool:
    staff = staff_of(user)
    return bool(staff and Role.PLATFORM_ADMIN in staff.roles)


def descendant_ids(org_id: int) -> set[int]:
    ids, frontier = {org_id}, [org_id]
    while frontier:
        children = list(Organization.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        frontier = [c for c in children if c not in ids]
        ids.update(frontier)
    return ids


def visible_organization_ids(user, role: str | None = None) -> set[int] | None:
    """Organisation ids the user may act for with ``role``; None means every organisation."""
    staff = staff_of(user)
    if staff is None:
        return set()
    if Role.PLATFORM_ADMIN in staff.roles:
        return None
    if role is not None and role not in staff.roles:
        return set()
    roles = {role} if role else set(staff.roles)
    if roles & DESCENDANT_ROLES:
        return descendant_ids(staff.organization_id)
    return {staff.organization_id}


def scope_queryset(qs: QuerySet, user, *, field: str = "organization", role: str | None = None) -> QuerySet:
    ids = visible_organization_ids(user, role)
    if ids is None:
        return qs
    return qs.filter(**{f"{field}__in": ids})


def can_act_for(user, organization_id: int, role: str | None = None) -> bool:
    ids = visible_organization_ids(user, role)
    return ids is None or organization_id in ids
