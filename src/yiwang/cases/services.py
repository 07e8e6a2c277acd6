"""Use cases of case handling: the only code that changes a case.

Each function runs in one transaction that also writes the case's history (``CaseEvent``) and
the hash-chained audit entry, so a crash leaves either the whole step or nothing. Staff actions
take the case row with ``select_for_update`` and compare the ``lock_version`` the actor saw:
of two people acting on the same step at once, one wins and the other gets a ``Conflict``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from yiwang.cases import numbering, workflow
from yiwang.cases.models import (
    OUTCOME_LABELS,
    Case, CaseDocument, CaseEvent, CaseMaterial, CaseStep, Correction, Extension, ItemProcess, Message,
    ProcessDefinition, StepAttachment, Suspension,
)
from yiwang.core import audit, calendar
from yiwang.core.errors import Conflict, DomainError, NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.masking import mask_id_number, mask_name, mask_uscc
from yiwang.identity import scoping
from yiwang.identity.models import Role

# ----------------------------------------------------------------------------- vocabulary
# Which case status a waiting task means, and what each step's outcomes are called.
STATUS_OF_TASK = {
    "pre_review": Case.Status.SUBMITTED,
    "correction": Case.Status.CORRECTION,
    "review": Case.Status.IN_REVIEW,
    "decide": Case.Status.DECIDING,
    "produce": Case.Status.PRODUCING,
    "deliver": Case.Status.DELIVERING,
}
WINDOW_KINDS = ("centre", "town_centre", "village_station")
MAX_OPINION = 1000


def _now() -> dt.datetime:
    return timezone.now()


def _today() -> dt.date:
    return numbering.local_day()


def _user_label(user) -> str:
    person = user._state.fields_cache.get("person") if user is not None and hasattr(user, "_state") else None
    if person is not None and person.name:  # a citizen already loaded (no staff lookup needed)
        return person.name
    staff = scoping.staff_of(user)
    if staff is not None:
        return staff.display_name or user.get_username()
    person = getattr(user, "person", None) if user is not None else None
    return getattr(person, "name", "") or (user.get_username() if user else "系统")


def snapshot(case: Case) -> dict[str, Any]:
    """What the audit digest covers (no personal data in clear)."""
    return {"number": case.number, "status": case.status, "decision": case.decision, "due": case.due_date,
            "lock": case.lock_version, "item": case.item_id, "paused_since": case.paused_since,
            "extended": case.extended_days, "paused": case.paused_days}


def _event(case: Case, user, action: str, label: str, *, before: str = "", opinion: str = "",
           role: str = "", detail: dict | None = None, on_behalf_of: str = "") -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, at=_now(), actor=user if getattr(user, "pk", None) else None,
        actor_name=_user_label(user) if user is not None else "系统", role=role, on_behalf_of=on_behalf_of,
        action=action, label=label, from_status=before, to_status=case.status, opinion=opinion,
        detail=detail or {})


def _audit(case: Case, action: str, user, before: dict | None, detail: dict | None = None) -> None:
    audit.record(f"cases.{action}", "Case", case.number, before=before, after=snapshot(case),
                 detail=detail or {}, actor=audit.actor_name(user) if user is not None else "system")


def _publish(case: Case, event: str, data: dict | None = None) -> None:
    """Signed webhooks to department systems (docs/webhooks.md), queued in this transaction."""
    from yiwang.exchange.webhooks import publish

    publish(case, event, data)


def notify(user, case: Case | None, text: str) -> None:
    """站内消息, sent on through the SMS channel in the background once the transaction commits."""
    if user is None:
        return
    from yiwang.cases.tasks import deliver_message
    from yiwang.core import jobs

    msg = Message.objects.create(user=user, case=case, text=text[:300], created_at=_now())
    jobs.enqueue(deliver_message, message_id=msg.pk)


# ----------------------------------------------------------------------------- processes
_DEFAULT_PROCESSES: dict[tuple[str, str], ProcessDefinition] = {}


def default_process(kind: str) -> ProcessDefinition:
    """The shipped process for 即办件/承诺件. Its row, once found or stored, is remembered for the
    process's life (a stored definition never changes: it is keyed by its XML's SHA-256)."""
    xml = workflow.default_definition(kind)
    key = (str(connection.settings_dict["NAME"]), kind)
    known = _DEFAULT_PROCESSES.get(key)
    if known is not None:
        with connection.cursor() as cur:  # still there (a test database may have been emptied)
            cur.execute("SELECT 1 FROM cases_processdefinition WHERE id = %s AND sha256 = %s",
                        [known.pk, known.sha256])
            if cur.fetchone() is not None:
                return known
    definition = store_definition(xml, kind=kind)
    _DEFAULT_PROCESSES[key] = definition
    return definition


def store_definition(xml: bytes, *, kind: str = "custom", user=None) -> ProcessDefinition:
    info = workflow.validate(xml)
    definition, _ = ProcessDefinition.objects.get_or_create(
        sha256=info.sha256,
        defaults=dict(process_id=info.process_id, name=info.name or info.process_id, kind=kind,
                      xml=xml.decode("utf-8"), uploaded_by=user if getattr(user, "pk", None) else None))
    return definition


def process_for(item) -> ProcessDefinition:
    known = getattr(item, "_process", None)  # the snapshot of cases.applying carries its process
    if known is not None:
        return known
    binding = next(iter(ItemProcess.objects.filter(item=item).select_related("definition").order_by()[:1]), None)
    if binding is not None:
        return binding.definition
    version = item.published_version
    return default_process("instant" if version is not None and version.case_type == "1" else "promised")


@transaction.atomic
def set_item_process(user, item, xml: bytes) -> ProcessDefinition:
    """Upload a BPMN process for an item; cases in flight keep the one they started on."""
    if not scoping.can_act_for(user, item.organization_id, Role.CATALOG_ADMIN):
        raise NotFound("未找到该事项 / item not found")
    try:
        definition = store_definition(xml, user=user)
    except workflow.ProcessDefinitionError as exc:
        raise ValidationFailed("流程定义无效 / invalid process definition", fields=exc.errors) from exc
    ItemProcess.objects.update_or_create(item=item, defaults={"definition": definition, "updated_by": user})
    audit.record("cases.process.set", "ServiceItem", item.implementation_code,
                 detail={"sha256": definition.sha256, "process": definition.process_id},
                 actor=audit.actor_name(user))
    return definition


def _xml(case: Case) -> bytes:
    return case.process.xml.encode("utf-8")


# ----------------------------------------------------------------------------- steps and status
def _step_org(case: Case, org_rule: str):
    if org_rule == "owner_parent" and case.organization.parent_id:
        return case.organization.parent
    if org_rule == "window":
        return case.accepting_org or None
    return case.organization


def _open_steps(case: Case, now: dt.datetime, known: set[str] | None = None) -> list[CaseStep]:
    """Create a CaseStep for every task the engine now waits on (idempotent per task id;
    ``known``: the task ids that already have a step, when the caller knows them)."""
    created = []
    known = set(case.steps.values_list("task_id", flat=True)) if known is None else known
    for task in workflow.ready_tasks(_xml(case), case.engine_state):
        if task.id in known:
            continue
        limit = task.limit_days or 0
        due = calendar.add_working_days(numbering.local_day(now), limit) if limit and task.role != "applicant" \
            else None
        created.append(CaseStep.objects.create(
            case=case, task_id=task.id, key=task.key, name=task.name, role=task.role, org_rule=task.org_rule,
            organization=_step_org(case, task.org_rule), started_at=now, limit_days=limit, due_date=due,
            case_status=case.status, case_warning=case.warning, region_code=case.region.code,
            submitted_at=case.submitted_at))
    return created


def _status_after_engine(case: Case) -> str:
    return _status_of_state(_xml(case), case.engine_state)


def _status_of_state(xml: bytes, state: dict) -> str:
    if workflow.is_finished(xml, state):
        result = workflow.result(xml, state)
        return Case.Status.NOT_ACCEPTED if result == "not_accepted" else Case.Status.COMPLETED
    keys = [t.key for t in workflow.ready_tasks(xml, state)]
    for key in keys:
        if key in STATUS_OF_TASK:
            return STATUS_OF_TASK[key]
    return Case.Status.IN_REVIEW


def current_steps(case: Case) -> list[CaseStep]:
    return list(case.steps.filter(state=CaseStep.State.OPEN).select_related("organization"))


# ----------------------------------------------------------------------------- who may act
def window_prefix(user) -> str | None:
    """The division-code prefix of the region a clerk's service centre accepts for (一窗受理), or
    None when the user is not a clerk at a service centre. The one place the window rule lives."""
    from yiwang.core.validators import division_prefix

    staff = scoping.staff_of(user)
    if staff is None or Role.CLERK not in staff.roles or staff.organization.kind not in WINDOW_KINDS:
        return None
    return division_prefix(staff.organization.region.code)


def is_window_for(user, case: Case) -> bool:
    """综合窗口: a clerk of a service centre whose region covers the case, or of the owning organisation."""
    staff = scoping.staff_of(user)
    if staff is None or not scoping.has_role(user, Role.CLERK):
        return False
    if scoping.is_platform_admin(user) or staff.organization_id == case.organization_id:
        return True
    prefix = window_prefix(user)
    return prefix is not None and case.region.code.startswith(prefix)


def may_act_on_step(user, case: Case, step: CaseStep) -> bool:
    if step.state != CaseStep.State.OPEN or step.role == "applicant":
        return False
    if not scoping.has_role(user, step.role):
        return False
    if step.org_rule == "window":
        return is_window_for(user, case)
    return step.organization_id is not None and scoping.can_act_for(user, step.organization_id, step.role)


def may_view(user, case: Case) -> bool:
    """Staff see cases of their organisations (and where they are the window); applicants their own."""
    if getattr(user, "pk", None) is None:
        return False
    staff = scoping.staff_of(user)
    if staff is None:
        return case.applicant_user_id == user.pk
    if scoping.can_act_for(user, case.organization_id):
        return True
    if case.accepting_org_id and scoping.can_act_for(user, case.accepting_org_id):
        return True
    return is_window_for(user, case)


def visible_cases(user):
    """Cases a staff user may see: their organisations' and those in their window's region."""
    from django.db.models import Q

    staff = scoping.staff_of(user)
    if staff is None:
        return Case.objects.none()
    ids = scoping.visible_organization_ids(user)
    if ids is None:
        return Case.objects.all()
    q = Q(organization_id__in=ids) | Q(accepting_org_id__in=ids)
    prefix = window_prefix(user)
    if prefix is not None:
        q |= Q(region__code__startswith=prefix)
    return Case.objects.filter(q)


def get_case_for(user, number: str) -> Case:
    """A case the user may see, or NotFound (never a hint that it exists)."""
    case = Case.objects.select_related("item", "item_version", "organization", "region", "process",
                                       "accepting_org").filter(number=number).first()
    if case is None or not may_view(user, case):
        raise NotFound("未找到该办件 / case not found")
    return case


def _lock(case: Case, seen_lock: int | None) -> Case:
    fresh = Case.objects.select_for_update(of=("self",)).select_related("organization", "region", "process",
                                                            "accepting_org", "item").get(pk=case.pk)
    if seen_lock is not None and fresh.lock_version != seen_lock:
        raise Conflict("该办件刚刚已被他人处理，请刷新后查看最新状态 / someone else acted on this case first; "
                       "reload to see its current state")
    return fresh


def _clean_opinion(opinion: str, *, required: bool, field: str = "opinion", what: str = "办理意见") -> str:
    opinion = (opinion or "").strip()
    if required and not opinion:
        raise ValidationFailed(f"请填写{what}", fields={field: [f"请填写{what} / {field} is required"]})
    if len(opinion) > MAX_OPINION:
        raise ValidationFailed(f"{what}过长", fields={field: [f"{what}不超过{MAX_OPINION}字 / at most "
                                                                 f"{MAX_OPINION} characters"]})
    return opinion


# ----------------------------------------------------------------------------- submission
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _applicant(user, enterprise, version) -> dict[str, Any]:
    from yiwang.identity.services_enterprise import can_act_for
    from yiwang.identity.services_levels import person_of

    person = person_of(user)
    if person is None:
        raise NotPermitted("请使用个人账号登录后申请 / sign in with a citizen account to apply")
    if person.assurance_level < (version.min_assurance_level or 1):
        raise NotPermitted(f"该事项需要实名等级 L{version.min_assurance_level}，请先提升等级 / "
                           f"this item requires assurance level L{version.min_assurance_level}")
    if enterprise is not None:
        if not can_act_for(person, enterprise, version):
            raise NotPermitted("您未获授权代表该企业办理此事项 / you are not authorised to act for this "
                               "enterprise on this item")
        return {"name": enterprise.name, "id_number": enterprise.uscc, "id_type": "001",
                "contact": person.name, "mobile": person.mobile, "person": person}
    return {"name": person.name, "id_number": person.id_number, "id_type": "111", "contact": person.name,
            "mobile": person.mobile, "person": person}


def _check_files(version, files: dict[int, Any], *, require_all: bool = True,
                 supplied: Iterable[int] = ()) -> list[tuple[Any, Any, bytes]]:
    """Each required material has a file (or is ``supplied`` by a connector); each file passes the
    content/size/name checks."""
    from yiwang.core.uploads import check_upload

    allowed = (".pdf", ".jpg", ".jpeg", ".png", ".ofd")
    errors: dict[str, list[str]] = {}
    accepted = []
    materials = {m.pk: m for m in version.materials.all()}
    for mid in files:
        if mid not in materials:
            errors[f"material_{mid}"] = ["该材料不属于此事项 / this material is not on the item's list"]
    for m in materials.values():
        upload = files.get(m.pk)
        field = f"material_{m.pk}"
        if upload is None:
            if m.required and require_all and m.pk not in supplied:
                errors[field] = [f"请上传“{m.name}” / please upload \u201c{m.name}\u201d"]
            continue
        try:
            checked = check_upload(upload, field, allowed)
        except ValidationFailed as exc:
            errors.update(exc.fields)
            continue
        checked.seek(0)
        accepted.append((m, checked, checked.read()))
    if errors:
        raise ValidationFailed("申请材料有误，请按提示修改 / some materials need attention", fields=errors)
    return accepted


def _store_material(case: Case, material, upload, data: bytes, now) -> CaseMaterial:
    cm = CaseMaterial(case=case, material=material, name=material.name, source=CaseMaterial.Source.UPLOAD,
                      original_name=upload.name[:120], size=len(data), sha256=_sha256(data),
                      content_type=getattr(upload, "content_type", "")[:60], uploaded_at=now)
    cm.file.save(upload.name, ContentFile(data), save=False)
    cm.save()
    return cm


def validate_form(version, data: dict, kind: str) -> dict:
    """The item's form (or the default for the applicant kind), validated on the server."""
    from yiwang.applications import formschema
    from yiwang.applications.selectors import form_definition

    definition = form_definition(version, kind)
    errors = formschema.validate(definition, data)
    if errors:
        raise ValidationFailed("申请表有误，请按提示修改 / the form needs attention",
                               fields={f"form.{k}" if not k.startswith("form.") else k: v for k, v in errors.items()})
    return data


