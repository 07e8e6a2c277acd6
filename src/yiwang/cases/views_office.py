"""Workbench (工作台): to-do lists, the case file with its actions, and the case store search."""

from __future__ import annotations

import csv
import datetime as dt

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from yiwang.cases import services
from yiwang.cases.models import Case, CaseStep, Extension, Suspension
from yiwang.cases.views_portal import progress_stages
from yiwang.catalog import services as catalog_services
from yiwang.catalog.views_office import catalog_admin_required
from yiwang.core import calendar
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.core.views_office import staff_required
from yiwang.identity import scoping
from yiwang.identity.models import Role

PAGE_SIZE = 25
COUNT_CAP = 1000  # to-do counts are exact up to here; beyond, "1000+"
# Not shown on the to-do list: the engine state (kilobytes of JSON each) and encrypted personal data.
TODO_UNUSED = ("case__engine_state", "case__form_data", "case__applicant_id_number", "case__contact_mobile",
               "case__decision_reason", "case__status_reason")


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (a window's to-do list can hold a whole city's cases)."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:COUNT_CAP + 1].count()  # any 1,001 rows: no sort needed

    @property
    def count_label(self) -> str:
        return f"{COUNT_CAP}+" if self.count > COUNT_CAP else str(self.count)


HANDLING_ROLES = (Role.CLERK, Role.REVIEWER, Role.APPROVER)


def _my_steps(user, *, whole_organisation: bool = False):
    """Open steps the user may act on (their roles, in their organisations or their window's
    region); with ``whole_organisation``, every open step of those organisations, whatever the role."""
    staff = scoping.staff_of(user)
    if staff is None:
        return CaseStep.objects.none()
    roles = [r for r in HANDLING_ROLES if scoping.has_role(user, r)]
    if not roles and not whole_organisation:
        return CaseStep.objects.none()
    qs = CaseStep.objects.filter(state=CaseStep.State.OPEN).exclude(role="applicant")
    if not whole_organisation:
        qs = qs.filter(role__in=roles)
    if scoping.is_platform_admin(user):
        return qs
    org_steps = Q(org_rule__in=("owner", "owner_parent"), organization_id__in=scoping.visible_organization_ids(user))
    window = Q(pk__in=[])
    if Role.CLERK in roles or (whole_organisation and Role.CLERK in staff.roles):
        window = Q(org_rule="window", case__organization_id=staff.organization_id)
        prefix = services.window_prefix(user)
        if prefix is not None:
            window |= Q(org_rule="window", region_code__startswith=prefix)
    return qs.filter(org_steps | window)


@staff_required
def todo(request):
    """待办: steps waiting for me, soonest due first, with time left."""
    scope = "org" if request.GET.get("scope") == "org" else "mine"
    qs = _my_steps(request.user, whole_organisation=scope == "org").select_related(
        "case", "case__organization").exclude(case_status__in=Case.FINAL_STATUSES).defer(
        *TODO_UNUSED)
    status = request.GET.get("status", "")
    if status in Case.Status.values:
        qs = qs.filter(case_status=status)
    q = request.GET.get("q", "").strip()[:60]
    if q:
        qs = qs.filter(Q(case__number__startswith=q) | Q(case__item_name__contains=q))
    if request.GET.get("overdue"):
        qs = qs.filter(case_warning__in=("yellow", "red"))
    order = request.GET.get("sort", "due")
    qs = qs.order_by("-submitted_at", "-pk") if order == "new" else qs.order_by(
        "due_date", "case__due_date", "started_at")
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"step": s, "case": s.case, "left": _left(s)} for s in page.object_list]
    return render(request, "cases/office/todo.html", {
        "page": page, "rows": rows, "status": status, "q": q, "statuses": Case.Status.choices,
        "overdue": bool(request.GET.get("overdue")), "sort": order, "scope": scope,
    })


def _left(step: CaseStep) -> int | None:
    due = step.due_date or step.case.due_date
    if due is None:
        return None
    from yiwang.cases.numbering import local_day

    return calendar.working_days_between(local_day(), due)


