"""Read paths of online applications."""

from __future__ import annotations

from yiwang.applications.models import ItemForm


def form_definition(version, kind: str) -> dict:
    """The version's own form, or the default for the applicant kind ("person" | "legal")."""
    from yiwang.applications import formschema

    own = ItemForm.objects.filter(version=version).values_list("definition", flat=True).first()
    return own if own else formschema.default_definition(kind)


def answers(definition: dict, data: dict, *, full: bool = False) -> list[dict]:
    """核对信息 / case file view of a form's answers: each field's title and its shown value, in
    layout order. ID numbers, mobiles and addresses are masked unless ``full``."""
    from yiwang.applications import formschema
    from yiwang.core.masking import mask_address, mask_id_number, mask_phone

    try:
        fields = formschema._compile(definition).fields
    except formschema.FormDefinitionError:
        return [{"title": k, "value": v} for k, v in data.items()]
    masks = {"id_number": mask_id_number, "mobile": mask_phone, "address": mask_address}
    out = []
    for name, field in fields.items():
        if name not in data or data[name] in ("", None, [], {}):
            continue
        value = data[name]
        if isinstance(value, bool):
            shown = "是" if value else "否"
        elif isinstance(value, list):
            labels = dict(field.options)
            shown = "、".join(str(labels.get(v, v)) for v in value)
        else:
            shown = str(dict(field.options).get(value, value)) if field.options else str(value)
        kind = field.format if field.format in masks else field.widget if field.widget in masks else ""
        if kind and not full:
            shown = masks[kind](shown)
        out.append({"title": field.title, "value": shown})
    return out
