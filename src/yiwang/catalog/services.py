"""Use cases of the service catalog. The only code that changes catalog state; every
function runs in one transaction and writes its audit entry.

Lifecycle of a version: draft → submitted → reviewed → published (the previous published
version becomes superseded). Editing a published item starts a new draft version; a
published version never changes. Retiring an item withdraws it from portal, API and search.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from yiwang.catalog import codes, search
from yiwang.catalog.models import BasicItem, ItemVersion, Material, ServiceItem, Theme
from yiwang.core import audit, validators
from yiwang.core.errors import Conflict, NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.i18n import bilingual_validation
from yiwang.core.models import Organization
from yiwang.identity import scoping
from yiwang.identity.models import Role

VERSION_FIELDS = [
    "name", "aliases", "item_type", "exercise_level", "power_source", "entrusted_org", "joint_orgs",
    "service_objects", "legal_basis", "conditions", "process", "special_procedures", "case_type",
    "statutory_limit_days", "statutory_limit_note", "promised_limit_days", "promised_limit_note",
    "charges_fee", "fee_standard", "fee_basis", "handling_forms", "online_depth", "visits",
    "onsite_reason", "online_url", "scope", "in_hall", "supports_express", "supports_payment",
    "supports_appointment", "supports_self_service", "quantity_limit", "min_assurance_level",
    "location", "hours", "consult_phone", "supervise_phone", "result_name", "result_type",
    "intermediary", "effective_date", "cancel_date",
]
MATERIAL_FIELDS = ["name", "kind", "media", "originals", "copies", "required", "condition", "source",
                   "source_detail", "paper_size", "notes"]
MULTI_FIELDS = {
    "service_objects": codes.ServiceObject, "handling_forms": codes.HandlingForm,
    "online_depth": codes.OnlineDepth,
}


def four_eyes() -> bool:
    return getattr(settings, "YIWANG_CATALOG_FOUR_EYES", True)


# ----------------------------------------------------------------------------- snapshots
def snapshot(version: ItemVersion) -> dict[str, Any]:
    """Every element of a version as plain data: for audit digests, diffs and the API."""
    data = {f: getattr(version, f) for f in VERSION_FIELDS}
    for f in ("effective_date", "cancel_date"):
        data[f] = data[f].isoformat() if data[f] else None
    data["online_level"] = version.online_level
    data["themes"] = sorted(version.themes.values_list("code", flat=True)) if version.pk else []
    data["materials"] = [
        {**{f: getattr(m, f) for f in MATERIAL_FIELDS},
         "blank_form": m.blank_form.name or "", "sample": m.sample.name or ""}
        for m in (version.materials.all() if version.pk else [])
    ]
    return data


# ----------------------------------------------------------------------------- listing columns
OPEN_STATUSES = (ItemVersion.Status.DRAFT, ItemVersion.Status.SUBMITTED, ItemVersion.Status.REVIEWED)
LISTING_FIELDS = ("latest_name", "latest_type", "latest_updated_at", "open_status", "open_number")


def refresh_listing(item: ServiceItem | int) -> dict[str, Any]:
    """列表字段: copy the latest version's name, type and change time and the open (unpublished)
    version's status and number onto the item, so the staff list reads one indexed table.

    Called by every use case that changes a version, inside its transaction; ``item`` may be an
    instance (its attributes are updated too) or an id. Returns the values written.
    """
    item_id = item if isinstance(item, int) else item.pk
    versions = list(ItemVersion.objects.filter(item_id=item_id).order_by("-number")
                    .values_list("name", "item_type", "updated_at", "status", "number"))
    latest = versions[0] if versions else None
    open_v = next((v for v in versions if v[3] in OPEN_STATUSES), None)
    values = {"latest_name": latest[0] if latest else "", "latest_type": latest[1] if latest else "",
              "latest_updated_at": latest[2] if latest else None,
              "open_status": open_v[3] if open_v else "", "open_number": open_v[4] if open_v else None}
    ServiceItem.objects.filter(pk=item_id).update(**values)
    if not isinstance(item, int):
        for field, value in values.items():
            setattr(item, field, value)
    return values


# ----------------------------------------------------------------------------- permissions
def _require_catalog_admin(user, organization_id: int) -> None:
    if not scoping.can_act_for(user, organization_id, Role.CATALOG_ADMIN):
        raise NotPermitted("无权管理该机构的事项 / you may not manage this organisation's items")


def items_for(user):
    """Implementation items the user may maintain (their organisation and its children)."""
    return scoping.scope_queryset(ServiceItem.objects.all(), user, role=Role.CATALOG_ADMIN)


def get_item_for(user, implementation_code: str) -> ServiceItem:
    item = items_for(user).filter(implementation_code=implementation_code).first()
    if item is None:
        raise NotFound("事项不存在 / item not found")
    return item


# ----------------------------------------------------------------------------- validation
def _clean_version_data(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(VERSION_FIELDS) - {"themes", "materials", "change_note"}
    if unknown:
        raise ValidationFailed("含有未知字段", fields={f: ["未知字段 / unknown field"] for f in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    for field, enum in MULTI_FIELDS.items():
        if field in data:
            value = data[field]
            if isinstance(value, str):
                value = [v for v in value.replace("，", ",").split(",") if v]
            if not isinstance(value, list) or any(str(v) not in enum.values for v in value):
                errors[field] = [f"取值应为 {'、'.join(enum.values)} 中的代码 / values must be codes among "
                                 f"{', '.join(enum.values)}"]
            else:
                data[field] = sorted({str(v) for v in value})
    if errors:
        raise ValidationFailed("填写有误", fields=errors)
    return data


def _validate_version(version: ItemVersion, themes: list[str] | None, materials: list[dict] | None) -> None:
    errors = bilingual_validation(lambda: version.full_clean(exclude=["item", "number", "themes"]))
    if version.promised_limit_days is not None and version.statutory_limit_days is not None \
            and version.promised_limit_days > version.statutory_limit_days:
        errors.setdefault("promised_limit_days", []).append(
            "承诺时限不能超过法定时限 / the promised limit cannot exceed the statutory limit")
    if not version.service_objects:
        errors.setdefault("service_objects", []).append("请至少选择一类服务对象 / choose at least one service object")
    if version.charges_fee and not version.fee_standard.strip():
        errors.setdefault("fee_standard", []).append("收费事项须写明收费标准 / a fee needs its standard")
    if version.visits > 0 and not version.onsite_reason.strip() and "5" in (version.online_depth or []):
        errors.setdefault("onsite_reason", []).append(
            "需到现场办理时请写明原因 / give the reason a visit is required")
    if themes is not None:
        known = set(Theme.objects.filter(code__in=themes).values_list("code", flat=True))
        missing = [t for t in themes if t not in known]
        if missing:
            errors.setdefault("themes", []).append(f"未知主题：{'、'.join(missing)} / unknown themes")
    if materials is not None:
        for i, m in enumerate(materials):
            mat = Material(version=version, **{k: v for k, v in m.items() if k in MATERIAL_FIELDS})
            m_errors = bilingual_validation(lambda mat=mat: mat.full_clean(exclude=["version", "blank_form", "sample"]))
            if not mat.required and not (mat.condition or "").strip():
                m_errors.setdefault("condition", []).append(
                    "非必要材料须写明何种情形下提交 / say when an optional material is needed")
            for k, msgs in m_errors.items():
                errors.setdefault(f"materials[{i}].{k}", []).extend(msgs)
            extra = set(m) - set(MATERIAL_FIELDS) - {"blank_form", "sample", "order", "id"}
            for k in extra:
                errors.setdefault(f"materials[{i}].{k}", []).append("未知字段 / unknown field")
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)


def _write_materials(version: ItemVersion, materials: list[dict]) -> None:
    version.materials.all().delete()
    for order, m in enumerate(materials, start=1):
        mat = Material(version=version, order=order, **{k: v for k, v in m.items() if k in MATERIAL_FIELDS})
        for f in ("blank_form", "sample"):
            value = m.get(f)
            if isinstance(value, str):  # a file kept from an earlier version
                getattr(mat, f).name = value
            elif value:  # a checked upload
                getattr(mat, f).save(value.name, value, save=False)
        mat.save()


# ----------------------------------------------------------------------------- codes
def allocate_basic_code(organization: Organization, item_type: str, name: str,
                        scope: str | None = None) -> BasicItem:
    """A new basic-directory item under the organisation's department code and the province scope."""
    if not organization.department_code:
        raise ValidationFailed("机构缺少部门编码", fields={"organization": [
            "该机构未设置4位部门编码，无法生成基本编码 / the organisation has no department code"]})
    scope = scope or organization.region.code[:2]
    prefix = f"{scope}{organization.department_code}"
    last = BasicItem.objects.filter(basic_code__startswith=prefix).aggregate(m=Max("basic_code"))["m"]
    main = int(last[6:9]) + 1 if last else 1
    if main > 999:
        raise ValidationFailed("编码已用尽", fields={"organization": ["该部门的主项编码已用尽 / codes exhausted"]})
    return BasicItem.objects.create(basic_code=validators.make_basic_code(scope, organization.department_code, main),
                                    name=name, item_type=item_type, department_code=organization.department_code)