def submit_application(user, *, item, form_data: dict, files: dict[int, Any] | None = None, enterprise=None,
                       idempotency_key: str = "", delivery: str = Case.Delivery.WINDOW, channel: str = "web",
                       bundle=None) -> Case:
    """提交申请: a case with its number, materials, first step and receipt — or nothing at all.

    The same ``idempotency_key`` from the same account returns the case already made.
    """
    key = (idempotency_key or "").strip()[:80]
    try:
        ready = _check(user, item=item, form_data=form_data, files=files or {}, enterprise=enterprise,
                       delivery=delivery)
        now = _now()
        # The number first. Outside any transaction the counter's upsert commits at once, so its
        # row is locked for that instant, not until the case commits: submissions of one item do
        # not queue behind each other (the audit chain's lock, taken last, is the one they share).
        # A submission that fails after this leaves a gap; numbers are unique, not gap-free. Inside
        # a caller's transaction (a bundle) the number joins it.
        number = numbering.next_case_number(ready.item.implementation_code, now)
        with transaction.atomic():
            return _write(user, ready, number=number, now=now, form_data=form_data, enterprise=enterprise,
                          key=key, delivery=delivery, channel=channel, bundle=bundle)
    except (IntegrityError, DomainError):
        # A repeat (a double click, a retried request): the case's insert meets the unique key
        # (concurrent repeats wait for the first to commit). Looked up only then, not before
        # every submission.
        existing = Case.objects.filter(applicant_user=user, idempotency_key=key).first() if key else None
        if existing is not None:
            return existing
        raise


