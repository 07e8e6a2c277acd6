"""授权用证: a holder lets one department or one OIDC client read one certificate, and every read.

- :func:`grant` / :func:`revoke` — the holder's side (audit entry for each).
- :func:`open_for_staff` — staff of the grantee department read a certificate granted to it,
  giving a reason each time; :func:`open_for_client` — the same for a client-credentials token.
- :func:`open_for_case` — staff who may see a case read a certificate attached to it (免提交).

Every read is a :class:`CertificateAccess` row (and an audit entry) — refused attempts too, written
in their own transaction before the refusal is raised, so the refusal cannot roll them back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from yiwang.certificates import wallet
from yiwang.certificates.models import Certificate, CertificateAccess, CertificateGrant
from yiwang.core import audit
from yiwang.core.errors import NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization
from yiwang.identity import scoping

Grantee = CertificateGrant.Grantee
Scope = CertificateGrant.Scope
Channel = CertificateAccess.Channel
What = CertificateAccess.What
PURPOSE_MAX = 200
DEFAULT_DAYS = 30
MAX_DAYS = 366
INVALID = "填写有误，请按提示修改 / please correct the marked fields"
NO_GRANT = "没有该证照的有效授权 / no grant for this certificate"


def _today() -> dt.date:
    return timezone.localdate()


def clean_purpose(purpose: str, field: str = "purpose") -> str:
    """用证事由: required, at most 200 characters (GB/T 36906 practice, STANDARDS.md §4)."""
    text = " ".join((purpose or "").split())
    if not text:
        raise ValidationFailed(INVALID, fields={field: ["请填写用证事由 / a purpose of use is required"]})
    if len(text) > PURPOSE_MAX:
        raise ValidationFailed(INVALID, fields={field: [
            f"用证事由不超过{PURPOSE_MAX}字 / the purpose may have at most {PURPOSE_MAX} characters"]})
    return text


def _snapshot(g: CertificateGrant) -> dict:
    return {"certificate": g.certificate.identifier, "grantee": g.grantee_kind,
            "organization": g.grantee_organization_id, "client": getattr(g.grantee_application, "client_id", ""),
            "purpose": g.purpose, "scope": g.scope, "valid_until": g.valid_until.isoformat(),
            "revoked": g.revoked_at.isoformat() if g.revoked_at else ""}


# ============================================================================ holder side
@transaction.atomic
def grant(user, enterprise, cert: Certificate, *, grantee_kind: str, organization: Organization | None = None,
          client_id: str = "", purpose: str, scope: str = Scope.FACE, valid_until: dt.date | str | None = None
          ) -> CertificateGrant:
    """授权: ``user`` (for ``enterprise`` when acting for one) lets a department or a client read ``cert``.

    ``valid_until`` is a date or the form's text (YYYY-MM-DD); empty means the default 30 days."""
    from oauth2_provider.models import get_application_model

    cert = wallet.get_held(user, enterprise, cert.pk)
    if cert.superseded or not cert.is_valid:
        raise StateError(f"证照状态为“{cert.get_status_display()}”，不能授权他人使用 / only a valid current "
                         "certificate can be shared")
    errors: dict[str, list[str]] = {}
    try:
        purpose = clean_purpose(purpose)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if scope not in Scope.values:
        errors["scope"] = ["请选择授权范围 / choose what may be read"]
    today = _today()
    if isinstance(valid_until, str):
        try:
            valid_until = dt.date.fromisoformat(valid_until.strip()) if valid_until.strip() else None
        except ValueError:
            errors["valid_until"] = ["日期格式应为 YYYY-MM-DD / the date must be YYYY-MM-DD"]
            valid_until = today
    valid_until = valid_until or today + dt.timedelta(days=DEFAULT_DAYS)
    if valid_until < today:
        errors["valid_until"] = ["授权截止日期不能早于今天 / the end date cannot be in the past"]
    elif valid_until > today + dt.timedelta(days=MAX_DAYS - 1):
        errors["valid_until"] = ["授权期限最长一年 / a grant lasts at most one year"]
    application = None
    if grantee_kind == Grantee.ORGANIZATION:
        if organization is None or not organization.is_active:
            errors["organization"] = ["请选择被授权的部门 / choose the department"]
    elif grantee_kind == Grantee.CLIENT:
        organization = None
        application = get_application_model().objects.filter(client_id=(client_id or "").strip()).first()
        if application is None:
            errors["client_id"] = ["没有该应用标识（client_id）/ no application with this client_id"]
    else:
        errors["grantee_kind"] = ["请选择被授权方 / choose a department or an application"]
    if errors:
        raise ValidationFailed(INVALID, fields=errors)
    g = CertificateGrant.objects.create(
        certificate=cert, grantee_kind=grantee_kind, grantee_organization=organization,
        grantee_application=application, purpose=purpose, scope=scope, valid_until=valid_until,
        granted_by=user, on_behalf_of=wallet.holder_label(enterprise))
    audit.record("certificates.grant", "CertificateGrant", g.pk, after=_snapshot(g),
                 detail={"certificate": cert.identifier, "grantee": g.grantee_label, "scope": scope,
                         "valid_until": valid_until.isoformat()}, actor=audit.actor_name(user))
    return g