# ----------------------------------------------------------------------------- use cases
@transaction.atomic
def create_item(user, *, organization: Organization, data: dict[str, Any], basic_item: BasicItem | None = None,
                themes: list[str] | None = None, materials: list[dict] | None = None) -> ItemVersion:
    """A new implementation item of ``organization`` with its first draft version."""
    _require_catalog_admin(user, organization.id)
    data = _clean_version_data(dict(data))
    draft = ItemVersion(number=1, status=ItemVersion.Status.DRAFT, created_by=_user(user),
                        change_note=data.pop("change_note", "") or "新建事项",
                        **{k: v for k, v in data.items() if k in VERSION_FIELDS})
    draft.exercise_level = draft.exercise_level or str(organization.level)
    draft.online_level = codes.online_level(draft.online_depth, draft.visits or 0)
    _validate_version(draft, themes, materials)
    if basic_item is None:
        basic_item = allocate_basic_code(organization, draft.item_type, draft.name)
    code = validators.make_implementation_code(organization.uscc, int(draft.exercise_level), basic_item.basic_code)
    if ServiceItem.objects.filter(implementation_code=code).exists():
        raise Conflict("该机构已有此事项的实施清单 / this organisation already implements that item",
                       fields={"basic_code": ["实施编码已存在 / implementation code exists"]})
    item = ServiceItem.objects.create(implementation_code=code, basic_item=basic_item,
                                      organization=organization, region=organization.region)
    draft.item = item
    draft.save()
    if themes:
        draft.themes.set(Theme.objects.filter(code__in=themes))
    _write_materials(draft, materials or [])
    refresh_listing(item)
    audit.record("catalog.item.create", "ServiceItem", code, after=snapshot(draft),
                 actor=audit.actor_name(user) if user else None)
    return draft


