"""Assurance levels (实名等级): how sure the platform is that an account is the person it names.

- L1 已注册: set when the account is created (name, ID number and a confirmed mobile number).
- L2 已实名核验: the person's name and ID number match the population base registry.
- L3 已现场核验: a window clerk saw the ID card and confirmed the person in person.

Each catalog item version states ``min_assurance_level``; :func:`level_sufficient` and
:func:`apply_gate` tell the portal whether a signed-in person may apply or must raise their level.
Every change writes an ``identity.level.change`` audit entry; refused attempts are audited too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from yiwang.core import audit
from yiwang.core.crypto import normalise_id_number
from yiwang.core.errors import DomainError, NotPermitted, StateError, ValidationFailed
from yiwang.core.fields import blind_match
from yiwang.core.masking import mask_id_number
from yiwang.core.validators import InvalidCode, check_citizen_id
from yiwang.identity import scoping
from yiwang.identity.models import AssuranceLevel, Person, PopulationRecord, Role

T = TypeVar("T")

REGISTRY_MISMATCH = ("姓名、身份证号码与人口基础库信息不一致，请核对后重新填写 / "
                     "name and ID number do not match the population registry")
NOT_OWN_ID = ("身份证号码与您注册时填写的不一致，只能核验本人身份 / "
              "this is not the ID number registered for your account")
DECEASED = ("人口基础库显示该身份证号码已注销，无法完成实名核验，请到窗口咨询 / "
            "the population registry shows this ID number as cancelled")


def person_of(user) -> Person | None:
    """The natural person behind a signed-in citizen's account, or None (anonymous, staff)."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.person
    except Person.DoesNotExist:
        return None


def level_label(level: int) -> str:
    try:
        return AssuranceLevel(level).label
    except ValueError:
        return f"L{level}"


def normalise_name(value: str) -> str:
    """Names compare without spaces; the several middle dots of minority names count as one."""
    text = "".join((value or "").split())
    for dot in ("•", "・", "∙", "．", "."):
        text = text.replace(dot, "·")
    return text


def _check_id(value: str, field: str = "id_number") -> str:
    try:
        return check_citizen_id(value or "")
    except InvalidCode as exc:
        raise ValidationFailed(str(exc), fields={field: [str(exc)]}) from None


def _audited_refusal(person: Person | None, attempt: Callable[[], T], target: int) -> T:
    """Run ``attempt``; if it is refused, leave an audit entry of the refusal (in its own
    transaction, since the attempt's own transaction rolled back) and re-raise."""
    try:
        return attempt()
    except DomainError as exc:
        if person is not None and person.pk:
            with transaction.atomic():
                audit.record("identity.level.refused", "Person", person.pk,
                             detail={"target": target, "reason": exc.code, "message": exc.message[:120]})
        raise


def _locked(person: Person) -> Person:
    return Person.objects.select_for_update().get(pk=person.pk)


def _change_level(person: Person, to: int, method: str, **extra) -> None:
    before = person.assurance_level
    person.assurance_level = to
    person.level_changed_at = timezone.now()
    fields = ["assurance_level", "level_changed_at", *extra.pop("update_fields", [])]
    person.save(update_fields=fields)
    audit.record("identity.level.change", "Person", person.pk,
                 before={"level": before}, after={"level": to},
                 detail={"from": before, "to": to, "method": method, **extra})


# ----------------------------------------------------------------------------- L1 → L2
def raise_to_l2(person: Person, name: str, id_number: str) -> Person:
    """L2: the name and ID number typed by the person match the population base registry.

    Only the person's own registered ID number can be verified. Nothing changes on a mismatch.
    """
    return _audited_refusal(person, lambda: _raise_to_l2(person, name, id_number), AssuranceLevel.L2)


@transaction.atomic
def _raise_to_l2(person: Person, name: str, id_number: str) -> Person:
    errors: dict[str, list[str]] = {}
    if not normalise_name(name):
        errors["name"] = ["请填写姓名 / enter your name"]
    try:
        id_number = _check_id(id_number)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)

    locked = _locked(person)
    if locked.assurance_level >= AssuranceLevel.L2:
        raise StateError(f"您已是{level_label(locked.assurance_level)}，无需再次核验 / already verified")
    if normalise_id_number(locked.id_number) != normalise_id_number(id_number):
        raise ValidationFailed(NOT_OWN_ID, fields={"id_number": [NOT_OWN_ID]})
    record = PopulationRecord.objects.filter(blind_match(PopulationRecord, "id_number", id_number)).first()
    if record is None or normalise_name(record.name) != normalise_name(name):
        raise ValidationFailed(REGISTRY_MISMATCH, fields={"name": [REGISTRY_MISMATCH],
                                                         "id_number": [REGISTRY_MISMATCH]})
    if not record.alive:
        raise NotPermitted(DECEASED, fields={"id_number": [DECEASED]})

    # The registry is authoritative for the name: correct what was typed at registration.
    renamed = locked.name != record.name
    if renamed:
        locked.name = record.name
    _change_level(locked, AssuranceLevel.L2, "population_registry", name_corrected=renamed,
                  update_fields=["name"] if renamed else [])
    _copy_into(person, locked)
    return locked