@transaction.atomic
def revoke(user, enterprise, grant_id: int) -> CertificateGrant:
    """撤销授权: takes effect at once; the grant stays on record."""
    g = grants_of_holder(user, enterprise).select_for_update(of=("self",)).filter(pk=grant_id).first()
    if g is None:
        raise NotFound("授权不存在 / grant not found")
    if g.revoked_at is not None:
        raise StateError("该授权已撤销 / this grant has already been revoked")
    before = _snapshot(g)
    g.revoked_at = timezone.now()
    g.revoked_by = user
    g.save(update_fields=["revoked_at", "revoked_by"])
    audit.record("certificates.grant.revoke", "CertificateGrant", g.pk, before=before, after=_snapshot(g),
                 detail={"certificate": g.certificate.identifier}, actor=audit.actor_name(user))
    return g


def grants_of_holder(user, enterprise, cert: Certificate | None = None) -> QuerySet[CertificateGrant]:
    held = wallet.certificates_of(user, enterprise, include_superseded=True).values("pk")
    qs = CertificateGrant.objects.filter(certificate__in=held).select_related(
        "certificate", "grantee_organization", "grantee_application")
    return qs.filter(certificate=cert) if cert is not None else qs


def accesses_of(cert: Certificate) -> QuerySet[CertificateAccess]:
    """谁在何时因何查看了我的证照: every access and refused attempt, newest first."""
    return cert.accesses.select_related("organization").order_by("-created_at", "-id")


# ============================================================================ access log
@dataclasses.dataclass
class Reader:
    """Who reads: a staff member (with their organisation) or an OIDC client."""

    user: object = None
    organization: Organization | None = None
    client_id: str = ""
    client_name: str = ""

    @classmethod
    def staff(cls, user) -> Reader:
        staff = scoping.staff_of(user)
        return cls(user=user, organization=getattr(staff, "organization", None))

    @classmethod
    def client(cls, application) -> Reader:
        return cls(client_id=application.client_id, client_name=application.name or "")

    @property
    def name(self) -> str:
        if self.client_id:
            return f"client:{self.client_id}"
        staff = scoping.staff_of(self.user)
        return (getattr(staff, "display_name", "") or getattr(self.user, "username", ""))[:60]


def log_access(reader: Reader, *, channel: str, what: str, cert: Certificate | None = None,
               grant_obj: CertificateGrant | None = None, purpose: str = "", case_number: str = "",
               refusal: str = "") -> CertificateAccess:
    """One row of the access log (and its audit entry), committed on its own."""
    with transaction.atomic():
        row = CertificateAccess.objects.create(
            certificate=cert, grant=grant_obj, channel=channel, what=what,
            user=reader.user if getattr(reader.user, "pk", None) else None, actor_name=reader.name,
            organization=reader.organization, client_id=reader.client_id[:100], client_name=reader.client_name[:255],
            purpose=purpose[:PURPOSE_MAX], case_number=case_number[:50], allowed=not refusal, refusal=refusal[:200])
        audit.record("certificates.access" if not refusal else "certificates.access.refused",
                     "Certificate", cert.pk if cert else "-",
                     detail={"identifier": getattr(cert, "identifier", ""), "channel": channel, "what": what,
                             "grant": getattr(grant_obj, "pk", None), "reader": reader.name,
                             "organization": getattr(reader.organization, "pk", None), "case": case_number,
                             "refusal": refusal}, actor=reader.name or "anonymous")
    return row


def _refuse(reader: Reader, exc_type, message: str, *, channel: str, what: str, grant_obj=None, purpose: str = ""):
    log_access(reader, channel=channel, what=what, cert=getattr(grant_obj, "certificate", None),
               grant_obj=grant_obj, purpose=purpose, refusal=message)
    raise exc_type(message)