@transaction.atomic
def update_draft(user, version: ItemVersion, *, data: dict[str, Any], expected_lock: int | None = None,
                 themes: list[str] | None = None, materials: list[dict] | None = None) -> ItemVersion:
    """Change a draft. ``expected_lock`` is the lock_version the editor saw: a stale edit is refused."""
    version = ItemVersion.objects.select_for_update().select_related("item").get(pk=version.pk)
    _require_catalog_admin(user, version.item.organization_id)
    if version.status != ItemVersion.Status.DRAFT:
        raise StateError("只有草稿可以修改；已发布的版本请先“修订”生成新草稿 / only drafts can be edited")
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict("该草稿已被他人修改，请刷新后再改 / someone else changed this draft; reload and try again",
                       fields={"lock_version": ["版本已过期 / stale version"]})
    before = snapshot(version)
    data = _clean_version_data(dict(data))
    if "change_note" in data:
        version.change_note = data.pop("change_note") or ""
    for k, v in data.items():
        setattr(version, k, v)
    version.online_level = codes.online_level(version.online_depth, version.visits or 0)
    _validate_version(version, themes, materials)
    version.lock_version += 1
    version.save()
    if themes is not None:
        version.themes.set(Theme.objects.filter(code__in=themes))
    if materials is not None:
        _write_materials(version, materials)
    refresh_listing(version.item)
    audit.record("catalog.version.update", "ItemVersion", version.pk, before=before, after=snapshot(version),
                 detail={"item": version.item.implementation_code, "number": version.number},
                 actor=audit.actor_name(user))
    return version


