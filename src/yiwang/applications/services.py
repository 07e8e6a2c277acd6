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