@dataclasses.dataclass
class _Checked:
    item: Any
    version: Any
    who: dict[str, Any]
    uploads: list
    supplied: dict


def _check(user, *, item, form_data, files, enterprise, delivery) -> _Checked:
    """Everything a submission is judged on, read before anything is written."""
    from yiwang.catalog.models import ServiceItem

    loaded = item._state.fields_cache
    if not all(name in loaded for name in ("organization", "region", "published_version")):
        item = ServiceItem.objects.select_related("organization", "region", "published_version").get(pk=item.pk)
    version = item.published_version
    if item.state != ServiceItem.State.ACTIVE or version is None:
        raise StateError("该事项目前不能申请 / this item is not open for applications")
    if delivery not in Case.Delivery.values:
        raise ValidationFailed("送达方式无效", fields={"delivery": ["请选择送达方式 / choose a delivery method"]})
    who = _applicant(user, enterprise, version)
    errors: dict[str, list[str]] = {}  # the form and the materials are judged together: one summary
    uploads = []
    try:
        validate_form(version, form_data, "legal" if enterprise is not None else "person")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    from yiwang.cases import connectors

    supplied = connectors.attachments(user, enterprise, version)
    try:
        uploads = _check_files(version, {k: v for k, v in files.items() if k not in supplied}, supplied=supplied)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed("申请内容有误，请按提示修改 / some answers or materials need attention", fields=errors)
    return _Checked(item, version, who, uploads, supplied)


