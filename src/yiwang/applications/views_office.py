"""Office page: a version's application form (JSON definition with a live preview)."""

from __future__ import annotations

import json

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from yiwang.applications import formschema, services
from yiwang.applications.models import ItemForm
from yiwang.catalog import services as catalog_services
from yiwang.catalog.views_office import catalog_admin_required
from yiwang.core.errors import DomainError, NotFound


@catalog_admin_required
def version_form(request, code: str, number: int):
    try:
        item = catalog_services.get_item_for(request.user, code)
    except NotFound:
        raise Http404 from None
    version = item.versions.filter(number=number).first()
    if version is None:
        raise Http404
    own = ItemForm.objects.filter(version=version).first()
    kind = "legal" if set(version.service_objects) - {"1"} else "person"
    definition = own.definition if own else formschema.default_definition(kind)
    text = json.dumps(definition, ensure_ascii=False, indent=2)
    error = None
    if request.method == "POST":
        text = request.POST.get("definition", "")
        try:
            services.set_form(request.user, version, text)
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("office_version_form", args=[code, number]) + "?saved=1")
    preview = ""
    if error is None:
        try:
            preview = formschema.render(definition)
        except formschema.FormDefinitionError:
            preview = ""
    summary = [{"label": k.replace("definition.", ""), "text": t, "href": "#f-definition"}
               for k, msgs in (error.fields.items() if error else []) for t in msgs]
    return render(request, "applications/office_form.html", {
        "item": item, "version": version, "name": version.name, "crumb": f"第{version.number}版申请表",
        "text": text, "own": own, "error": error, "summary": summary, "preview": preview,
        "editable": version.status == version.Status.DRAFT, "saved": request.GET.get("saved"),
    }, status=error.status if error else 200)
