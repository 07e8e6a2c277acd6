"""Use cases of online applications: an item version's form, edited with its version."""

from __future__ import annotations

import json

from django.db import transaction

from yiwang.applications import formschema
from yiwang.applications.models import ItemForm
from yiwang.core import audit
from yiwang.core.errors import NotFound, StateError, ValidationFailed
from yiwang.identity import scoping
from yiwang.identity.models import Role


def parse_definition(text: str) -> dict:
    """The administrator's JSON text as a definition, or per-field errors."""
    try:
        definition = json.loads(text or "")
    except ValueError as exc:
        raise ValidationFailed("表单定义不是有效的JSON", fields={"definition": [
            f"表单定义不是有效的JSON（第{getattr(exc, 'lineno', '?')}行）/ not valid JSON: {exc}"]}) from None
    try:
        formschema.check_definition(definition)
    except formschema.FormDefinitionError as exc:
        raise ValidationFailed("表单定义有误 / the form definition has problems",
                               fields={f"definition.{k}": v for k, v in exc.errors.items()}) from None
    return definition


@transaction.atomic
def set_form(user, version, text: str) -> ItemForm:
    """Set the form of a draft version (published versions never change, nor do their forms)."""
    if not scoping.can_act_for(user, version.item.organization_id, Role.CATALOG_ADMIN):
        raise NotFound("未找到该事项 / item not found")
    if version.status != version.Status.DRAFT:
        raise StateError("只能修改草稿版本的表单，请先修订事项 / only a draft version's form can change; "
                         "start a revision first")
    definition = parse_definition(text)
    before = ItemForm.objects.filter(version=version).values_list("definition", flat=True).first()
    form, _ = ItemForm.objects.update_or_create(version=version, defaults={"definition": definition,
                                                                          "updated_by": user})
    audit.record("applications.form.set", "ItemVersion", version.pk, before=before, after=definition,
                 detail={"item": version.item.implementation_code, "number": version.number},
                 actor=audit.actor_name(user))
    return form


def copy_form(source, target) -> None:
    """A new draft starts with its published version's form (called by the catalog's revision)."""
    own = ItemForm.objects.filter(version=source).values_list("definition", flat=True).first()
    if own is not None:
        ItemForm.objects.update_or_create(version=target, defaults={"definition": own})


# ----------------------------------------------------------------------------- drafts
ALLOWED_MATERIAL_TYPES = (".pdf", ".jpg", ".jpeg", ".png", ".ofd")


@transaction.atomic
def save_draft(user, item, *, enterprise=None, data: dict, files: dict | None = None):
    """Keep what the applicant has filled in and uploaded so far (each file checked on arrival)."""
    import hashlib

    from django.core.files.base import ContentFile

    from yiwang.applications.models import Draft, DraftFile
    from yiwang.core.uploads import check_upload

    draft, _ = Draft.objects.select_for_update().get_or_create(user=user, item=item, enterprise=enterprise)
    draft.data = json.dumps(data, ensure_ascii=False)
    draft.save()
    errors: dict[str, list[str]] = {}
    materials = {m.pk: m for m in item.published_version.materials.all()}
    for material_id, upload in (files or {}).items():
        field = f"material_{material_id}"
        if material_id not in materials:
            continue
        try:
            checked = check_upload(upload, field, ALLOWED_MATERIAL_TYPES)
        except ValidationFailed as exc:
            errors.update(exc.fields)
            continue
        content = checked.read()
        old = DraftFile.objects.filter(draft=draft, material_id=material_id).first()
        if old is not None:
            stale = old.file.name
            transaction.on_commit(lambda name=stale, storage=old.file.storage: storage.delete(name))
            old.delete()
        df = DraftFile(draft=draft, material=materials[material_id], original_name=checked.name[:120],
                       size=len(content), sha256=hashlib.sha256(content).hexdigest())
        df.file.save(checked.name, ContentFile(content), save=False)
        df.save()
    audit.record("applications.draft.save", "Draft", draft.pk,
                 detail={"item": item.implementation_code, "files": len(files or {})}, actor=audit.actor_name(user))
    return draft, errors  # the answers and the good files are kept; the bad files are named


def draft_files(draft) -> dict:
    """The draft's materials as uploads the case services accept (material id → file)."""
    from django.core.files.base import ContentFile

    out = {}
    for df in draft.files.all():
        with df.file.open("rb") as fh:
            out[df.material_id] = ContentFile(fh.read(), name=df.original_name)
    return out


def discard_draft(draft) -> None:
    """After submission: the draft and its stored files go."""
    names = [(df.file.storage, df.file.name) for df in draft.files.all()]
    draft.delete()
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in names])