def _write(user, ready: _Checked, *, number, now, form_data, enterprise, key, delivery, channel, bundle) -> Case:
    item, version, who, uploads, supplied = ready.item, ready.version, ready.who, ready.uploads, ready.supplied
    definition = process_for(item)
    xml = definition.xml.encode("utf-8")
    state = workflow.start(xml, {"item": item.implementation_code, "case_type": version.case_type})
    case = Case.objects.create(
        number=number, item=item, item_version=version,
        item_name=version.name, organization=item.organization, region=item.region, bundle=bundle,
        applicant_user=user, enterprise=enterprise, applicant_name=who["name"], applicant_id_number=who["id_number"],
        applicant_id_type=who["id_type"], contact_name=who["contact"], contact_mobile=who["mobile"] or "",
        form_data=json.dumps(form_data, ensure_ascii=False), channel=channel, delivery=delivery,
        idempotency_key=key, status=_status_of_state(xml, state), process=definition, engine_state=state,
        submitted_at=now, limit_days=version.promised_limit_days, statutory_days=version.statutory_limit_days)
    for material, upload, data in uploads:
        _store_material(case, material, upload, data, now)
    for material in [m for m in version.materials.all() if m.pk in supplied]:
        found = supplied[material.pk]
        CaseMaterial.objects.create(case=case, material=material, name=material.name, source=found.source,
                                    reference=found.reference[:200], original_name=found.name[:120],
                                    uploaded_at=now)
    _open_steps(case, now, known=set())
    from yiwang.identity.acting import on_behalf_of

    _event(case, user, "submit", "提交申请", on_behalf_of=on_behalf_of(enterprise),
           detail={"materials": len(uploads), "channel": channel})
    _publish(case, "submitted")
    notify(user, case, f"您的申请“{case.item_name}”已提交，办件编号 {case.number}，查询码 {case.query_code}。")
    # Last: the audit entry takes the chain's lock, held until commit; every submission waits for it.
    _audit(case, "submit", user, None, {"item": item.implementation_code, "materials": len(uploads)})
    return case


# ----------------------------------------------------------------------------- staff actions
def _require_step(case: Case, step_id: int) -> CaseStep:
    step = case.steps.select_for_update().filter(pk=step_id).first()
    if step is None:
        raise NotFound("未找到该环节 / step not found")
    if step.state != CaseStep.State.OPEN:
        raise Conflict("该环节已被他人办理 / this step has already been handled")
    return step


def _complete_task(case: Case, step: CaseStep, user, outcome: str, opinion: str, now, data: dict | None = None):
    try:
        case.engine_state = workflow.complete(_xml(case), case.engine_state, step.task_id, outcome, data or {})
    except workflow.WorkflowError as exc:
        raise ValidationFailed("办理结果无效 / invalid outcome", fields={"outcome": [str(exc)]}) from exc
    step.state, step.completed_at, step.outcome, step.opinion = CaseStep.State.DONE, now, outcome, opinion
    step.handler = user if getattr(user, "pk", None) else None
    step.handler_name = _user_label(user)
    step.save()


def _allowed_outcomes(case: Case, step: CaseStep) -> tuple[str, ...]:
    for task in workflow.ready_tasks(_xml(case), case.engine_state):
        if task.id == step.task_id:
            return task.outcomes
    return ()


def outcomes_for(case: Case, step: CaseStep) -> list[tuple[str, str]]:
    return [(o, OUTCOME_LABELS.get(o, o)) for o in _allowed_outcomes(case, step)]


