"""一件事一次办: one application for several departments' items, handled in parallel.

The applicant fills one merged form (fields shared by the items are asked once) and uploads each
distinct material once (materials of the same name are given to every item that lists them).
Submission makes a bundle record and one sub-case per item in a single transaction: all of them,
or none. Each sub-case then runs in its own department with its own time limit (并联审批); the
bundle is complete when every sub-case has ended.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yiwang.applications import formschema
from yiwang.applications.selectors import form_definition
from yiwang.cases import numbering, services
from yiwang.cases.models import Bundle, BundleCase, Case
from yiwang.core import audit
from yiwang.core.errors import NotFound, StateError, ValidationFailed


@dataclasses.dataclass
class BundlePlan:
    """What the applicant is asked for: the merged form and the distinct materials."""

    bundle: Bundle
    items: list  # ServiceItem, in order
    form: dict
    mapping: list[dict[str, str]]
    materials: list[dict]  # {"key": "m1", "name": ..., "required": bool, "condition": ..., "targets": [(item_pk, material_pk)]}


def active_bundles():
    return Bundle.objects.filter(is_active=True).prefetch_related("items")


def get_bundle(code: str) -> Bundle:
    bundle = Bundle.objects.filter(code=code, is_active=True).first()
    if bundle is None:
        raise NotFound("未找到该“一件事” / bundle not found")
    return bundle


def plan(bundle: Bundle, kind: str) -> BundlePlan:
    from yiwang.catalog.models import ServiceItem

    items = list(ServiceItem.objects.filter(pk__in=bundle.items.values("pk"), state=ServiceItem.State.ACTIVE,
                                            published_version__isnull=False)
                 .select_related("published_version", "organization").order_by("organization__name", "pk"))
    if len(items) < 2:
        raise StateError("该“一件事”暂不可申请 / this bundle is not open for applications")
    forms = [form_definition(i.published_version, kind) for i in items]
    merged, mapping = formschema.merge(forms, titles=[i.published_version.name for i in items])
    by_name: dict[str, dict] = {}
    for item in items:
        for m in item.published_version.materials.all():
            entry = by_name.setdefault(m.name, {"key": f"m{len(by_name) + 1}", "name": m.name, "required": False,
                                                "condition": m.condition, "targets": [], "items": []})
            entry["required"] = entry["required"] or m.required
            entry["targets"].append((item.pk, m.pk))
            entry["items"].append(item.published_version.name)
    return BundlePlan(bundle, items, merged, mapping, list(by_name.values()))


def submit_bundle(user, bundle: Bundle, *, form_data: dict, files: dict[str, Any], enterprise=None,
                  idempotency_key: str = "", delivery: str = Case.Delivery.WINDOW) -> BundleCase:
    """提交一件事: every sub-case or none. ``files`` maps a plan material key (``m1``…) to an upload."""
    key = (idempotency_key or "").strip()[:60]
    if key:
        done = Case.objects.filter(applicant_user=user, idempotency_key=f"{key}:1").select_related("bundle").first()
        if done is not None and done.bundle is not None:
            return done.bundle
    p = plan(bundle, "legal" if enterprise is not None else "person")
    errors: dict[str, list[str]] = {}
    errors.update({f"form.{k}": v for k, v in formschema.validate(p.form, form_data).items()})
    for m in p.materials:
        if m["required"] and files.get(m["key"]) is None:
            errors[m["key"]] = [f"请上传“{m['name']}” / please upload \u201c{m['name']}\u201d"]
    if errors:
        raise ValidationFailed("申请内容有误，请按提示修改 / some answers or materials need attention", fields=errors)
    per_item = formschema.split(form_data, p.mapping)
    try:
        with transaction.atomic():
            now = timezone.now()
            record = BundleCase.objects.create(bundle=bundle, number=numbering.next_bundle_number(now), applicant_user=user,
                                               submitted_at=now)
            for index, (item, data) in enumerate(zip(p.items, per_item, strict=True), start=1):
                item_files = {}
                for m in p.materials:
                    upload = files.get(m["key"])
                    for item_pk, material_pk in m["targets"]:
                        if upload is not None and item_pk == item.pk:
                            upload.seek(0)
                            item_files[material_pk] = upload
                try:
                    services.submit_application(
                        user, item=item, form_data=data, files=item_files, enterprise=enterprise,
                        idempotency_key=f"{key}:{index}" if key else "", delivery=delivery, channel="bundle",
                        bundle=record)
                except ValidationFailed as exc:
                    raise ValidationFailed(exc.message, fields=_to_plan_fields(exc.fields, p, item)) from exc
            audit.record("cases.bundle.submit", "BundleCase", record.number,
                         detail={"bundle": bundle.code, "cases": len(p.items)}, actor=audit.actor_name(user))
            return record
    except IntegrityError:
        if key:
            done = Case.objects.filter(applicant_user=user, idempotency_key=f"{key}:1").first()
            if done is not None and done.bundle_id:
                return done.bundle
        raise


def _to_plan_fields(fields: dict[str, list[str]], p: BundlePlan, item) -> dict[str, list[str]]:
    """Name a sub-case's errors after the merged form's fields and the plan's materials."""
    index = p.items.index(item)
    out: dict[str, list[str]] = {}
    for key, messages in fields.items():
        if key.startswith("form."):
            own = key[5:]
            out[f"form.{p.mapping[index].get(own, own)}"] = messages
        elif key.startswith("material_"):
            mid = int(key.split("_", 1)[1]) if key.split("_", 1)[1].isdigit() else None
            plan_key = next((m["key"] for m in p.materials if (item.pk, mid) in m["targets"]), key)
            out[plan_key] = messages
        else:
            out[key] = messages
    return out


def progress(record: BundleCase) -> dict:
    """Overall progress: sub-cases ended / all, and each sub-case's state in words."""
    cases = list(record.cases.select_related("organization").order_by("pk"))
    ended = [c for c in cases if c.status in Case.FINAL_STATUSES]
    return {"cases": cases, "total": len(cases), "ended": len(ended),
            "percent": round(100 * len(ended) / len(cases)) if cases else 0,
            "complete": record.completed_at is not None,
            "refused": [c for c in cases if c.decision == Case.Decision.REFUSED or c.status == Case.Status.NOT_ACCEPTED]}


@transaction.atomic
def define_bundle(user, *, code: str, name: str, description: str, items: list) -> Bundle:
    """Create or update a bundle (platform administrators; used by the demo loader)."""
    bundle, _ = Bundle.objects.update_or_create(code=code, defaults={"name": name, "description": description})
    bundle.items.set(items)
    audit.record("cases.bundle.define", "Bundle", code, detail={"items": [i.implementation_code for i in items]},
                 actor=audit.actor_name(user) if user is not None else "system")
    return bundle