def _transition(user, version: ItemVersion, expected: str, action: str) -> ItemVersion:
    version = ItemVersion.objects.select_for_update().select_related("item").get(pk=version.pk)
    _require_catalog_admin(user, version.item.organization_id)
    if version.status != expected:
        raise StateError(
            f"当前状态为“{version.get_status_display()}”，不能{action} / cannot {action} a version that is "
            f"{version.status}")
    return version


@transaction.atomic
def submit_version(user, version: ItemVersion) -> ItemVersion:
    version = _transition(user, version, ItemVersion.Status.DRAFT, "提交审核")
    if not version.materials.exists():
        raise ValidationFailed("请至少列出一项申请材料", fields={"materials": [
            "提交审核前请至少列出一项申请材料 / list at least one material before submitting"]})
    version.status = ItemVersion.Status.SUBMITTED
    version.submitted_by, version.submitted_at = _user(user), timezone.now()
    version.lock_version += 1
    version.save()
    refresh_listing(version.item)
    audit.record("catalog.version.submit", "ItemVersion", version.pk, after=snapshot(version),
                 detail={"item": version.item.implementation_code, "number": version.number},
                 actor=audit.actor_name(user))
    return version


@transaction.atomic
def review_version(user, version: ItemVersion, *, approve: bool, opinion: str = "") -> ItemVersion:
    """审核: approve to 'reviewed', or return to draft with a reasoned opinion."""
    version = _transition(user, version, ItemVersion.Status.SUBMITTED, "审核")
    if four_eyes() and version.submitted_by_id and version.submitted_by_id == getattr(user, "id", None):
        raise NotPermitted("审核须由提交人以外的管理员进行 / a different administrator must review")
    opinion = (opinion or "").strip()
    if not approve and not opinion:
        raise ValidationFailed("退回须写明理由", fields={"opinion": ["退回修改时请写明理由 / give a reason"]})
    if len(opinion) > 500:
        raise ValidationFailed("意见过长", fields={"opinion": ["审核意见不超过500字 / at most 500 characters"]})
    version.status = ItemVersion.Status.REVIEWED if approve else ItemVersion.Status.DRAFT
    version.reviewed_by, version.reviewed_at, version.review_opinion = _user(user), timezone.now(), opinion
    version.lock_version += 1
    version.save()
    refresh_listing(version.item)
    audit.record("catalog.version.review", "ItemVersion", version.pk,
                 detail={"item": version.item.implementation_code, "number": version.number,
                         "approved": approve, "opinion": opinion}, actor=audit.actor_name(user))
    return version


@transaction.atomic
def publish_version(user, version: ItemVersion) -> ItemVersion:
    version = _transition(user, version, ItemVersion.Status.REVIEWED, "发布")
    item = ServiceItem.objects.select_for_update().get(pk=version.item_id)
    if item.state == ServiceItem.State.RETIRED:
        raise StateError("事项已取消，不能发布 / the item is retired")
    previous = item.published_version
    if previous is not None:
        ItemVersion.objects.filter(pk=previous.pk).update(status=ItemVersion.Status.SUPERSEDED)
    version.status = ItemVersion.Status.PUBLISHED
    version.published_by, version.published_at = _user(user), timezone.now()
    version.lock_version += 1
    version.save()
    item.published_version = version
    item.save(update_fields=["published_version"])
    refresh_listing(item)
    search.index_version(version)
    audit.record("catalog.version.publish", "ItemVersion", version.pk, after=snapshot(version),
                 detail={"item": item.implementation_code, "number": version.number,
                         "supersedes": previous.number if previous else None}, actor=audit.actor_name(user))
    return version