@transaction.atomic
def act(user, case: Case, *, step_id: int, outcome: str, opinion: str = "", lock_version: int | None = None,
        problems: Iterable[dict] | None = None, decision_reason: str = "", attachments: Iterable = ()) -> Case:
    """办理: complete the case's open step ``step_id`` with ``outcome`` (受理, 审查, 决定, 制证, 送达…),
    with the handler's opinion and, optionally, files for the step (checked like materials)."""
    case = _lock(case, lock_version)
    step = _require_step(case, step_id)
    if not may_act_on_step(user, case, step):
        raise NotPermitted("您无权办理该环节 / you may not act on this step")
    if case.clock_paused:
        raise StateError("特别程序进行中，请先结束特别程序 / a special procedure is running; end it first")
    outcomes = _allowed_outcomes(case, step)
    if outcome not in outcomes:
        raise ValidationFailed("请选择办理结果", fields={"outcome": [
            "请选择办理结果：" + "、".join(OUTCOME_LABELS.get(o, o) for o in outcomes) + " / choose an outcome"]})
    needs_reason = outcome in ("reject", "refuse")
    opinion = _clean_opinion(opinion, required=needs_reason, what="理由" if needs_reason else "办理意见")
    problem_list = _clean_problems(case, problems) if outcome == "correct" else []
    if outcome == "refuse":
        decision_reason = _clean_opinion(decision_reason or opinion, required=True, field="decision_reason",
                                         what="不予许可的理由和法律依据")
    files = _check_step_files(attachments)
    before, before_status = snapshot(case), case.status
    now = _now()
    _complete_task(case, step, user, outcome, opinion, now)
    extra: dict[str, Any] = {}
    for upload, data in files:
        att = StepAttachment(step=step, original_name=upload.name[:120], size=len(data), sha256=_sha256(data),
                             uploaded_at=now)
        att.file.save(upload.name, ContentFile(data), save=False)
        att.save()
    if files:
        extra["attachments"] = [{"name": u.name[:120], "sha256": _sha256(d)} for u, d in files]
    if step.key == "pre_review" and outcome == "accept":
        staff = scoping.staff_of(user)
        case.accepted_at, case.accepted_by = now, user
        case.accepting_org = staff.organization if staff else case.organization
        case.due_date = calendar.add_working_days(numbering.local_day(now), case.limit_days) \
            if case.limit_days else numbering.local_day(now)
    elif outcome == "reject":
        case.status_reason = opinion
    elif outcome == "correct":
        Correction.objects.create(case=case, problems=problem_list, requested_at=now, requested_by=user)
        extra["problems"] = problem_list
        if step.key == "pre_review" and case.accepting_org_id is None:
            staff = scoping.staff_of(user)
            case.accepting_org = staff.organization if staff else None
    elif outcome in ("approve", "refuse"):
        case.decision = Case.Decision.APPROVED if outcome == "approve" else Case.Decision.REFUSED
        case.decision_reason = decision_reason or opinion
        case.decided_at = now
    case.status = _status_after_engine(case)
    if case.status in (Case.Status.COMPLETED, Case.Status.NOT_ACCEPTED):
        case.completed_at = now
        case.warning = ""
    _open_steps(case, now)
    case.lock_version += 1
    case.save()
    staff_role = step.role
    said = OUTCOME_LABELS.get(outcome, outcome)
    label = step.name if said == step.name else f"{step.name}：{said}"
    _event(case, user, f"step.{step.key}", label, before=before_status, opinion=opinion, role=staff_role,
           detail={"step": step.key, "outcome": outcome, **extra})
    _audit(case, f"step.{step.key}.{outcome}", user, before, {"step": step.key, "outcome": outcome})
    _after_action(case, step, outcome, user)
    _publish(case, "step_completed", {"step": {"id": step.pk, "key": step.key, "name": step.name,
                                               "outcome": outcome}})
    for event, happened in (("accepted", step.key == "pre_review" and outcome == "accept"),
                            ("not_accepted", case.status == Case.Status.NOT_ACCEPTED),
                            ("correction_requested", outcome == "correct"),
                            ("decided", outcome in ("approve", "refuse")),
                            ("completed", case.status == Case.Status.COMPLETED)):
        if happened:
            _publish(case, event)
    return case


MAX_STEP_FILES = 5


def _check_step_files(attachments: Iterable) -> list[tuple[Any, bytes]]:
    from yiwang.core.uploads import check_upload

    uploads = [a for a in attachments or () if a is not None]
    if len(uploads) > MAX_STEP_FILES:
        raise ValidationFailed("附件过多", fields={"attachments": [
            f"每个环节最多 {MAX_STEP_FILES} 个附件 / at most {MAX_STEP_FILES} files per step"]})
    checked = []
    for upload in uploads:
        good = check_upload(upload, "attachments", (".pdf", ".jpg", ".jpeg", ".png", ".ofd"))
        good.seek(0)
        checked.append((good, good.read()))
    return checked


def _clean_problems(case: Case, problems: Iterable[dict] | None) -> list[dict]:
    materials = set(case.materials.values_list("material_id", flat=True)) | set(
        case.item_version.materials.values_list("pk", flat=True))
    cleaned = []
    for p in problems or ():
        text = (p.get("text") or "").strip()
        if not text:
            continue
        mid = p.get("material")
        mid = int(mid) if mid not in (None, "") and str(mid).isdigit() and int(mid) in materials else None
        cleaned.append({"material": mid, "text": text[:300]})
    if not cleaned:
        raise ValidationFailed("请列出需要补正的全部内容", fields={"problems": [
            "一次性告知：请列出需要补正的每一项内容 / list every problem to correct at once"]})
    return cleaned


def _after_action(case: Case, step: CaseStep, outcome: str, user) -> None:
    """Documents and messages that follow a step."""
    from yiwang.cases import documents

    applicant = case.applicant_user
    if step.key == "pre_review" and outcome == "accept":
        doc = documents.issue(case, CaseDocument.Kind.ACCEPTANCE)
        case.acceptance_number = doc.number
        case.save(update_fields=["acceptance_number"])
        notify(applicant, case, f"您的申请“{case.item_name}”已受理，承诺于 {case.due_date:%Y年%m月%d日} 前办结。")
    elif outcome == "reject":
        documents.issue(case, CaseDocument.Kind.NON_ACCEPTANCE)
        notify(applicant, case, f"您的申请“{case.item_name}”不予受理，理由：{case.status_reason[:80]}")
    elif outcome == "correct":
        documents.issue(case, CaseDocument.Kind.CORRECTION)
        notify(applicant, case, f"您的申请“{case.item_name}”需要补正材料，请在“我的办件”中查看补正告知并重新提交。")
    elif outcome == "approve":
        documents.issue(case, CaseDocument.Kind.APPROVAL)
        notify(applicant, case, f"您的申请“{case.item_name}”已准予，正在制作办理结果。")
    elif outcome == "refuse":
        documents.issue(case, CaseDocument.Kind.REFUSAL)
        notify(applicant, case, f"您的申请“{case.item_name}”未获准予，决定书已可下载。")
    elif step.key == "produce" and case.decision == Case.Decision.APPROVED:
        from yiwang.certificates.services import issue_for_case

        if (cert := issue_for_case(case, user)) is not None:
            _event(case, user, "certificate", f"电子证照已制发：{cert.certificate_type.name}"[:100],
                   detail={"identifier": cert.identifier})
    if case.status == Case.Status.COMPLETED:
        notify(applicant, case, f"您的办件“{case.item_name}”已办结。")
        _bundle_progress(case)