# ----------------------------------------------------------------------------- L2 → L3
def confirm_in_person_l3(clerk_user, person: Person, id_number_checked: str) -> Person:
    """L3: a window clerk read the ID card, typed its number again, and it matched."""
    return _audited_refusal(person, lambda: _confirm_in_person_l3(clerk_user, person, id_number_checked),
                            AssuranceLevel.L3)


@transaction.atomic
def _confirm_in_person_l3(clerk_user, person: Person, id_number_checked: str) -> Person:
    if not scoping.has_role(clerk_user, Role.CLERK):
        raise NotPermitted("仅综合窗口工作人员可以现场核验 / only window clerks may confirm in person")
    id_number_checked = _check_id(id_number_checked, "id_number_checked")
    locked = _locked(person)
    if normalise_id_number(locked.id_number) != normalise_id_number(id_number_checked):
        message = ("证件号码与该账号登记的不一致，请核对身份证原件 / the number on the card does not match "
                   "this account")
        raise ValidationFailed(message, fields={"id_number_checked": [message]})
    if locked.assurance_level >= AssuranceLevel.L3:
        raise StateError("该账号已是 L3 已现场核验，无需重复核验 / already confirmed in person")
    if locked.assurance_level < AssuranceLevel.L2:
        raise StateError("该账号尚未通过 L2 实名核验，请先引导申请人在网上完成 L2 核验 / "
                         "the account must reach L2 first")
    record = PopulationRecord.objects.filter(blind_match(PopulationRecord, "id_number", locked.id_number)).first()
    if record is not None and not record.alive:
        raise NotPermitted(DECEASED, fields={"id_number_checked": [DECEASED]})

    locked.verified_in_person_by = clerk_user
    staff = scoping.staff_of(clerk_user)
    _change_level(locked, AssuranceLevel.L3, "in_person", update_fields=["verified_in_person_by"],
                  organization=staff.organization.uscc if staff else "")
    _copy_into(person, locked)
    return locked


def _copy_into(target: Person, source: Person) -> None:
    if target is not source:
        for f in ("name", "assurance_level", "level_changed_at", "verified_in_person_by_id"):
            setattr(target, f, getattr(source, f))


# ----------------------------------------------------------------------------- clerk look-up
def find_person_for_clerk(clerk_user, id_number: str) -> Person | None:
    """The registered person with this ID number (exact match on the blind index), for a clerk.

    Looking up someone's personal data is itself audited (found or not).
    """
    if not scoping.has_role(clerk_user, Role.CLERK):
        raise NotPermitted("仅综合窗口工作人员可以查询 / only window clerks may look people up")
    id_number = _check_id(id_number)
    person = (Person.objects.filter(blind_match(Person, "id_number", id_number))
              .select_related("user").first())
    with transaction.atomic():
        audit.record("identity.person.lookup", "Person", person.pk if person else "",
                     detail={"found": person is not None, "id_number": mask_id_number(id_number)})
    return person


# ----------------------------------------------------------------------------- what the portal asks
def level_sufficient(user, item_version) -> bool:
    """May this signed-in person apply for this item version at their current level?"""
    person = person_of(user)
    return person is not None and person.assurance_level >= (item_version.min_assurance_level or 1)


@dataclasses.dataclass(frozen=True)
class ApplyGate:
    """What the 在线办理 action should say to this visitor for this item version."""

    state: str  # "login" (anonymous) | "raise" (level too low) | "ok" | "not_citizen" (staff etc.)
    required: int
    current: int | None = None

    @property
    def required_label(self) -> str:
        return level_label(self.required)

    @property
    def current_label(self) -> str:
        return level_label(self.current) if self.current else ""

    @property
    def needs_counter(self) -> bool:
        """L3 can only be reached at a service window, not online."""
        return self.required >= AssuranceLevel.L3


def apply_gate(user, item_version) -> ApplyGate:
    required = item_version.min_assurance_level or 1
    if not getattr(user, "is_authenticated", False):
        return ApplyGate("login", required)
    person = person_of(user)
    if person is None:
        return ApplyGate("not_citizen", required)
    if person.assurance_level < required:
        return ApplyGate("raise", required, person.assurance_level)
    return ApplyGate("ok", required, person.assurance_level)
