"""Read paths of online applications."""

from __future__ import annotations

from yiwang.applications.models import ItemForm


def form_definition(version, kind: str) -> dict:
    """The version's own form, or the default for the applicant kind ("person" | "legal")."""
    from yiwang.applications import formschema

    own = ItemForm.objects.filter(version=version).values_list("definition", flat=True).first()
    return own if own else formschema.default_definition(kind)