@staff_required
def case_store(request):
    """办件信息库: every case in the user's scope, filtered; CSV export of the same filter."""
    qs = services.visible_cases(request.user).select_related("organization")
    f = {k: request.GET.get(k, "").strip()[:60] for k in ("q", "status", "item", "from", "to", "warning")}
    if f["q"]:
        qs = qs.filter(Q(number__startswith=f["q"]) | Q(item_name__contains=f["q"]))
    if f["status"] in Case.Status.values:
        qs = qs.filter(status=f["status"])
    if f["item"]:
        qs = qs.filter(item__implementation_code=f["item"])
    if f["warning"] in ("yellow", "red"):
        qs = qs.filter(warning=f["warning"])
    for key, lookup in (("from", "submitted_at__date__gte"), ("to", "submitted_at__date__lte")):
        if f[key]:
            try:
                qs = qs.filter(**{lookup: dt.date.fromisoformat(f[key])})
            except ValueError:
                f[key] = ""
    qs = qs.order_by("-submitted_at")
    if request.GET.get("format") == "csv":
        return _csv(qs)
    if request.GET.get("format") == "xlsx":
        return _xlsx(qs)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cases/office/store.html", {"page": page, "f": f, "statuses": Case.Status.choices,
                                                       "query": request.GET.urlencode()})


EXPORT_HEAD = ["办件编号", "事项", "实施机构", "申请人", "状态", "提交时间", "受理时间", "办结期限", "办结时间", "预警"]
MAX_EXPORT_ROWS = 100_000


def _export_rows(qs):
    for c in qs[:MAX_EXPORT_ROWS].iterator(chunk_size=2000):
        yield [c.number, c.item_name, c.organization.name, services.masked_applicant(c)["name"],
               c.get_status_display(), _local(c.submitted_at), _local(c.accepted_at),
               str(c.due_date or ""), _local(c.completed_at), c.get_warning_display() if c.warning else ""]


def _csv(qs) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''cases.csv"
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    w = csv.writer(response)
    w.writerow(EXPORT_HEAD)
    for row in _export_rows(qs):
        w.writerow([_cell(v) for v in row])
    return response


