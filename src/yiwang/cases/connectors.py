"""免提交: materials the platform can obtain itself instead of an upload.

A connector answers, for one applicant and one material of an item's list, with an attachment
(an electronic certificate, a record of shared data) or None. Connectors are listed in the
setting ``YIWANG_MATERIAL_CONNECTORS`` (dotted paths); none is configured until the
certificates module provides one, so every material is uploaded. Only materials whose catalog
source says ``certificate`` or ``shared`` are offered to connectors.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

OFFERED_SOURCES = ("certificate", "shared")


@dataclasses.dataclass(frozen=True)
class Attachment:
    source: str  # "certificate" | "shared"
    reference: str  # e.g. the certificate identifier
    name: str  # what the applicant and the clerk see


class MaterialConnector(Protocol):
    def find(self, *, user, enterprise, material) -> Attachment | None: ...


def connectors() -> list[MaterialConnector]:
    return [import_string(path)() for path in getattr(settings, "YIWANG_MATERIAL_CONNECTORS", [])]


def attachments(user, enterprise, version) -> dict[int, Attachment]:
    """Material id → what a connector supplies for it, for the materials that allow it."""
    found: dict[int, Attachment] = {}
    available = connectors()
    if not available:
        return found
    for material in version.materials.all():
        if material.source not in OFFERED_SOURCES:
            continue
        for connector in available:
            attachment = connector.find(user=user, enterprise=enterprise, material=material)
            if attachment is not None:
                found[material.pk] = attachment
                break
    return found
