"""我的证照: the certificates a signed-in person holds, or those of the enterprise they act for.

A person sees certificates issued to them (linked to their account, or carrying their ID number —
historic certificates imported before they registered included). Acting for an enterprise
(``request.acting``), they see the enterprise's certificates: all of them as its legal
representative or as an agent authorised for all items, otherwise only the types that the items
of their authorisation produce. Anything else is "not found" — never a hint that it exists.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from yiwang.certificates.models import Certificate, HolderKind
from yiwang.core.errors import NotFound
from yiwang.core.fields import blind_match
from yiwang.identity.models import Enterprise
from yiwang.identity.services_levels import person_of

NOT_FOUND = "证照不存在 / certificate not found"


def _enterprise_scope(person, enterprise: Enterprise) -> Q | None:
    """None: every type; else the types the agent's current authorisations cover."""
    from yiwang.identity.services_enterprise import current_authorizations

    if enterprise.legal_representative_id == person.pk:
        return None
    grants = list(current_authorizations(enterprise).filter(agent=person).prefetch_related("items"))
    if not grants:
        return Q(pk__in=[])
    if any(g.all_items for g in grants):
        return None
    items = [i.pk for g in grants for i in g.items.all()]
    return Q(certificate_type__service_items__in=items)


def holder_filter(user, enterprise: Enterprise | None) -> Q:
    """Which certificates ``user`` holds — as themselves or for ``enterprise`` (the acting party)."""
    person = person_of(user)
    if person is None:
        return Q(pk__in=[])
    if enterprise is None:
        return Q(holder_kind=HolderKind.PERSON) & (Q(person=person) | Q(holder_code_index=person.id_number_index))
    from yiwang.identity.services_enterprise import can_act_for

    if not can_act_for(person, enterprise):
        return Q(pk__in=[])
    held = Q(holder_kind=HolderKind.ENTERPRISE) & (
        Q(enterprise=enterprise) | blind_match(Certificate, "holder_code", enterprise.uscc))
    scope = _enterprise_scope(person, enterprise)
    return held if scope is None else held & scope


def certificates_of(user, enterprise: Enterprise | None, *, include_superseded: bool = False
                    ) -> QuerySet[Certificate]:
    """The wallet: current versions first by issue date; old versions only on a certificate's page."""
    qs = (Certificate.objects.filter(holder_filter(user, enterprise))
          .select_related("certificate_type", "issuing_organization").distinct())
    if not include_superseded:
        qs = qs.filter(superseded=False)
    return qs.order_by("-issued_on", "-id")


def get_held(user, enterprise: Enterprise | None, pk: int) -> Certificate:
    """One certificate of the wallet (any version), or NotFound."""
    cert = certificates_of(user, enterprise, include_superseded=True).filter(pk=pk).first()
    if cert is None:
        raise NotFound(NOT_FOUND)
    return cert


def versions_held(user, enterprise: Enterprise | None, cert: Certificate) -> list[Certificate]:
    """Every version of ``cert`` in the wallet, newest first."""
    return list(certificates_of(user, enterprise, include_superseded=True)
                .filter(certificate_type_id=cert.certificate_type_id, serial=cert.serial).order_by("-version"))


def holder_label(enterprise: Enterprise | None) -> str:
    """How the audit trail names the holder side of a grant (the enterprise acted for, or nobody)."""
    return f"enterprise:{enterprise.uscc}" if enterprise is not None else ""


def qr_svg(cert: Certificate) -> str:
    """The QR code (opens the public verification page) as inline SVG markup."""
    import io

    import segno

    from yiwang.certificates import services

    if not cert.qr_payload:
        return ""
    out = io.BytesIO()
    segno.make(services.verify_url(cert.qr_payload), error="m").save(
        out, kind="svg", scale=3, xmldecl=False, svgns=True, title=f"{cert.certificate_type.name} 核验二维码")
    return out.getvalue().decode("utf-8")
