"""Downloads of materials' blank forms and samples.

Files of published (and superseded) versions are public: citizens download them from the
guide. Files that belong only to drafts are served to the staff who may maintain the item.
"""

from __future__ import annotations

import mimetypes
import os

from django.db.models import Q
from django.http import FileResponse, Http404

from yiwang.catalog.models import ItemVersion, Material
from yiwang.identity import scoping
from yiwang.identity.models import Role

PUBLIC_STATES = (ItemVersion.Status.PUBLISHED, ItemVersion.Status.SUPERSEDED)


def material_file(request, path: str):
    if ".." in path.split("/") or not path.startswith("catalog/materials/"):
        raise Http404
    owners = Material.objects.filter(Q(blank_form=path) | Q(sample=path)).select_related("version__item")
    allowed = False
    from yiwang.identity.totp import second_factor_passed

    for m in owners:
        if m.version.status in PUBLIC_STATES or (second_factor_passed(request) and scoping.can_act_for(
                request.user, m.version.item.organization_id, Role.CATALOG_ADMIN)):
            allowed = True
            field = m.blank_form if m.blank_form.name == path else m.sample
            break
    if not allowed:
        raise Http404
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=os.path.basename(path),
                            content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
