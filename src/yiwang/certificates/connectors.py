"""免提交 connector: a valid electronic certificate stands in for an uploaded material — with consent.

A material is backed by a certificate type when one of the type's ``stands_for_materials`` is the
material's name or its ``source_detail`` (or ``source_detail`` names the type or its code). When
the applicant — or the enterprise they act for — holds a valid current certificate of that type,
the apply page offers it ("使用我的电子证照…代替上传"); only once the applicant has ticked it
(:class:`CertificateConsent` for this user, item, material and certificate) does the connector
supply it, as an attachment referring to the certificate's identifier.

Registered in ``YIWANG_MATERIAL_CONNECTORS`` as ``yiwang.certificates.connectors.CertificateConnector``.
"""

from __future__ import annotations

import dataclasses

from django.db import transaction
from django.utils import timezone

from yiwang.cases.connectors import OFFERED_SOURCES, Attachment
from yiwang.certificates import wallet
from yiwang.certificates.models import Certificate, CertificateConsent, CertificateType, Status
from yiwang.core import audit
from yiwang.core.memo import Memo

FIELD_PREFIX = "use_certificate_"


ACTIVE_TYPES = Memo("certificates.active_types", ttl=60, watch=("certificates.CertificateType",))


def _active_types() -> list[CertificateType]:
    """The active certificate types, read once a minute per process (and again as soon as one is
    saved here): a new or changed type reaches every worker's apply pages within a minute."""
    return ACTIVE_TYPES.get("active", lambda: list(CertificateType.objects.filter(is_active=True).order_by("pk")))


def types_for_material(material) -> list[CertificateType]:
    """Active certificate types that can stand in for ``material``."""
    if material.source not in OFFERED_SOURCES:
        return []
    name, detail = (material.name or "").strip(), (material.source_detail or "").strip()
    found = []
    for ctype in _active_types():
        stands = {str(s).strip() for s in ctype.stands_for_materials or () if str(s).strip()}
        if name in stands or (detail and (detail in stands or detail in (ctype.name, ctype.type_code))):
            found.append(ctype)
    return found


def candidate(user, enterprise, material) -> Certificate | None:
    """The applicant's valid current certificate that can replace ``material``, if any."""
    types = types_for_material(material)
    if not types:
        return None
    today = timezone.localdate()
    return (wallet.certificates_of(user, enterprise)
            .filter(certificate_type__in=types, status=Status.VALID, valid_from__lte=today)
            .exclude(valid_to__lt=today).first())


def _consented(user, enterprise, material, cert: Certificate) -> bool:
    return CertificateConsent.objects.filter(user=user, enterprise=enterprise, certificate=cert,
                                             item_id=material.version.item_id,
                                             material_name=material.name[:200]).exists()


class CertificateConnector:
    """Supplies a certificate for a material once the applicant has agreed to it."""

    def find(self, *, user, enterprise, material) -> Attachment | None:
        cert = candidate(user, enterprise, material)
        if cert is None or not _consented(user, enterprise, material, cert):
            return None
        return Attachment(source="certificate", reference=cert.identifier,
                          name=f"{cert.certificate_type.name} {cert.number}")

    def offers(self, user, enterprise, version) -> dict[int, Offer]:
        return offers(user, enterprise, version)

    def record(self, user, enterprise, version, answers) -> None:
        record_consents(user, enterprise, version, answers)


@dataclasses.dataclass
class Offer:
    material_id: int
    certificate: Certificate
    consented: bool
    for_enterprise: bool = False

    @property
    def field(self) -> str:
        return f"{FIELD_PREFIX}{self.material_id}"

    @property
    def label(self) -> str:
        whose = "本单位" if self.for_enterprise else "我"
        return f"使用{whose}的电子证照（{self.certificate.certificate_type.name} {self.certificate.number}）代替上传"


def offers(user, enterprise, version) -> dict[int, Offer]:
    """Material id → the certificate the apply page offers for it, and whether it is already agreed."""
    found: dict[int, Offer] = {}
    for material in version.materials.all():
        cert = candidate(user, enterprise, material)
        if cert is not None:
            found[material.pk] = Offer(material.pk, cert, _consented(user, enterprise, material, cert),
                                       for_enterprise=enterprise is not None)
    return found


def record_consents(user, enterprise, version, answers) -> dict[int, Offer]:
    """The apply form's ticks: a tick records consent, no tick withdraws an earlier one."""
    current = offers(user, enterprise, version)
    if not current:  # nothing offered: nothing to record (and no transaction to open)
        return current
    with transaction.atomic():
        _record(user, enterprise, version, answers, current)
    return current


def _record(user, enterprise, version, answers, current: dict[int, Offer]) -> None:
    materials = {m.pk: m for m in version.materials.all()}
    for material_id, offer in current.items():
        material = materials[material_id]
        wanted = answers.get(offer.field) == str(offer.certificate.pk)
        detail = {"identifier": offer.certificate.identifier, "item": version.item_id, "material": material.name}
        key = {"user": user, "enterprise": enterprise, "certificate": offer.certificate,
               "item_id": version.item_id, "material_name": material.name[:200]}
        if wanted and not offer.consented:
            CertificateConsent.objects.create(**key)
            offer.consented = True
            audit.record("certificates.consent", "Certificate", offer.certificate.pk,
                         detail=detail, actor=audit.actor_name(user))
        elif not wanted and offer.consented:
            CertificateConsent.objects.filter(**key).delete()
            offer.consented = False
            audit.record("certificates.consent.withdraw", "Certificate", offer.certificate.pk,
                         detail=detail, actor=audit.actor_name(user))
