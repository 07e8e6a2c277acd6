"""Use cases of the shared kernel: administrative regions (行政区划) and organisations (组织机构).

Only platform administrators maintain these. Every function runs in one transaction,
validates its input completely before writing, and records an audit entry.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from yiwang.core import audit, validators
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization, Region
from yiwang.identity import scoping

ORG_FIELDS = ["uscc", "name", "short_name", "kind", "nature", "department_code", "parent", "region",
              "address", "phone"]
_LIMITS = {"name": 100, "short_name": 40, "address": 200, "phone": 40}


def _require_platform_admin(user) -> None:
    if not scoping.is_platform_admin(user):
        raise NotPermitted("只有平台管理员可以维护区划和机构 / only platform administrators may do this")


def _actor(user) -> str:
    return audit.actor_name(user)


def region_snapshot(region: Region) -> dict[str, Any]:
    return {"code": region.code, "name": region.name, "level": region.level,
            "parent": region.parent.code if region.parent_id else None}


def organization_snapshot(org: Organization) -> dict[str, Any]:
    return {"uscc": org.uscc, "name": org.name, "short_name": org.short_name, "kind": org.kind,
            "nature": org.nature, "department_code": org.department_code,
            "parent": org.parent.uscc if org.parent_id else None, "region": org.region.code,
            "address": org.address, "phone": org.phone, "is_active": org.is_active}


def _clean_region_name(name: Any, errors: dict[str, list[str]]) -> str:
    name = str(name or "").strip()
    if not name:
        errors.setdefault("name", []).append("请填写名称 / enter the name")
    elif len(name) > 60:
        errors.setdefault("name", []).append("名称不超过60字 / at most 60 characters")
    return name


# ----------------------------------------------------------------------------- regions
@transaction.atomic
def create_region(user, *, code: str, name: str) -> Region:
    """A new region; its level and parent follow from the 12-digit division code."""
    _require_platform_admin(user)
    errors: dict[str, list[str]] = {}
    name = _clean_region_name(name, errors)
    parent = None
    try:
        code = validators.check_division_code(str(code or ""))
    except validators.InvalidCode as exc:
        errors.setdefault("code", []).append(str(exc))
    else:
        if Region.objects.filter(code=code).exists():
            errors.setdefault("code", []).append("该区划代码已存在 / this division code already exists")
        parent_code = validators.division_parent(code)
        if parent_code is not None:
            parent = Region.objects.filter(code=parent_code).first()
            if parent is None:
                errors.setdefault("code", []).append(
                    f"上级区划 {parent_code} 尚未建立，请先建立上级区划 / the parent region {parent_code} does not exist")
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)
    region = Region.objects.create(code=code, name=name, level=validators.division_level(code), parent=parent)
    audit.record("core.region.create", "Region", region.code, after=region_snapshot(region), actor=_actor(user))
    return region


@transaction.atomic
def update_region(user, region: Region, *, name: str) -> Region:
    """Rename a region. The code is its identity and never changes."""
    _require_platform_admin(user)
    region = Region.objects.select_for_update().get(pk=region.pk)
    errors: dict[str, list[str]] = {}
    name = _clean_region_name(name, errors)
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)
    before = region_snapshot(region)
    region.name = name
    region.save(update_fields=["name"])
    audit.record("core.region.update", "Region", region.code, before=before, after=region_snapshot(region),
                 actor=_actor(user))
    return region


# ----------------------------------------------------------------------------- organisations
def _clean_organization(data: dict[str, Any], org: Organization | None) -> dict[str, Any]:
    """Validated organisation attributes; ``parent`` is given by USCC and ``region`` by division code."""
    unknown = set(data) - set(ORG_FIELDS)
    if unknown:
        raise ValidationFailed("含有未知字段", fields={f: ["未知字段 / unknown field"] for f in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for f in ("name", "short_name", "address", "phone"):
        if f in data or org is None:
            value = str(data.get(f) or "").strip()
            if len(value) > _LIMITS[f]:
                errors.setdefault(f, []).append(f"不超过{_LIMITS[f]}字 / at most {_LIMITS[f]} characters")
            out[f] = value
    if "name" in out and not out["name"]:
        errors.setdefault("name", []).append("请填写机构名称 / enter the organisation's name")

    if "uscc" in data or org is None:
        try:
            uscc = validators.check_uscc(str(data.get("uscc") or ""))
        except validators.InvalidCode as exc:
            errors.setdefault("uscc", []).append(str(exc))
        else:
            if org is not None and uscc != org.uscc and org.items.exists():
                errors.setdefault("uscc", []).append(
                    "该机构已有事项，其实施编码包含信用代码，不能修改 / the code is part of existing item codes")
            elif Organization.objects.filter(uscc=uscc).exclude(pk=getattr(org, "pk", None)).exists():
                errors.setdefault("uscc", []).append(
                    "该统一社会信用代码已被其他机构使用 / another organisation has this credit code")
            out["uscc"] = uscc

    for f, enum in (("kind", Organization.Kind), ("nature", Organization.Nature)):
        if f in data or org is None:
            value = str(data.get(f) or "").strip() or (
                Organization.Kind.DEPARTMENT if f == "kind" else Organization.Nature.STATUTORY)
            if value not in enum.values:
                errors.setdefault(f, []).append("请从列表中选择 / choose one of the listed values")
            out[f] = value

    if "department_code" in data or org is None:
        value = str(data.get("department_code") or "").strip()
        if value and not re.fullmatch(r"\d{4}", value):
            errors.setdefault("department_code", []).append("部门编码应为4位数字 / department code must be 4 digits")
        out["department_code"] = value

    if "region" in data or org is None:
        value = data.get("region")
        region = value if isinstance(value, Region) else Region.objects.filter(code=str(value or "").strip()).first()
        if region is None:
            errors.setdefault("region", []).append(
                "请选择已有的行政区划 / choose an existing region" if value else "请选择服务区域 / choose the region")
        out["region"] = region

    if "parent" in data:
        value = data.get("parent")
        parent = None
        if isinstance(value, Organization):
            parent = value
        elif value:
            parent = Organization.objects.filter(uscc=str(value).strip().upper()).first()
            if parent is None:
                errors.setdefault("parent", []).append("上级机构不存在 / the parent organisation does not exist")
        if parent is not None and org is not None:
            node, seen = parent, set()
            while node is not None and node.pk not in seen:
                if node.pk == org.pk:
                    errors.setdefault("parent", []).append(
                        "上级机构不能是本机构或其下级机构 / the parent cannot be the organisation itself or one below it")
                    break
                seen.add(node.pk)
                node = node.parent
        out["parent"] = parent
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)
    return out


@transaction.atomic
def create_organization(user, *, data: dict[str, Any]) -> Organization:
    _require_platform_admin(user)
    clean = _clean_organization(dict(data), None)
    org = Organization.objects.create(**clean)
    audit.record("core.organization.create", "Organization", org.uscc, after=organization_snapshot(org),
                 actor=_actor(user))
    return org


@transaction.atomic
def update_organization(user, org: Organization, *, data: dict[str, Any]) -> Organization:
    _require_platform_admin(user)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    before = organization_snapshot(org)
    clean = _clean_organization(dict(data), org)
    for k, v in clean.items():
        setattr(org, k, v)
    org.save()
    audit.record("core.organization.update", "Organization", org.uscc, before=before,
                 after=organization_snapshot(org), actor=_actor(user))
    return org


@transaction.atomic
def deactivate_organization(user, org: Organization, *, reason: str = "") -> Organization:
    """停用: the organisation stays on record (items and history refer to it) but is no longer chosen."""
    _require_platform_admin(user)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ValidationFailed("原因过长", fields={"reason": ["不超过200字 / at most 200 characters"]})
    if not org.is_active:
        raise StateError("该机构已停用 / the organisation is already inactive")
    before = organization_snapshot(org)
    org.is_active = False
    org.save(update_fields=["is_active"])
    audit.record("core.organization.deactivate", "Organization", org.uscc, before=before,
                 after=organization_snapshot(org), detail={"reason": reason}, actor=_actor(user))
    return org


@transaction.atomic
def reactivate_organization(user, org: Organization) -> Organization:
    _require_platform_admin(user)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if org.is_active:
        raise StateError("该机构已在用 / the organisation is already active")
    before = organization_snapshot(org)
    org.is_active = True
    org.save(update_fields=["is_active"])
    audit.record("core.organization.reactivate", "Organization", org.uscc, before=before,
                 after=organization_snapshot(org), actor=_actor(user))
    return org
