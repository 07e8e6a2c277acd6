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
    """``find`` is required. A connector that needs the applicant's say first may also offer
    ``offers(user, enterprise, version) -> {material id: offer}`` (each offer with ``field``,
    ``label`` and ``consented``, shown as a checkbox on the apply page) and
    ``record(user, enterprise, version, answers)`` (the ticks of the posted form)."""

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


def offers(user, enterprise, version) -> dict[int, object]:
    """Material id → what a connector offers the applicant for it (the first connector wins)."""
    found: dict[int, object] = {}
    for connector in connectors():
        offered = getattr(connector, "offers", None)
        if offered is None:
            continue
        for material_id, offer in offered(user, enterprise, version).items():
            found.setdefault(material_id, offer)
    return found


def record(user, enterprise, version, answers) -> None:
    """Let each connector record the applicant's answers to its offers (consent given or taken back)."""
    for connector in connectors():
        recorder = getattr(connector, "record", None)
        if recorder is not None:
            recorder(user, enterprise, version, answers)