def _check_grant(reader: Reader, g: CertificateGrant | None, *, channel: str, what: str, purpose: str
                 ) -> CertificateGrant:
    if g is None:
        _refuse(reader, NotFound, NO_GRANT, channel=channel, what=what, purpose=purpose)
    if g.revoked_at is not None:
        _refuse(reader, NotPermitted, "持证人已撤销该授权 / the holder revoked this grant", channel=channel, what=what,
                grant_obj=g, purpose=purpose)
    if g.valid_until < _today():
        _refuse(reader, NotPermitted, f"授权已于 {g.valid_until:%Y-%m-%d} 到期 / the grant has expired", channel=channel,
                what=what, grant_obj=g, purpose=purpose)
    if what == What.FILE and not g.includes_file:
        _refuse(reader, NotPermitted, "授权范围不含证照文件，仅可查看照面信息 / the grant covers the data only, not the "
                "file", channel=channel, what=what, grant_obj=g, purpose=purpose)
    return g


# ============================================================================ department staff
def grants_for_staff(user) -> QuerySet[CertificateGrant]:
    """Grants to the staff member's own department (active ones first, then ended ones)."""
    staff = scoping.staff_of(user)
    if staff is None:
        return CertificateGrant.objects.none()
    return (CertificateGrant.objects
            .filter(grantee_kind=Grantee.ORGANIZATION, grantee_organization_id=staff.organization_id)
            .select_related("certificate__certificate_type", "certificate__issuing_organization")
            .order_by("-created_at", "-id"))


def grant_for_staff(user, grant_id: int) -> CertificateGrant | None:
    return grants_for_staff(user).filter(pk=grant_id).first()


def open_for_staff(user, grant_id: int, *, reason: str, what: str = What.FACE) -> CertificateGrant:
    """A staff member of the grantee department reads the certificate, giving a reason (logged)."""
    reader = Reader.staff(user)
    reason = clean_purpose(reason, "reason")
    g = _check_grant(reader, grant_for_staff(user, grant_id), channel=Channel.OFFICE, what=what, purpose=reason)
    log_access(reader, channel=Channel.OFFICE, what=what, cert=g.certificate, grant_obj=g, purpose=reason)
    return g


# ============================================================================ OIDC clients
def grants_for_client(application) -> QuerySet[CertificateGrant]:
    """The client's grants that are in force today."""
    return (CertificateGrant.objects.filter(grantee_kind=Grantee.CLIENT, grantee_application=application,
                                            revoked_at__isnull=True, valid_until__gte=_today())
            .select_related("certificate__certificate_type", "certificate__issuing_organization")
            .order_by("-created_at", "-id"))


def list_for_client(application) -> list[CertificateGrant]:
    rows = list(grants_for_client(application))
    log_access(Reader.client(application), channel=Channel.API, what=What.LIST, purpose=f"{len(rows)} 项")
    return rows


def open_for_client(application, grant_id: int, *, purpose: str, what: str = What.FACE) -> CertificateGrant:
    reader = Reader.client(application)
    g = (CertificateGrant.objects.select_related("certificate__certificate_type", "certificate__issuing_organization",
                                                 "grantee_application")
         .filter(pk=grant_id).first())
    if g is not None and not (g.grantee_kind == Grantee.CLIENT and g.grantee_application_id == application.pk):
        # Another party's grant: logged on that certificate, answered as if it did not exist.
        _refuse(reader, NotFound, NO_GRANT, channel=Channel.API, what=what, grant_obj=g, purpose=purpose)
    # An explicit purpose must be a valid one (400 naming ``purpose``); without one, the grant's purpose.
    purpose = clean_purpose(purpose) if (purpose or "").strip() else getattr(g, "purpose", "")
    g = _check_grant(reader, g, channel=Channel.API, what=what, purpose=purpose)
    log_access(reader, channel=Channel.API, what=what, cert=g.certificate, grant_obj=g, purpose=purpose)
    return g


# ============================================================================ case materials (免提交)
def open_for_case(user, case, identifier: str, *, what: str = What.FACE) -> Certificate:
    """Staff who may see ``case`` read the certificate the applicant attached to it (logged)."""
    from yiwang.cases.models import CaseMaterial

    if scoping.staff_of(user) is None or not case.materials.filter(
            source=CaseMaterial.Source.CERTIFICATE, reference=identifier).exists():
        raise NotFound("证照不存在 / certificate not found")
    cert = (Certificate.objects.select_related("certificate_type", "issuing_organization")
            .filter(identifier=identifier).first())
    if cert is None:
        raise NotFound("证照不存在 / certificate not found")
    log_access(Reader.staff(user), channel=Channel.CASE, what=what, cert=cert,
               purpose=f"办理办件 {case.number}：{case.item_name}", case_number=case.number)
    return cert

