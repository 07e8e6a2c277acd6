"""Staff administration (工作人员管理): organisation administrators create and maintain the staff
accounts of their organisation and its children; platform administrators those of every one.

Staff accounts are never self-registered. Each function validates, changes state in one
transaction and records its audit entry. Whom an administrator may manage is decided by
``scoping`` (the organisation administrator role reaches the organisation's descendants).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from yiwang.core import audit
from yiwang.core.errors import NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization
from yiwang.identity import scoping
from yiwang.identity.models import AccountSecurity, Role, StaffAccount

_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0OoIl1")
INITIAL_PASSWORD_LENGTH = 12
RESERVED_USERNAMES = {"new"}  # would collide with /office/staff/new/


# ----------------------------------------------------------------------------- who may do what
def can_administer(actor) -> bool:
    """Whether ``actor`` administers staff anywhere (organisation or platform administrator)."""
    ids = scoping.visible_organization_ids(actor, Role.ORG_ADMIN)
    return ids is None or bool(ids)


def _require_admin(actor) -> None:
    if not can_administer(actor):
        raise NotPermitted("仅限机构管理员或平台管理员 / organisation or platform administrators only")


def staff_for(actor) -> QuerySet[StaffAccount]:
    """The staff accounts ``actor`` may see and manage."""
    return scoping.scope_queryset(StaffAccount.objects.all(), actor, role=Role.ORG_ADMIN)


def organizations_for(actor) -> QuerySet[Organization]:
    """Active organisations ``actor`` may put staff in."""
    return scoping.scope_queryset(Organization.objects.filter(is_active=True), actor, field="id", role=Role.ORG_ADMIN)


def get_staff_for(actor, username: str) -> StaffAccount:
    staff = staff_for(actor).select_related("user", "organization").filter(user__username=username).first()
    if staff is None:
        raise NotFound("工作人员不存在 / staff member not found")
    return staff


def grantable_roles(actor) -> list[str]:
    """Roles ``actor`` may grant: every role but platform administrator, which only a platform administrator grants."""
    roles = [r.value for r in Role]
    if not scoping.is_platform_admin(actor):
        roles.remove(Role.PLATFORM_ADMIN.value)
    return roles


def check_manageable(actor, staff: StaffAccount) -> None:
    if not scoping.can_act_for(actor, staff.organization_id, Role.ORG_ADMIN):
        raise NotFound("工作人员不存在 / staff member not found")
    if Role.PLATFORM_ADMIN in staff.roles and not scoping.is_platform_admin(actor):
        raise NotPermitted("平台管理员的账号只能由平台管理员管理 / only platform administrators manage a platform "
                           "administrator's account")


# ----------------------------------------------------------------------------- validation
def _clean_roles(actor, roles: Iterable[str], errors: dict[str, list[str]]) -> list[str]:
    chosen = sorted({str(r) for r in roles or []})
    if not chosen:
        errors["roles"] = ["请至少选择一个角色 / choose at least one role"]
    elif unknown := [r for r in chosen if r not in Role.values]:
        errors["roles"] = [f"未知角色：{'、'.join(unknown)} / unknown role"]
    elif Role.PLATFORM_ADMIN in chosen and not scoping.is_platform_admin(actor):
        errors["roles"] = ["只有平台管理员可以授予平台管理员角色 / only platform administrators grant that role"]
    return chosen


def _clean_organization(actor, organization: Organization | None, errors: dict[str, list[str]]) -> None:
    if organization is None:
        errors["organization"] = ["请选择所属机构 / choose the organisation"]
    elif not organization.is_active:
        errors["organization"] = ["该机构已停用 / this organisation is deactivated"]
    elif not scoping.can_act_for(actor, organization.pk, Role.ORG_ADMIN):
        errors["organization"] = ["只能为本机构及下级机构开设账号 / only your organisation and its sub-units"]


def _clean_display_name(value: str, errors: dict[str, list[str]]) -> str:
    value = (value or "").strip()
    if not value:
        errors["display_name"] = ["请填写姓名 / enter the name"]
    elif len(value) > 60:
        errors["display_name"] = ["姓名不能超过60个字 / at most 60 characters"]
    return value


def generate_password() -> str:
    """A one-time initial password: letters and digits, without look-alike characters."""
    while True:
        value = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(INITIAL_PASSWORD_LENGTH))
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def _check_password(password: str, user, errors: dict[str, list[str]]) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors["password"] = [f"{m} / the password does not meet the policy" for m in exc.messages]


def _snapshot(staff: StaffAccount) -> dict:
    return {"username": staff.user.get_username(), "organization": staff.organization.uscc,
            "roles": sorted(staff.roles), "display_name": staff.display_name, "active": staff.user.is_active}


# ----------------------------------------------------------------------------- actions
@transaction.atomic
def create_staff(actor, *, username: str, display_name: str, organization: Organization | None,
                 roles: Iterable[str], password: str = "") -> tuple[StaffAccount, str]:
    """Open a staff account. Returns it and the initial password (generated unless ``password`` is given).

    The password is returned once, for the administrator to hand over; it is stored only hashed.
    """
    _require_admin(actor)
    User = get_user_model()
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = ["请填写登录用户名 / enter the user name"]
    elif not 3 <= len(username) <= 30:
        errors["username"] = ["用户名为3至30个字符 / 3 to 30 characters"]
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            errors["username"] = ["用户名只能包含字母、数字和 @ . + - _ / letters, digits and @ . + - _ only"]
        else:
            if username.lower() in RESERVED_USERNAMES or User.objects.filter(username__iexact=username).exists():
                errors["username"] = ["该用户名已被使用 / this user name is taken"]
    display_name = _clean_display_name(display_name, errors)
    _clean_organization(actor, organization, errors)
    chosen = _clean_roles(actor, roles, errors)
    generated = not password
    password = password or generate_password()
    if not generated:
        _check_password(password, User(username=username), errors)
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)

    user = User.objects.create_user(username=username, password=password)
    staff = StaffAccount.objects.create(user=user, organization=organization, roles=chosen, display_name=display_name)
    AccountSecurity.objects.create(user=user)
    audit.record("identity.staff.create", "StaffAccount", username, after=_snapshot(staff),
                 detail={"organization": organization.name, "roles": chosen,
                         "password": "generated" if generated else "set_by_admin"})
    return staff, password


@transaction.atomic
def update_staff(actor, staff: StaffAccount, *, display_name: str, organization: Organization | None,
                 roles: Iterable[str]) -> StaffAccount:
    """Change a staff member's name, organisation and roles."""
    _require_admin(actor)
    staff = StaffAccount.objects.select_for_update().select_related("user", "organization").get(pk=staff.pk)
    check_manageable(actor, staff)
    errors: dict[str, list[str]] = {}
    display_name = _clean_display_name(display_name, errors)
    _clean_organization(actor, organization, errors)
    chosen = _clean_roles(actor, roles, errors)
    if staff.user_id == actor.pk and Role.ORG_ADMIN in staff.roles and Role.ORG_ADMIN not in chosen \
            and not scoping.is_platform_admin(actor):
        errors.setdefault("roles", []).append("不能取消自己的机构管理员角色 / you cannot remove your own administrator role")
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)
    before = _snapshot(staff)
    staff.display_name, staff.organization, staff.roles = display_name, organization, chosen
    staff.save(update_fields=["display_name", "organization", "roles"])
    after = _snapshot(staff)
    if before != after:
        audit.record("identity.staff.update", "StaffAccount", staff.user.get_username(), before=before, after=after,
                     detail={k: after[k] for k in after if after[k] != before[k]})
    return staff