def _bundle_progress(case: Case) -> None:
    bundle = case.bundle
    if bundle is None or bundle.completed_at:
        return
    if not bundle.cases.exclude(status__in=Case.FINAL_STATUSES).exists():
        bundle.completed_at = _now()
        bundle.save(update_fields=["completed_at"])


# ----------------------------------------------------------------------------- applicant actions
def _own(user, case: Case) -> None:
    if case.applicant_user_id != getattr(user, "pk", None):
        raise NotFound("未找到该办件 / case not found")


@transaction.atomic
def resubmit_correction(user, case: Case, *, files: dict[int, Any] | None = None, form_data: dict | None = None,
                        note: str = "") -> Case:
    """补正后重新提交: replaces the named materials; the case goes back to the window."""
    _own(user, case)
    case = _lock(case, None)
    if case.status != Case.Status.CORRECTION:
        raise StateError("该办件当前不需要补正 / this case is not waiting for corrections")
    step = case.steps.select_for_update().filter(state=CaseStep.State.OPEN, role="applicant").first()
    if step is None:
        raise StateError("该办件当前不需要补正 / this case is not waiting for corrections")
    files = files or {}
    if not files and form_data is None:
        raise ValidationFailed("请上传补正材料", fields={"materials": ["请至少上传一份补正材料或修改申请表 / "
                                                               "upload at least one corrected material"]})
    uploads = _check_files(case.item_version, files, require_all=False)
    if form_data is not None:
        validate_form(case.item_version, form_data, "legal" if case.enterprise_id else "person")
        case.form_data = json.dumps(form_data, ensure_ascii=False)
    before, before_status = snapshot(case), case.status
    now = _now()
    for material, upload, data in uploads:
        case.materials.filter(material=material, superseded=False).update(superseded=True)
        _store_material(case, material, upload, data, now)
    _complete_task(case, step, user, "resubmit", (note or "")[:500], now)
    Correction.objects.filter(case=case, resubmitted_at__isnull=True).update(resubmitted_at=now)
    case.status = _status_after_engine(case)
    _open_steps(case, now)
    case.lock_version += 1
    case.save()
    _event(case, user, "resubmit", "补正后重新提交", before=before_status, opinion=(note or "")[:500],
           role="applicant", detail={"materials": len(uploads)})
    _audit(case, "resubmit", user, before, {"materials": len(uploads)})
    _publish(case, "resubmitted")
    return case


WITHDRAWABLE = (Case.Status.SUBMITTED, Case.Status.CORRECTION, Case.Status.IN_REVIEW, Case.Status.DECIDING)


@transaction.atomic
def withdraw(user, case: Case, *, reason: str) -> Case:
    """撤回: the applicant withdraws before the decision."""
    _own(user, case)
    case = _lock(case, None)
    if case.status not in WITHDRAWABLE or case.decision:
        raise StateError("已作出决定或已办结的申请不能撤回 / a decided or finished case cannot be withdrawn")
    reason = _clean_opinion(reason, required=True, field="reason", what="撤回理由")
    before, before_status, now = snapshot(case), case.status, _now()
    case.engine_state = workflow.cancel(_xml(case), case.engine_state)
    case.steps.filter(state=CaseStep.State.OPEN).update(state=CaseStep.State.CANCELLED, completed_at=now)
    case.status, case.status_reason, case.completed_at, case.warning = Case.Status.WITHDRAWN, reason, now, ""
    case.paused_since = None
    case.lock_version += 1
    case.save()
    _event(case, user, "withdraw", "申请人撤回", before=before_status, opinion=reason, role="applicant")
    _audit(case, "withdraw", user, before)
    _publish(case, "withdrawn")
    _bundle_progress(case)
    return case


# ----------------------------------------------------------------------------- the clock
def _require_handler(user, case: Case) -> None:
    if not (scoping.can_act_for(user, case.organization_id, Role.REVIEWER)
            or scoping.can_act_for(user, case.organization_id, Role.APPROVER)):
        raise NotPermitted("仅实施机构的审查或审批人员可以操作 / only the owning department's reviewers or "
                           "approvers may do this")


def _require_running(case: Case) -> None:
    if case.accepted_at is None or not case.is_open or case.status == Case.Status.CORRECTION:
        raise StateError("仅已受理、办理中的办件可以操作 / only accepted cases in progress allow this")


@transaction.atomic
def suspend(user, case: Case, *, kind: str, reason: str, expected_days: int = 0,
            lock_version: int | None = None) -> Suspension:
    """特别程序开始: the time limit stops until it ends (《行政许可法》第四十五条)."""
    case = _lock(case, lock_version)
    _require_handler(user, case)
    _require_running(case)
    if case.clock_paused:
        raise StateError("已有特别程序在进行 / a special procedure is already running")
    errors: dict[str, list[str]] = {}
    if kind not in Suspension.Kind.values:
        errors["kind"] = ["请选择特别程序类别 / choose the kind of procedure"]
    try:
        expected_days = int(expected_days or 0)
        if not 0 <= expected_days <= 365:
            raise ValueError
    except (TypeError, ValueError):
        errors["expected_days"] = ["预计所需时间应为 0–365 个工作日 / 0–365 working days"]
    if errors:
        raise ValidationFailed("请检查特别程序信息", fields=errors)
    reason = _clean_opinion(reason, required=True, field="reason", what="理由")
    before, now = snapshot(case), _now()
    s = Suspension.objects.create(case=case, kind=kind, reason=reason, expected_days=expected_days,
                                  started_at=now, started_by=user)
    case.paused_since = numbering.local_day(now)
    case.lock_version += 1
    case.save()
    _event(case, user, "suspend", f"特别程序开始：{s.get_kind_display()}", before=case.status, opinion=reason,
           detail={"kind": kind, "expected_days": expected_days})
    _audit(case, "suspend", user, before, {"kind": kind})
    _publish(case, "suspended", {"procedure": {"kind": kind, "expected_days": expected_days}})
    notify(case.applicant_user, case, f"您的办件“{case.item_name}”进入{s.get_kind_display()}程序，"
                                      f"预计需要 {expected_days} 个工作日，期间不计入办理时限。")
    return s


