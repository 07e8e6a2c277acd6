"""Enterprises (法人) and their agents (经办人).

An enterprise is registered by its legal representative, checked against the legal-person base
registry. The legal representative then authorises agents — for every item or a list of items,
for a period of at most three years — and may revoke them. :func:`acting_choices` and
:func:`can_act_for` say for whom a person may act today; the acting middleware relies on them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from yiwang.core import audit
from yiwang.core.errors import Conflict, NotPermitted, StateError, ValidationFailed
from yiwang.core.fields import blind_match
from yiwang.core.masking import mask_name
from yiwang.core.validators import InvalidCode, check_citizen_id, check_uscc
from yiwang.identity.models import (
    AgentAuthorization,
    AssuranceLevel,
    Enterprise,
    LegalPersonRecord,
    Person,
)
from yiwang.identity.services_levels import normalise_name

MAX_VALIDITY_YEARS = 3

NEEDS_L2 = ("请先完成 L2 实名核验（在“我的账号 › 实名等级”中办理）/ "
            "complete L2 identity verification first")


def _today() -> dt.date:
    return timezone.localdate()


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# ----------------------------------------------------------------------------- registration
@transaction.atomic
def register_enterprise(person: Person, uscc: str) -> Enterprise:
    """法人注册: the legal representative of an existing, active enterprise registers it."""
    try:
        uscc = check_uscc(uscc or "")
    except InvalidCode as exc:
        raise ValidationFailed(str(exc), fields={"uscc": [str(exc)]}) from None
    if person.assurance_level < AssuranceLevel.L2:
        raise NotPermitted(NEEDS_L2, fields={"uscc": [NEEDS_L2]})

    record = LegalPersonRecord.objects.select_for_update().filter(uscc=uscc).first()
    if record is None:
        message = ("法人基础库中没有这个统一社会信用代码，请核对营业执照 / "
                   "no enterprise with this credit code in the legal-person registry")
        raise ValidationFailed(message, fields={"uscc": [message]})
    if not record.active:
        message = "该企业在法人基础库中已注销或吊销，不能注册 / this enterprise is no longer active"
        raise ValidationFailed(message, fields={"uscc": [message]})
    if (record.legal_rep_id_index != person.id_number_index
            or normalise_name(record.legal_rep_name) != normalise_name(person.name)):
        message = ("您不是该企业登记的法定代表人；经办人请由法定代表人在平台上授权 / "
                   "you are not the registered legal representative of this enterprise")
        raise NotPermitted(message, fields={"uscc": [message]})
    existing = Enterprise.objects.filter(uscc=uscc).select_related("legal_representative").first()
    if existing is not None:
        message = ("该企业已在平台注册" + ("（由您本人持有）" if existing.legal_representative_id == person.pk else "")
                   + " / this enterprise is already registered")
        raise Conflict(message, fields={"uscc": [message]})

    enterprise = Enterprise.objects.create(uscc=uscc, name=record.name, legal_representative=person)
    audit.record("identity.enterprise.register", "Enterprise", uscc,
                 after={"uscc": uscc, "name": record.name, "legal_representative": person.pk},
                 detail={"name": record.name, "legal_representative": mask_name(person.name)})
    return enterprise


# ----------------------------------------------------------------------------- agents
def find_agent(identifier: str) -> Person | None:
    """A registered person by mobile number or citizen ID number (exact, via the blind index)."""
    text = "".join((identifier or "").split())
    if not text:
        return None
    digits = text.removeprefix("+86")
    if len(digits) == 11 and digits.isdigit() and digits.startswith("1"):
        return Person.objects.filter(blind_match(Person, "mobile", digits)).first()
    try:
        id_number = check_citizen_id(text)
    except InvalidCode:
        return None
    return Person.objects.filter(blind_match(Person, "id_number", id_number)).first()


def _require_legal_rep(person: Person, enterprise: Enterprise) -> None:
    if enterprise.legal_representative_id != person.pk:
        raise NotPermitted("只有企业的法定代表人可以管理经办人 / only the legal representative manages agents")


def _items_by_code(codes: Iterable[str]) -> list:
    from yiwang.catalog.models import ServiceItem

    wanted = sorted({c.strip().upper() for c in codes if c and c.strip()})
    found = {i.implementation_code: i for i in ServiceItem.objects.filter(
        implementation_code__in=wanted, state=ServiceItem.State.ACTIVE)}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        message = f"以下事项编码不存在或已取消：{'、'.join(unknown)} / unknown or retired items: {', '.join(unknown)}"
        raise ValidationFailed(message, fields={"items": [message]})
    return [found[c] for c in wanted]


@transaction.atomic
def authorise_agent(legal_rep: Person, enterprise: Enterprise, agent_identifier: str, *,
                    all_items: bool = True, item_codes: Iterable[str] = (),
                    valid_from: dt.date | None = None, valid_until: dt.date | None = None) -> AgentAuthorization:
    """经办人授权: let a registered, verified person act for the enterprise, for a scope and a period."""
    _require_legal_rep(legal_rep, enterprise)
    Enterprise.objects.select_for_update().filter(pk=enterprise.pk).first()  # one grant at a time per enterprise
    today = _today()
    errors: dict[str, list[str]] = {}

    agent = find_agent(agent_identifier)
    if agent is None:
        errors["agent"] = [("没有找到使用该手机号码或身份证号码注册的用户，请对方先在本平台注册 / "
                            "no registered person with this mobile or ID number")]
    elif agent.pk == legal_rep.pk:
        errors["agent"] = ["法定代表人本人无需授权 / the legal representative needs no authorisation"]
    elif agent.assurance_level < AssuranceLevel.L2:
        errors["agent"] = ["对方尚未完成 L2 实名核验，完成后才能被授权 / the agent must complete L2 verification first"]

    if valid_from is None:
        valid_from = today
    if valid_until is None:
        errors["valid_until"] = ["请填写失效日期 / enter the end date"]
    if valid_from < today:
        errors["valid_from"] = ["生效日期不能早于今天 / the start date cannot be in the past"]
    if valid_until is not None:
        if valid_until < valid_from:
            errors["valid_until"] = ["失效日期不能早于生效日期 / the end date is before the start date"]
        elif valid_until > _years_later(valid_from, MAX_VALIDITY_YEARS):
            errors["valid_until"] = [f"授权期限最长{MAX_VALIDITY_YEARS}年 / at most {MAX_VALIDITY_YEARS} years"]

    items = []
    if not all_items:
        codes = list(item_codes)
        if not any(c.strip() for c in codes):
            errors["items"] = ["请至少选择一个授权事项，或选择“全部事项” / choose at least one item, or all items"]
        else:
            try:
                items = _items_by_code(codes)
            except ValidationFailed as exc:
                errors.update(exc.fields)
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)

    if AgentAuthorization.objects.filter(enterprise=enterprise, agent=agent, revoked_at__isnull=True,
                                         valid_until__gte=today).exists():
        message = "该经办人已有未到期的授权，如需调整请先撤销原授权 / this agent already holds an authorisation"
        raise Conflict(message, fields={"agent": [message]})

    grant = AgentAuthorization.objects.create(enterprise=enterprise, agent=agent, all_items=all_items,
                                              valid_from=valid_from, valid_until=valid_until,
                                              granted_by=legal_rep)
    if items:
        grant.items.set(items)
    audit.record("identity.agent.authorise", "AgentAuthorization", grant.pk,
                 after={"enterprise": enterprise.uscc, "agent": agent.pk, "all_items": all_items,
                        "items": [i.implementation_code for i in items],
                        "valid_from": valid_from, "valid_until": valid_until},
                 detail={"enterprise": enterprise.uscc, "agent": mask_name(agent.name), "all_items": all_items,
                         "items": [i.implementation_code for i in items],
                         "valid_from": valid_from.isoformat(), "valid_until": valid_until.isoformat()})
    return grant


@transaction.atomic
def revoke_agent(legal_rep: Person, authorization: AgentAuthorization) -> AgentAuthorization:
    """撤销授权: the agent can no longer act for the enterprise, from now on."""
    grant = AgentAuthorization.objects.select_for_update().select_related("enterprise", "agent").get(
        pk=authorization.pk)
    _require_legal_rep(legal_rep, grant.enterprise)
    if grant.revoked_at is not None:
        raise StateError("该授权已撤销 / already revoked")
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    authorization.revoked_at = grant.revoked_at
    audit.record("identity.agent.revoke", "AgentAuthorization", grant.pk,
                 detail={"enterprise": grant.enterprise.uscc, "agent": mask_name(grant.agent.name)})
    return grant


# ----------------------------------------------------------------------------- who may act for whom
def current_authorizations(enterprise: Enterprise | None = None, today: dt.date | None = None) -> QuerySet:
    """Authorisations valid today: not revoked, started, not yet expired."""
    today = today or _today()
    qs = AgentAuthorization.objects.filter(revoked_at__isnull=True, valid_from__lte=today, valid_until__gte=today)
    return qs.filter(enterprise=enterprise) if enterprise is not None else qs


def authorizations_of(enterprise: Enterprise) -> QuerySet:
    """Every authorisation the enterprise has granted, newest first (for its legal representative)."""
    return (AgentAuthorization.objects.filter(enterprise=enterprise).select_related("agent")
            .prefetch_related("items").order_by("-created_at", "-pk"))


def status_of(grant: AgentAuthorization, today: dt.date | None = None) -> str:
    today = today or _today()
    if grant.revoked_at is not None:
        return "已撤销"
    if grant.valid_until < today:
        return "已过期"
    if grant.valid_from > today:
        return "未生效"
    return "有效"


@dataclasses.dataclass(frozen=True)
class ActingChoice:
    """One identity a person may act as: themselves (``enterprise`` None) or an enterprise."""

    enterprise: Enterprise | None
    as_legal_rep: bool = False
    authorization: AgentAuthorization | None = None

    @property
    def uscc(self) -> str:
        return self.enterprise.uscc if self.enterprise else ""

    @property
    def role(self) -> str:
        if self.enterprise is None:
            return "本人"
        return "法定代表人" if self.as_legal_rep else "经办人"


def acting_choices(person: Person, today: dt.date | None = None) -> list[ActingChoice]:
    """Oneself, the enterprises the person holds, and those they are an agent of today."""
    choices = [ActingChoice(None)]
    held = list(Enterprise.objects.filter(legal_representative=person).order_by("name"))
    choices += [ActingChoice(e, as_legal_rep=True) for e in held]
    held_ids = {e.pk for e in held}
    grants = (current_authorizations(today=today).filter(agent=person).exclude(enterprise_id__in=held_ids)
              .select_related("enterprise").order_by("enterprise__name", "pk"))
    seen: set[int] = set()
    for g in grants:
        if g.enterprise_id not in seen:
            seen.add(g.enterprise_id)
            choices.append(ActingChoice(g.enterprise, authorization=g))
    return choices


def can_act_for(person: Person | None, enterprise: Enterprise | None, item=None,
                today: dt.date | None = None) -> bool:
    """May ``person`` act for ``enterprise`` today (for ``item`` if given)?

    ``item`` is a ServiceItem, an ItemVersion or an implementation code.
    """
    if person is None or enterprise is None:
        return False
    if enterprise.legal_representative_id == person.pk:
        return True
    grants = current_authorizations(enterprise, today).filter(agent=person)
    if item is None:
        return grants.exists()
    item_filter = _item_filter(item)
    return grants.filter(Q(all_items=True) | item_filter).exists()


def _item_filter(item) -> Q:
    from yiwang.catalog.models import ItemVersion, ServiceItem

    if isinstance(item, ItemVersion):
        return Q(items__pk=item.item_id)
    if isinstance(item, ServiceItem):
        return Q(items__pk=item.pk)
    return Q(items__implementation_code=str(item).strip().upper())
