"""Read paths of online applications."""

from __future__ import annotations

from django.db import connection

from yiwang.applications.models import Draft, ItemForm


def form_definition(version, kind: str) -> dict:
    """The version's own form, or the default for the applicant kind ("person" | "legal")."""
    from yiwang.applications import formschema

    memo = getattr(version, "_form_definitions", None)
    if memo is not None and kind in memo:
        return memo[kind]
    own = ItemForm.objects.filter(version=version).values_list("definition", flat=True).first()
    definition = own if own else formschema.default_definition(kind)
    if getattr(version, "status", "draft") != "draft":  # a published version's form never changes
        version._form_definitions = {**(memo or {}), kind: definition}
    return definition


def has_draft(user, item, enterprise=None) -> bool:
    """Whether the applicant has a draft of this item for this identity (asked after every
    submission, and almost always no: one plain indexed read)."""
    table = connection.ops.quote_name(Draft._meta.db_table)
    enterprise_id = getattr(enterprise, "pk", None)
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {table} WHERE user_id = %s AND item_id = %s AND "
                    + ("enterprise_id IS NULL" if enterprise_id is None else "enterprise_id = %s"),
                    [user.pk, item.pk] + ([] if enterprise_id is None else [enterprise_id]))
        return cur.fetchone() is not None


def answers(definition: dict, data: dict, *, full: bool = False) -> list[dict]:
    """核对信息 / case file view of a form's answers: each field's title and its shown value, in
    layout order. ID numbers, mobiles and addresses are masked unless ``full``."""
    from yiwang.applications import formschema
    from yiwang.core.masking import mask_address, mask_id_number, mask_phone

    try:
        rows = formschema.answer_rows(definition, data)
    except formschema.FormDefinitionError:
        return [{"title": k, "value": str(v)} for k, v in data.items()]
    masks = {"id_number": mask_id_number, "mobile": mask_phone, "address": mask_address}
    out = []
    for row in rows:
        kind = row.get("format") if row.get("format") in masks else row.get("widget") \
            if row.get("widget") in masks else ""
        value = masks[kind](row["value"]) if kind and not full else row["value"]
        out.append({"title": row["title"], "value": value})
    return out
