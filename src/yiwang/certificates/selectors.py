"""Read paths of certificates for the office: scoped to the organisations a staff member sees."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from yiwang.certificates import identifiers
from yiwang.certificates.models import Certificate, CertificateType
from yiwang.core.crypto import normalise_id_number
from yiwang.core.fields import blind_match
from yiwang.core.validators import InvalidCode, check_citizen_id, check_uscc
from yiwang.identity import scoping


def types_for(user) -> QuerySet[CertificateType]:
    """Types a staff member sees: those their organisations issue (all for platform admins)."""
    qs = CertificateType.objects.select_related("issuing_organization", "defining_organization")
    return scoping.scope_queryset(qs, user, field="issuing_organization").order_by("type_code")


def search(user, *, q: str = "", type_id: str = "", status: str = "") -> QuerySet[Certificate]:
    """证照查询: by identifier, number, holder name or holder code (exact, via the blind index)."""
    qs = scoping.scope_queryset(
        Certificate.objects.select_related("certificate_type", "issuing_organization"), user,
        field="issuing_organization")
    q = (q or "").strip()[:120]
    if q:
        code = normalise_id_number(q)
        if code.startswith(identifiers.PREFIX):
            qs = qs.filter(identifier=code)
        elif _is_holder_code(code):
            qs = qs.filter(blind_match(Certificate, "holder_code", code))
        else:
            qs = qs.filter(Q(number=code) | Q(holder_name__icontains=q))
    if type_id.isdigit():
        qs = qs.filter(certificate_type_id=int(type_id))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-issued_on", "-id")


def _is_holder_code(code: str) -> bool:
    for check in (check_citizen_id, check_uscc):
        try:
            check(code)
            return True
        except InvalidCode:
            continue
    return False


def versions_of(cert: Certificate) -> list[Certificate]:
    """Every version of the same certificate (same type and serial), newest first."""
    return list(Certificate.objects.filter(certificate_type_id=cert.certificate_type_id, serial=cert.serial)
                .order_by("-version").only("pk", "identifier", "version", "status", "superseded", "issued_on"))
