"""Use cases of electronic seals (电子印章): the lifecycle, authorisations and the document seal.

Lifecycle (each step one transaction, a ``SealEvent`` and an audit entry)::

    applied ──review──▶ reviewed ──produce──▶ produced ──file──▶ filed ──activate──▶ active
       └─reject─▶ rejected                                          suspended ◀─suspend─┘
                                                                     └─activate─▶ active
    any state but rejected/revoked ──revoke──▶ revoked (final)

Production makes the seal's P-256 key pair (private key encrypted), its image and its
certificate from the internal CA. Applying is open to the roles an organisation administrator
authorised for that seal type; every other step is for the organisation's administrator
(``org_admin``) or a platform administrator.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from yiwang.core import audit
from yiwang.core.crypto import _setting
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization
from yiwang.identity import scoping
from yiwang.identity.models import Role
from yiwang.seals import ca, keystore
from yiwang.seals.image import render_seal
from yiwang.seals.models import Seal, SealAuthorization, SealEvent

SYSTEM = "system"
DEFAULT_CERT_DAYS = 730
S = Seal.State

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "review": (frozenset({S.APPLIED}), S.REVIEWED),
    "reject": (frozenset({S.APPLIED}), S.REJECTED),
    "produce": (frozenset({S.REVIEWED}), S.PRODUCED),
    "file": (frozenset({S.PRODUCED}), S.FILED),
    "activate": (frozenset({S.FILED, S.SUSPENDED}), S.ACTIVE),
    "suspend": (frozenset({S.ACTIVE}), S.SUSPENDED),
    "revoke": (frozenset({S.APPLIED, S.REVIEWED, S.PRODUCED, S.FILED, S.ACTIVE, S.SUSPENDED}), S.REVOKED),
}
ACTION_LABELS = {"apply": "申请", "review": "审核通过", "reject": "审核不通过", "produce": "制作",
                 "file": "备案", "activate": "启用", "suspend": "挂失/停用", "revoke": "吊销",
                 "renew": "证书续期"}
# States whose certificate may be renewed (the seal has a key and is not revoked).
RENEWABLE = frozenset({S.PRODUCED, S.FILED, S.ACTIVE, S.SUSPENDED})
# Steps that need a reason from the person taking them.
REASON_REQUIRED = {"reject", "suspend", "revoke"}


def cert_days() -> int:
    raw = _setting("YIWANG_SEAL_CERT_DAYS")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_CERT_DAYS


# ------------------------------------------------------------------------- permissions


def _actor_label(user) -> str:
    return SYSTEM if user is None else audit.actor_name(user)


def is_seal_admin(user, organization: Organization) -> bool:
    """Organisation administrator of that organisation (or above it), or a platform administrator."""
    return scoping.can_act_for(user, organization.pk, Role.ORG_ADMIN)


def may_apply(user, organization: Organization, seal_type: str) -> bool:
    if is_seal_admin(user, organization):
        return True
    staff = scoping.staff_of(user)
    if staff is None or staff.organization_id != organization.pk:
        return False
    return SealAuthorization.objects.filter(organization=organization, seal_type=seal_type,
                                            role__in=list(staff.roles)).exists()


def _require_admin(user, organization: Organization) -> None:
    if user is not None and not is_seal_admin(user, organization):
        raise NotPermitted("只有本机构的机构管理员或平台管理员可以办理印章 / only the organisation's "
                           "administrator may manage its seals")


# ------------------------------------------------------------------------- lifecycle


def _event(seal: Seal, action: str, from_state: str, actor: str, reason: str) -> SealEvent:
    event = SealEvent.objects.create(seal=seal, action=action, from_state=from_state, to_state=seal.state,
                                     actor=actor, reason=reason)
    audit.record(f"seals.seal_{action}", "seals.Seal", seal.code, before={"state": from_state} if from_state else None,
                 after={"state": seal.state}, actor=actor,
                 detail={"organization": seal.organization_id, "type": seal.seal_type, "reason": reason})
    return event


def _next_code(organization: Organization) -> str:
    """印章编码: six digits of the region, then a seven-digit sequence (unique)."""
    prefix = (organization.region.code or "000000")[:6]
    last = Seal.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True).first()
    number = int(last[6:]) + 1 if last and last[6:].isdigit() else 1
    return f"{prefix}{number:07d}"


def _clean_reason(reason: str, action: str) -> str:
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and not reason:
        raise ValidationFailed("请填写理由 / a reason is required",
                               fields={"reason": ["请填写理由 / a reason is required"]})
    if len(reason) > 500:
        raise ValidationFailed("理由不超过500字 / reason too long",
                               fields={"reason": ["理由不超过500字 / at most 500 characters"]})
    return reason


@transaction.atomic
def apply_for_seal(user, organization: Organization, seal_type: str, *, name: str = "", reason: str = "") -> Seal:
    """申请: a new seal for ``organization``; ``user`` None means the platform itself."""
    if seal_type not in Seal.Type.values:
        raise ValidationFailed("请选择印章类型 / choose a seal type",
                               fields={"seal_type": ["请选择印章类型 / choose a seal type"]})
    if user is not None and not may_apply(user, organization, seal_type):
        raise NotPermitted("您的岗位未获授权申请这类印章 / your role is not authorised to apply for this seal type")
    reason = _clean_reason(reason, "apply")
    name = (name or "").strip() or f"{organization.name}{Seal.Type(seal_type).label}"
    if len(name) > 100:
        raise ValidationFailed("印章名称不超过100字 / name too long",
                               fields={"name": ["印章名称不超过100字 / at most 100 characters"]})
    actor = _actor_label(user)
    for _ in range(5):
        try:
            with transaction.atomic():
                seal = Seal.objects.create(organization=organization, seal_type=seal_type, name=name,
                                           code=_next_code(organization), applied_by=actor,
                                           application_reason=reason)
                break
        except IntegrityError:  # two applications took the same number: take the next
            continue
    else:  # pragma: no cover
        raise StateError("印章编码分配失败，请重试 / could not allocate a seal code, try again")
    _event(seal, "apply", "", actor, reason)
    return seal


def _transition(user, seal: Seal, action: str, reason: str = "") -> Seal:
    allowed_from, to_state = TRANSITIONS[action]
    seal = Seal.objects.select_for_update().select_related("organization", "organization__region").get(pk=seal.pk)
    _require_admin(user, seal.organization)
    reason = _clean_reason(reason, action)
    if seal.state not in allowed_from:
        raise StateError(f"印章当前为“{seal.get_state_display()}”，不能{ACTION_LABELS[action]} / "
                         f"a seal that is {seal.state} cannot be {action}d")
    from_state = seal.state
    if action == "produce":
        _make_key_and_image(seal)
    if action == "activate" and seal.certificate_not_after and seal.certificate_not_after <= timezone.now():
        raise StateError("印章证书已过期，请先续期 / the seal's certificate has expired: renew it first")
    seal.state = to_state
    seal.save()
    _event(seal, action, from_state, _actor_label(user), reason)
    return seal


def _make_key_and_image(seal: Seal) -> None:
    scalar, point = keystore.new_p256()
    seal.public_point = point
    seal.private_key_encrypted = keystore.seal_private(scalar, f"seal:{seal.code}")
    seal.image_png = render_seal(seal.organization.name, seal.get_seal_type_display(), seal.code)
    _certify(seal)


def _certify(seal: Seal) -> None:
    issued = ca.issue(common_name=seal.name, organization=seal.organization.name,
                      unit=f"{seal.get_seal_type_display()} {seal.code}", public_point=seal.public_point,
                      algorithm="ES256", days=cert_days())
    seal.certificate_pem, seal.certificate_serial = issued.pem, issued.serial
    seal.certificate_not_after = issued.not_after


@transaction.atomic
def review_seal(user, seal: Seal, *, approve: bool = True, reason: str = "") -> Seal:
    """审核: approve (→ reviewed) or reject (→ rejected, reason required)."""
    return _transition(user, seal, "review" if approve else "reject", reason)


@transaction.atomic
def produce_seal(user, seal: Seal, *, reason: str = "") -> Seal:
    """制作: key pair, image and certificate."""
    return _transition(user, seal, "produce", reason)


@transaction.atomic
def file_seal(user, seal: Seal, *, reason: str = "") -> Seal:
    """备案."""
    return _transition(user, seal, "file", reason)


@transaction.atomic
def activate_seal(user, seal: Seal, *, reason: str = "") -> Seal:
    """启用 (also re-activates a suspended seal)."""
    return _transition(user, seal, "activate", reason)


@transaction.atomic
def suspend_seal(user, seal: Seal, *, reason: str) -> Seal:
    """挂失/停用: the seal signs nothing until re-activated."""
    return _transition(user, seal, "suspend", reason)


@transaction.atomic
def revoke_seal(user, seal: Seal, *, reason: str) -> Seal:
    """吊销: final; the private key is erased."""
    seal = _transition(user, seal, "revoke", reason)
    seal.private_key_encrypted = ""
    seal.save(update_fields=["private_key_encrypted", "updated_at"])
    return seal


@transaction.atomic
def renew_seal_certificate(user, seal: Seal, *, reason: str = "") -> Seal:
    """续期: a new certificate for the same key (the seal's state does not change)."""
    seal = Seal.objects.select_for_update().select_related("organization").get(pk=seal.pk)
    _require_admin(user, seal.organization)
    if seal.state not in RENEWABLE:
        raise StateError(f"印章当前为“{seal.get_state_display()}”，不能续期 / a {seal.state} seal cannot be renewed")
    _certify(seal)
    seal.save()
    _event(seal, "renew", seal.state, _actor_label(user), _clean_reason(reason, "renew"))
    return seal


def private_key(seal: Seal):
    """The seal's signing key (P-256); only for an active seal with a valid certificate."""
    check_can_sign(seal)
    return keystore.p256_private(keystore.open_private(seal.private_key_encrypted, f"seal:{seal.code}"))


def check_can_sign(seal: Seal) -> None:
    if seal.state != S.ACTIVE:
        raise StateError(f"印章“{seal.name}”当前为“{seal.get_state_display()}”，不能用于签章 / "
                         f"seal {seal.code} is {seal.state} and cannot sign")
    if not seal.certificate_not_after or seal.certificate_not_after <= timezone.now():
        raise StateError(f"印章“{seal.name}”的证书已过期，请续期后再用 / "
                         f"the certificate of seal {seal.code} has expired")


# ------------------------------------------------------------------------- authorisations


@transaction.atomic
def authorize_role(user, organization: Organization, seal_type: str, role: str) -> SealAuthorization:
    """用印授权: let staff with ``role`` in ``organization`` apply ``seal_type`` seals."""
    _require_admin(user, organization)
    errors = {}
    if seal_type not in Seal.Type.values:
        errors["seal_type"] = ["请选择印章类型 / choose a seal type"]
    if role not in Role.values or role == Role.PLATFORM_ADMIN:
        errors["role"] = ["请选择岗位角色 / choose a staff role"]
    if errors:
        raise ValidationFailed("授权信息不完整 / incomplete authorisation", fields=errors)
    grant, created = SealAuthorization.objects.get_or_create(
        organization=organization, seal_type=seal_type, role=role, defaults={"granted_by": user})
    if created:
        audit.record("seals.authorization_granted", "seals.SealAuthorization", grant.pk,
                     after={"organization": organization.pk, "seal_type": seal_type, "role": role})
    return grant


@transaction.atomic
def withdraw_authorization(user, grant: SealAuthorization) -> None:
    _require_admin(user, grant.organization)
    audit.record("seals.authorization_withdrawn", "seals.SealAuthorization", grant.pk,
                 before={"organization": grant.organization_id, "seal_type": grant.seal_type, "role": grant.role})
    grant.delete()


# ------------------------------------------------------------------------- platform provisioning


def _provision(organization: Organization, seal_type: str, reason: str) -> Seal:
    """A seal taken through every lifecycle step by the platform itself (actor ``system``)."""
    with audit.acting_as(SYSTEM):
        seal = apply_for_seal(None, organization, seal_type, reason=reason)
        for step in (review_seal, produce_seal, file_seal, activate_seal):
            seal = step(None, seal, reason=reason)
    return seal


# The seal types that sign documents, the preferred first.
DOCUMENT_SEAL_TYPES = (Seal.Type.APPROVAL, Seal.Type.OFFICIAL)


def _usable_document_seal(organization: Organization) -> Seal | None:
    """The newest active document seal of the preferred type whose certificate is still valid."""
    usable = Seal.objects.select_related("organization").filter(
        organization=organization, state=S.ACTIVE, certificate_not_after__gt=timezone.now() + dt.timedelta(seconds=5))
    for seal_type in DOCUMENT_SEAL_TYPES:
        seal = usable.filter(seal_type=seal_type).order_by("-created_at").first()
        if seal:
            return seal
    return None


def seal_for_documents(organization: Organization) -> Seal:
    """The seal every PDF of ``organization`` is signed with.

    Its active 行政审批专用章, else its active 公章. With neither, the platform provisions an
    active 行政审批专用章 through the same lifecycle, recorded as done by ``system``, so that
    every issued document is sealed.
    """
    seal = _usable_document_seal(organization)
    if seal:
        return seal
    with transaction.atomic():
        # Serialise provisioning for one organisation so two documents do not make two seals.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        seal = _usable_document_seal(organization)
        if seal:
            return seal
        # An active seal whose certificate ran out is renewed rather than replaced.
        for seal_type in DOCUMENT_SEAL_TYPES:
            expired = Seal.objects.filter(organization=organization, state=S.ACTIVE, seal_type=seal_type) \
                .order_by("-created_at").first()
            if expired:
                with audit.acting_as(SYSTEM):
                    return renew_seal_certificate(None, expired, reason="证书到期，平台为出具文书自动续期 / "
                                                                        "renewed for issuing documents")
        return _provision(organization, Seal.Type.APPROVAL, "平台为出具文书自动配发 / provisioned for issuing documents")


def provision_demo_seals() -> list[Seal]:
    """Give each demo organisation with staff accounts a 公章 and a 行政审批专用章 (idempotent).
    The other organisations get their document seal when they first issue a document
    (``seal_for_documents``): making seals for every village station up front would only slow
    the demo down."""
    from yiwang.identity.models import StaffAccount

    made = []
    with_staff = StaffAccount.objects.values_list("organization_id", flat=True)
    organizations = Organization.objects.filter(is_active=True, pk__in=with_staff).select_related("region")
    for organization in organizations:
        for seal_type in (Seal.Type.OFFICIAL, Seal.Type.APPROVAL):
            if not Seal.objects.filter(organization=organization, seal_type=seal_type, state=S.ACTIVE).exists():
                made.append(_provision(organization, seal_type, "演示数据 / demo data"))
    return made


def seal_document(pdf: bytes, organization: Organization, *, reason: str) -> bytes:
    """The PDF signed (PAdES, visible seal) with ``organization``'s document seal."""
    from yiwang.seals.pdfsign import sign_pdf

    seal = seal_for_documents(organization)
    return sign_pdf(pdf, seal=seal, reason=reason, location=organization.region.name)


@transaction.atomic
def rewrap_private_keys() -> int:
    """Re-encrypt every stored private key under the current ``YIWANG_SEAL_KEK`` (after changing it,
    with the old one in ``YIWANG_SEAL_KEK_PREVIOUS``). Returns how many keys were re-wrapped."""
    from yiwang.seals.models import AuthorityKey, SigningKey

    count = 0
    rows = [(k, f"kid:{k.kid}") for k in SigningKey.objects.select_for_update().exclude(private_key_encrypted="")]
    rows += [(a, f"ca:{a.level}:{a.serial}") for a in AuthorityKey.objects.select_for_update()]
    rows += [(s, f"seal:{s.code}") for s in Seal.objects.select_for_update().exclude(private_key_encrypted="")]
    for row, owner in rows:
        if keystore.needs_rewrap(row.private_key_encrypted):
            row.private_key_encrypted = keystore.rewrap(row.private_key_encrypted, owner)
            row.save(update_fields=["private_key_encrypted"])
            count += 1
    audit.record("seals.keys_rewrapped", "seals.KeyEncryptionKey", keystore.kek()[0], detail={"count": count})
    return count