def _cell(value: str) -> str:
    """No formula injection: a cell starting with = + - @ is written as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _xlsx(qs) -> HttpResponse:
    import io

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("办件")
    ws.append(EXPORT_HEAD)
    for row in _export_rows(qs):
        ws.append([_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''cases.xlsx"
    return response


def _local(value) -> str:
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _case(request, number: str) -> Case:
    try:
        return services.get_case_for(request.user, number)
    except NotFound:
        raise Http404("未找到该办件 / case not found") from None


def _file_context(request, case: Case, **extra) -> dict:
    steps = services.current_steps(case)
    actionable = [{"step": s, "outcomes": services.outcomes_for(case, s)} for s in steps
                  if services.may_act_on_step(request.user, case, s)]
    handler = (scoping.can_act_for(request.user, case.organization_id, Role.REVIEWER)
               or scoping.can_act_for(request.user, case.organization_id, Role.APPROVER))
    pending_ext = case.extensions.filter(status=Extension.Status.REQUESTED).first()
    return {
        "case": case, "stages": progress_stages(case), "steps": case.steps.select_related("organization").prefetch_related("attachments"),
        "events": case.events.all(), "materials": case.materials.select_related("material"),
        "item_materials": list(case.item_version.materials.all()), "documents": case.documents.all(),
        "certificates": case.certificates.select_related("certificate_type").order_by("pk"),
        "applicant": services.masked_applicant(case), "form_values": services.form_values(case),
        "actionable": actionable, "days_left": services.days_left(case),
        "can_suspend": handler and case.accepted_at and case.is_open and not case.clock_paused
        and case.status != Case.Status.CORRECTION,
        "can_resume": handler and case.clock_paused, "can_extend": handler and case.accepted_at and case.is_open
        and pending_ext is None, "pending_extension": pending_ext,
        "can_decide_extension": pending_ext is not None and scoping.can_act_for(
            request.user, case.organization_id, Role.APPROVER) and pending_ext.requested_by_id != request.user.pk,
        "suspension_kinds": Suspension.Kind.choices, "suspensions": case.suspensions.all(),
        "extensions": case.extensions.all(), "corrections": case.corrections.all(), **extra,
    }


@staff_required
def case_file(request, number: str):
    case = _case(request, number)
    return render(request, "cases/office/case.html", _file_context(request, case))


def _after(request, case: Case, call):
    try:
        call()
    except DomainError as exc:
        case = _case(request, case.number)
        summary = [{"label": "", "text": t, "href": f"#f-{k}"} for k, msgs in exc.fields.items() for t in msgs]
        return render(request, "cases/office/case.html",
                      _file_context(request, case, error=exc, summary=summary, conflict=exc.status == 409,
                                    posted=request.POST), status=exc.status)
    return redirect(reverse("office_case", args=[case.number]) + "#actions")


def _lock_version(request) -> int | None:
    value = request.POST.get("lock_version", "")
    return int(value) if value.isdigit() else None


@staff_required
@require_POST
def act(request, number: str):
    case = _case(request, number)
    step_id = request.POST.get("step", "")
    problems = [{"material": m, "text": t} for m, t in zip(request.POST.getlist("problem_material"),
                                                           request.POST.getlist("problem_text"), strict=False)]
    return _after(request, case, lambda: services.act(
        request.user, case, step_id=int(step_id) if step_id.isdigit() else 0,
        outcome=request.POST.get("outcome", ""), opinion=request.POST.get("opinion", ""),
        lock_version=_lock_version(request), problems=problems,
        decision_reason=request.POST.get("decision_reason", ""), attachments=request.FILES.getlist("attachments")))


@staff_required
@require_POST
def suspend(request, number: str):
    case = _case(request, number)
    return _after(request, case, lambda: services.suspend(
        request.user, case, kind=request.POST.get("kind", ""), reason=request.POST.get("reason", ""),
        expected_days=request.POST.get("expected_days") or 0, lock_version=_lock_version(request)))


@staff_required
@require_POST
def resume(request, number: str):
    case = _case(request, number)
    return _after(request, case, lambda: services.resume(
        request.user, case, result=request.POST.get("result", ""), lock_version=_lock_version(request)))


@staff_required
@require_POST
def extend(request, number: str):
    case = _case(request, number)
    return _after(request, case, lambda: services.request_extension(
        request.user, case, days=request.POST.get("days", ""), reason=request.POST.get("reason", "")))


@staff_required
@require_POST
def decide_extension(request, number: str):
    case = _case(request, number)
    ext = case.extensions.filter(status=Extension.Status.REQUESTED).first()
    if ext is None:
        raise Http404
    return _after(request, case, lambda: services.decide_extension(
        request.user, ext, approve=request.POST.get("approve") == "1", opinion=request.POST.get("opinion", "")))


MAX_BPMN_BYTES = 512 * 1024
ROLE_LABELS = {"clerk": "综合窗口", "reviewer": "审查人员", "approver": "审批人员", "applicant": "申请人"}
ORG_RULE_LABELS = {"window": "受理窗口", "owner": "实施机构", "owner_parent": "实施机构的上级"}


@catalog_admin_required
def item_process(request, code: str):
    """办理流程: the BPMN process new cases of an item start on; catalog administrators upload one."""
    from yiwang.cases import workflow

    try:
        item = catalog_services.get_item_for(request.user, code)
    except NotFound:
        raise Http404 from None
    error = None
    if request.method == "POST":
        upload = request.FILES.get("bpmn")
        try:
            if upload is None:
                raise ValidationFailed("请选择流程文件", fields={"bpmn": [
                    "请选择 BPMN 2.0 流程文件（.bpmn 或 .xml）/ choose a BPMN 2.0 file"]})
            if upload.size > MAX_BPMN_BYTES:
                raise ValidationFailed("文件过大", fields={"bpmn": ["流程文件不超过 512 KB / at most 512 KB"]})
            services.set_item_process(request.user, item, upload.read())
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("office_item_process", args=[code]) + "?saved=1")
    definition = services.process_for(item)
    info = workflow.validate(definition.xml.encode("utf-8"))
    steps = [{"name": t.name, "key": t.key, "role": ROLE_LABELS.get(t.role, t.role),
              "org": ORG_RULE_LABELS.get(t.org_rule, t.org_rule), "limit": t.limit_days,
              "outcomes": "、".join(services.OUTCOME_LABELS.get(o, o) for o in t.outcomes)} for t in info.tasks]
    in_flight = Case.objects.filter(item=item, status__in=Case.OPEN_STATUSES).exclude(process=definition).count()
    summary = [{"label": k, "text": t, "href": "#f-bpmn"} for k, msgs in (error.fields.items() if error else [])
               for t in msgs]
    return render(request, "cases/office/process.html", {
        "item": item, "name": item.published_version.name if item.published_version else code,
        "crumb": "办理流程", "definition": definition, "steps": steps, "in_flight": in_flight,
        "error": error, "summary": summary, "saved": request.GET.get("saved"),
    }, status=error.status if error else 200)