@transaction.atomic
def start_revision(user, item: ServiceItem) -> ItemVersion:
    """修订: a new draft copied from the published version (or the open draft if one exists)."""
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    _require_catalog_admin(user, item.organization_id)
    if item.state == ServiceItem.State.RETIRED:
        raise StateError("事项已取消，不能修订 / the item is retired")
    open_version = item.versions.filter(status__in=OPEN_STATUSES).first()
    if open_version is not None:
        return open_version
    source = item.published_version
    if source is None:
        raise StateError("事项没有已发布版本 / nothing published to revise")
    number = (item.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    draft = ItemVersion(item=item, number=number, status=ItemVersion.Status.DRAFT, created_by=_user(user),
                        change_note="", online_level=source.online_level,
                        **{f: getattr(source, f) for f in VERSION_FIELDS})
    draft.save()
    draft.themes.set(source.themes.all())
    for m in source.materials.all():
        Material.objects.create(version=draft, order=m.order, blank_form=m.blank_form.name, sample=m.sample.name,
                                **{f: getattr(m, f) for f in MATERIAL_FIELDS})
    from yiwang.applications.services import copy_form  # the application form is versioned with the item

    copy_form(source, draft)
    refresh_listing(item)
    audit.record("catalog.version.revise", "ItemVersion", draft.pk, after=snapshot(draft),
                 detail={"item": item.implementation_code, "number": number, "from": source.number},
                 actor=audit.actor_name(user))
    return draft


@transaction.atomic
def retire_item(user, item: ServiceItem, *, reason: str) -> ServiceItem:
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    _require_catalog_admin(user, item.organization_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请写明取消原因", fields={"reason": ["请写明取消原因 / give the reason"]})
    if len(reason) > 200:
        raise ValidationFailed("原因过长", fields={"reason": ["不超过200字 / at most 200 characters"]})
    if item.state == ServiceItem.State.RETIRED:
        raise StateError("事项已经取消 / the item is already retired")
    item.state, item.retired_at, item.retired_reason = ServiceItem.State.RETIRED, timezone.now(), reason
    item.save(update_fields=["state", "retired_at", "retired_reason"])
    item.versions.filter(status__in=OPEN_STATUSES).update(status=ItemVersion.Status.RETIRED)
    refresh_listing(item)
    search.remove_item(item)
    audit.record("catalog.item.retire", "ServiceItem", item.implementation_code, detail={"reason": reason},
                 actor=audit.actor_name(user))
    return item


# ----------------------------------------------------------------------------- diff
LABELS = {f.name: str(f.verbose_name) for f in ItemVersion._meta.get_fields() if hasattr(f, "verbose_name")}
LABELS.update({"themes": "主题分类", "materials": "申请材料", "online_level": "网办深度等级"})


def _render(field: str, value: Any) -> str:
    if field == "materials":
        return "\n".join(
            f"{m['name']}（{codes.MaterialKind(m['kind']).label}，原件{m['originals']}份，复印件{m['copies']}份，"
            f"{'必要' if m['required'] else '非必要：' + m['condition']}，{codes.MaterialSource(m['source']).label}"
            f"{('：' + m['source_detail']) if m['source_detail'] else ''}）" for m in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        enum = MULTI_FIELDS.get(field)
        return "、".join(enum(v).label if enum and v in enum.values else str(v) for v in value)
    if value is None:
        return ""
    return str(value)


def diff_versions(a: ItemVersion, b: ItemVersion) -> list[dict[str, Any]]:
    """Per-field differences from ``a`` to ``b``, with a line diff for long text."""
    sa, sb = snapshot(a), snapshot(b)
    out = []
    for field in [*VERSION_FIELDS, "online_level", "themes", "materials"]:
        if sa.get(field) == sb.get(field):
            continue
        old, new = _render(field, sa.get(field)), _render(field, sb.get(field))
        lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
        out.append({"field": field, "label": LABELS.get(field, field), "old": old, "new": new, "lines": lines})
    return out


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None


def working_deadline(version: ItemVersion, accepted: dt.date) -> dt.date:
    """The promised completion date for an application accepted on ``accepted``."""
    from yiwang.core.calendar import add_working_days

    return add_working_days(accepted, version.promised_limit_days)