@transaction.atomic
def reset_second_factor(actor, staff: StaffAccount) -> None:
    """Forget the staff member's authenticator: they set up a new one at their next sign-in."""
    _require_admin(actor)
    staff = StaffAccount.objects.select_related("user", "organization").get(pk=staff.pk)
    check_manageable(actor, staff)
    security, _ = AccountSecurity.objects.select_for_update().get_or_create(user=staff.user)
    security.totp_secret = ""
    security.totp_confirmed_at = None
    security.totp_last_step = 0
    security.save(update_fields=["totp_secret", "totp_confirmed_at", "totp_last_step"])
    audit.record("identity.totp.reset", "StaffAccount", staff.user.get_username(),
                 detail={"organization": staff.organization.name})


@transaction.atomic
def reset_password(actor, staff: StaffAccount) -> str:
    """Give the staff member a new one-time password (returned once) and lift any lock."""
    _require_admin(actor)
    staff = StaffAccount.objects.select_related("user", "organization").get(pk=staff.pk)
    check_manageable(actor, staff)
    password = generate_password()
    staff.user.set_password(password)
    staff.user.save(update_fields=["password"])
    AccountSecurity.objects.update_or_create(user=staff.user, defaults={"failed_logins": 0, "locked_until": None})
    audit.record("identity.staff.password_reset", "StaffAccount", staff.user.get_username(),
                 detail={"organization": staff.organization.name})
    return password


@transaction.atomic
def deactivate_staff(actor, staff: StaffAccount, *, reason: str) -> StaffAccount:
    """Close the account: the person can no longer sign in; history stays."""
    _require_admin(actor)
    staff = StaffAccount.objects.select_related("user", "organization").get(pk=staff.pk)
    check_manageable(actor, staff)
    reason = (reason or "").strip()
    if staff.user_id == actor.pk:
        raise ValidationFailed("不能停用自己的账号 / you cannot deactivate your own account",
                               fields={"reason": ["不能停用自己的账号 / you cannot deactivate your own account"]})
    if not reason:
        raise ValidationFailed("请填写停用原因 / give a reason", fields={"reason": ["请填写停用原因 / give a reason"]})
    if not staff.user.is_active:
        raise StateError("该账号已停用 / the account is already deactivated")
    staff.user.is_active = False
    staff.user.save(update_fields=["is_active"])
    audit.record("identity.staff.deactivate", "StaffAccount", staff.user.get_username(),
                 detail={"organization": staff.organization.name, "reason": reason[:200]})
    return staff


@transaction.atomic
def reactivate_staff(actor, staff: StaffAccount) -> StaffAccount:
    _require_admin(actor)
    staff = StaffAccount.objects.select_related("user", "organization").get(pk=staff.pk)
    check_manageable(actor, staff)
    if staff.user.is_active:
        raise StateError("该账号在用 / the account is active")
    staff.user.is_active = True
    staff.user.save(update_fields=["is_active"])
    AccountSecurity.objects.update_or_create(user=staff.user, defaults={"failed_logins": 0, "locked_until": None})
    audit.record("identity.staff.reactivate", "StaffAccount", staff.user.get_username(),
                 detail={"organization": staff.organization.name})
    return staff