@transaction.atomic
def resume(user, case: Case, *, result: str, lock_version: int | None = None) -> Case:
    """特别程序结束: the due dates move by the working days it took."""
    case = _lock(case, lock_version)
    _require_handler(user, case)
    s = case.suspensions.select_for_update().filter(ended_at__isnull=True).first()
    if s is None or not case.clock_paused:
        raise StateError("没有进行中的特别程序 / no special procedure is running")
    result = _clean_opinion(result, required=True, field="result", what="特别程序结果")
    before, now = snapshot(case), _now()
    days = max(0, calendar.working_days_between(case.paused_since, numbering.local_day(now)))
    s.ended_at, s.working_days, s.result = now, days, result
    s.save()
    _shift_due_dates(case, days)
    case.paused_days += days
    case.paused_since = None
    case.lock_version += 1
    case.save()
    _event(case, user, "resume", f"特别程序结束：{s.get_kind_display()}（{days} 个工作日不计时）",
           before=case.status, opinion=result, detail={"days": days})
    _audit(case, "resume", user, before, {"days": days})
    _publish(case, "resumed", {"procedure": {"days": days}})
    return case


def _shift_due_dates(case: Case, days: int) -> None:
    if days <= 0:
        return
    if case.due_date:
        case.due_date = calendar.add_working_days(case.due_date, days)
    for step in case.steps.filter(state=CaseStep.State.OPEN, due_date__isnull=False):
        step.due_date = calendar.add_working_days(step.due_date, days)
        step.warning = ""
        step.save(update_fields=["due_date", "warning"])
    case.warning = ""


MAX_EXTENSION_DAYS = 30


@transaction.atomic
def request_extension(user, case: Case, *, days: int, reason: str) -> Extension:
    """申请延期: needs an approver's approval and a reason the applicant is told."""
    case = _lock(case, None)
    _require_handler(user, case)
    _require_running(case)
    if case.extensions.filter(status=Extension.Status.REQUESTED).exists():
        raise StateError("已有待批准的延期申请 / an extension request is already waiting")
    try:
        days = int(days)
        if not 1 <= days <= MAX_EXTENSION_DAYS:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed("延长天数无效", fields={"days": [
            f"延长天数应为 1–{MAX_EXTENSION_DAYS} 个工作日 / 1–{MAX_EXTENSION_DAYS} working days"]}) from None
    reason = _clean_opinion(reason, required=True, field="reason", what="延期理由")
    ext = Extension.objects.create(case=case, days=days, reason=reason, requested_by=user, requested_at=_now())
    _event(case, user, "extension.request", f"申请延期 {days} 个工作日", before=case.status, opinion=reason)
    audit.record("cases.extension.request", "Case", case.number, detail={"days": days},
                 actor=audit.actor_name(user))
    return ext


@transaction.atomic
def decide_extension(user, extension: Extension, *, approve: bool, opinion: str = "") -> Extension:
    case = _lock(extension.case, None)
    if not scoping.can_act_for(user, case.organization_id, Role.APPROVER):
        raise NotPermitted("仅实施机构的审批人员可以批准延期 / only an approver of the department may decide")
    ext = Extension.objects.select_for_update().get(pk=extension.pk)
    if ext.status != Extension.Status.REQUESTED:
        raise Conflict("该延期申请已处理 / this request has already been decided")
    if ext.requested_by_id == getattr(user, "pk", None):
        raise NotPermitted("延期须由申请人以外的审批人员批准 / someone other than the requester must decide")
    opinion = _clean_opinion(opinion, required=not approve, what="意见")
    before, now = snapshot(case), _now()
    ext.status = Extension.Status.APPROVED if approve else Extension.Status.REJECTED
    ext.decided_by, ext.decided_at, ext.opinion = user, now, opinion
    ext.save()
    if approve:
        case.due_date = calendar.add_working_days(case.due_date, ext.days) if case.due_date else case.due_date
        case.extended_days += ext.days
        case.warning = ""
        case.lock_version += 1
        case.save()
        notify(case.applicant_user, case, f"您的办件“{case.item_name}”经批准延长 {ext.days} 个工作日，"
                                          f"理由：{ext.reason[:60]}；新的办结期限 {case.due_date:%Y年%m月%d日}。")
    _event(case, user, "extension.decide", "批准延期" if approve else "不批准延期", before=case.status,
           opinion=opinion, detail={"days": ext.days, "approved": approve})
    _audit(case, "extension.decide", user, before, {"approved": approve, "days": ext.days})
    if approve:
        _publish(case, "extended", {"extension": {"days": ext.days}})
    return ext


# ----------------------------------------------------------------------------- time-limit sweep
def yellow_days() -> int:
    return int(getattr(settings, "YIWANG_CASE_YELLOW_DAYS", 2))


def sweep_time_limits(today: dt.date | None = None) -> dict[str, int]:
    """Raise yellow (≤ N working days left) and red (overdue) warnings, once each.

    Only cases whose warning must change are read: the query asks for open, running cases whose
    due date has passed (red) or falls within the yellow window and that do not carry that warning
    yet, so the work follows the changes, not the size of the case store. Running it again
    changes nothing.
    """
    today = today or _today()
    yellow_until = calendar.add_working_days(today, yellow_days())
    open_running = dict(status__in=Case.OPEN_STATUSES, paused_since__isnull=True, accepted_at__isnull=False)
    changed = {"red": 0, "yellow": 0}
    red = (Case.objects.filter(due_date__lt=today, **open_running).exclude(warning=Case.Warning.RED)
           .exclude(status=Case.Status.CORRECTION))
    yellow = (Case.objects.filter(due_date__gte=today, due_date__lte=yellow_until, warning="", **open_running)
              .exclude(status=Case.Status.CORRECTION))
    for level, qs in (("red", red), ("yellow", yellow)):
        target = Case.Warning.RED if level == "red" else Case.Warning.YELLOW
        label = "红牌：已超过办结期限" if level == "red" else f"黄牌：距办结期限不足 {yellow_days()} 个工作日"
        while changed[level] < SWEEP_MAX_CASES:
            with transaction.atomic():
                batch = list(qs.select_for_update(of=("self",)).select_related("organization")
                             .order_by("pk")[:SWEEP_BATCH])
                if not batch:
                    break
                _warn_batch(batch, level, target, label)
            changed[level] += len(batch)
    step_red = CaseStep.objects.filter(state=CaseStep.State.OPEN, due_date__lt=today,
                                       case__paused_since__isnull=True).exclude(warning="red")
    changed["steps"] = step_red.update(warning="red")
    return changed


SWEEP_BATCH = 500
SWEEP_MAX_CASES = 50_000  # per level and run; the next run (minutes later) continues


def _warn_batch(batch: list[Case], level: str, target: str, label: str) -> None:
    """One transaction for a batch: the warnings, each case's history entry and webhook event, one
    audit entry naming every case, and one message per staff member (a digest when several)."""
    from yiwang.identity.models import StaffAccount

    now = _now()
    ids = [c.pk for c in batch]
    Case.objects.filter(pk__in=ids).update(warning=target)
    CaseStep.objects.filter(case_id__in=ids, state=CaseStep.State.OPEN).update(case_warning=target)
    CaseEvent.objects.bulk_create([
        CaseEvent(case=c, at=now, actor=None, actor_name="系统", action=f"warning.{level}", label=label,
                  from_status=c.status, to_status=c.status, detail={"due": str(c.due_date)}) for c in batch])
    audit.record(f"cases.warning.{level}", "Case", f"{batch[0].number}+{len(batch) - 1}",
                 detail={"cases": [c.number for c in batch], "warning": target}, actor="system")
    for c in batch:
        c.warning = target
        _publish(c, "warning")
    roles_of: dict[int, set[str]] = {}
    for case_id, role in CaseStep.objects.filter(case_id__in=ids, state=CaseStep.State.OPEN).values_list(
            "case_id", "role"):
        roles_of.setdefault(case_id, set()).add(role)
    orgs = {c.organization_id for c in batch} | {c.organization.parent_id for c in batch if c.organization.parent_id}
    staff = list(StaffAccount.objects.filter(organization_id__in=orgs).select_related("user"))
    per_user: dict[int, tuple[Any, list[Case]]] = {}
    for c in batch:
        for member in staff:
            in_reach = member.organization_id in (c.organization_id, c.organization.parent_id)
            supervises = Role.SUPERVISOR in member.roles and in_reach
            handles = member.organization_id == c.organization_id and set(member.roles) & roles_of.get(c.pk, set())
            if supervises or handles:
                per_user.setdefault(member.user_id, (member.user, []))[1].append(c)
    for user, cases in per_user.values():
        if len(cases) == 1:
            c = cases[0]
            notify(user, c, f"【时限预警】{c.item_name}（{c.number}）{label}，期限 {c.due_date:%Y-%m-%d}。")
        else:
            names = "、".join(c.item_name for c in cases[:3])
            notify(user, None, f"【时限预警】{len(cases)} 件办件{label}：{names}等，请在“待办办件”中勾选“只看预警和超期”查看。")


# ----------------------------------------------------------------------------- reading
def days_left(case: Case, today: dt.date | None = None) -> int | None:
    """Working days until the due date (negative when overdue); None before acceptance."""
    if case.due_date is None or not case.is_open:
        return None
    today = case.paused_since or today or _today()
    return calendar.working_days_between(today, case.due_date)


def form_data(case: Case) -> dict:
    try:
        return json.loads(case.form_data or "{}")
    except ValueError:
        return {}


def form_values(case: Case, *, full: bool = False) -> list[dict]:
    """The case's answers with the form's titles, personal values masked unless ``full``."""
    from yiwang.applications.selectors import answers, form_definition

    definition = form_definition(case.item_version, "legal" if case.enterprise_id else "person")
    return answers(definition, form_data(case), full=full)


def public_progress(number: str, query_code: str) -> Case:
    """The public progress page's case: number and query code must both match."""
    case = Case.objects.select_related("organization", "accepting_org").filter(number=(number or "").strip()).first()
    if case is None or not query_code or not _same(case.query_code, (query_code or "").strip()):
        raise NotFound("办件编号或查询码不正确 / case number or query code is wrong")
    return case


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def masked_applicant(case: Case) -> dict[str, str]:
    """A person's name and ID are masked; an enterprise's name is public and its code masked."""
    if case.applicant_id_type == "111":
        return {"name": mask_name(case.applicant_name), "id_number": mask_id_number(case.applicant_id_number)}
    return {"name": case.applicant_name, "id_number": mask_uscc(case.applicant_id_number)}
