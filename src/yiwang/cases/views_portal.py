"""Applicant pages: apply online, 我的办件, corrections, withdrawal, documents, public progress."""

from __future__ import annotations

import io
import json

import segno
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from yiwang.applications import formschema
from yiwang.applications.models import Draft
from yiwang.applications.selectors import form_definition, has_draft
from yiwang.cases import applying, documents, services
from yiwang.cases.models import Case, CaseDocument, CaseMaterial, CaseStep, Message
from yiwang.catalog.models import ServiceItem
from yiwang.core.errors import DomainError, NotFound
from yiwang.identity.services_levels import apply_gate, person_of

STATUS_STEPS = [("submitted", "提交申请"), ("accepted", "受理"), ("review", "审查与决定"),
                ("result", "制证与送达"), ("completed", "办结")]


def _item(code: str) -> ServiceItem:
    """The active item and its published version (materials, form and process included), from the
    process's snapshot (cases.applying): read it, never change it."""
    item = applying.published_item(code)
    if item is None:
        raise Http404("事项不存在 / item not found")
    return item


def _kind(request) -> str:
    return "legal" if getattr(request, "acting", None) is not None else "person"


def _sources(request) -> dict:
    """What the platform already knows about the applicant, for pre-filling the form."""
    person = person_of(request.user)
    values: dict = {}
    if person is not None:
        values.update({"applicant.name": person.name, "applicant.id_number": person.id_number,
                       "applicant.mobile": person.mobile, "applicant.address": person.address})
    enterprise = getattr(request, "acting", None)
    if enterprise is not None:
        from yiwang.identity.models import LegalPersonRecord

        record = LegalPersonRecord.objects.filter(uscc=enterprise.uscc).first()
        values.update({"enterprise.name": enterprise.name, "enterprise.uscc": enterprise.uscc,
                       "enterprise.legal_representative": record.legal_rep_name if record else "",
                       "enterprise.address": record.address if record else ""})
    return values


def _files(request, version) -> dict[int, object]:
    files = {}
    for m in version.materials.all():
        upload = request.FILES.get(f"material_{m.pk}")
        if upload is not None:
            files[m.pk] = upload
    return files


def _summary(exc: DomainError, definition: dict, labels: dict[str, str]) -> list[dict]:
    """One summary for the form (in the form's order, with field titles) and the materials."""
    form_errors = {k[5:]: v for k, v in exc.fields.items() if k.startswith("form.")}
    out = formschema.summarise_errors(definition, form_errors)
    for key, messages in exc.fields.items():
        if not key.startswith("form."):
            out += [{"label": labels.get(key, ""), "text": t, "href": f"#f-{key}" if key in labels else ""}
                    for t in messages]
    return out


def _draft(request, item) -> Draft | None:
    found = Draft.objects.filter(user=request.user, item=item, enterprise=getattr(request, "acting", None))
    return next(iter(found.order_by()[:1]), None)  # one per account, item and enterprise


def _missing_materials(version, draft, supplied) -> dict[str, list[str]]:
    have = set(draft.files.values_list("material_id", flat=True)) if draft else set()
    return {f"material_{m.pk}": [f"请上传“{m.name}” / please upload \u201c{m.name}\u201d"]
            for m in version.materials.all() if m.required and m.pk not in have and m.pk not in supplied}


def _apply_page(request, item, definition, data, *, draft=None, error=None, errors=None, status=200):
    version = item.published_version
    materials = list(version.materials.all())
    uploaded = {df.material_id: df for df in draft.files.all()} if draft else {}
    from yiwang.cases import connectors  # 免提交: what the platform offers instead of an upload

    offers = connectors.offers(request.user, getattr(request, "acting", None), version)
    labels = {f"material_{m.pk}": m.name for m in materials}
    import secrets

    return render(request, "cases/apply.html", {
        "item": item, "version": version,
        "materials": [{"m": m, "uploaded": uploaded.get(m.pk), "errors": (errors or {}).get(f"material_{m.pk}", []),
                       "offer": offers.get(m.pk)} for m in materials],
        "form_html": formschema.render(definition, data, errors or {}),
        "error": error, "summary": _summary(error, definition, labels) if error else [], "errors": errors or {},
        "idempotency_key": request.POST.get("idempotency_key") or secrets.token_urlsafe(16),
        "deliveries": Case.Delivery.choices,
        "delivery": request.POST.get("delivery") or (draft.delivery if draft else "window"),
        "draft_saved": draft.updated_at if draft else None,
    }, status=status)


def _gate(request, item):
    gate = apply_gate(request.user, item.published_version)
    if gate.state != "ok":
        return render(request, "cases/apply_gate.html", {"item": item, "version": item.published_version,
                                                         "gate": gate}, status=403)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def apply(request, code: str):
    """在线办理: fill in the form and upload the materials; 下一步 keeps them in a draft and shows
    核对信息. A POST without ``step`` submits at once (for clients that check on their side)."""
    from yiwang.applications import services as app_services

    item = _item(code)
    version = item.published_version
    refused = _gate(request, item)
    if refused is not None:
        return refused
    definition = form_definition(version, _kind(request))
    acting = getattr(request, "acting", None)
    if request.method == "GET":
        draft = _draft(request, item)
        data = json.loads(draft.data) if draft and draft.data else formschema.prefill(definition, _sources(request))
        return _apply_page(request, item, definition, data, draft=draft)
    data = formschema.parse(definition, request.POST)
    from yiwang.cases import connectors  # 免提交: the applicant's consent to what is offered

    connectors.record(request.user, acting, version, request.POST)
    if request.POST.get("step") == "check":
        draft, file_errors = app_services.save_draft(request.user, item, enterprise=acting, data=data,
                                                     files=_files(request, version))
        delivery = request.POST.get("delivery", "window")
        if delivery in Case.Delivery.values and draft.delivery != delivery:
            Draft.objects.filter(pk=draft.pk).update(delivery=delivery)
        errors = {**{f"form.{k}": v for k, v in formschema.validate(definition, data).items()},
                  **_missing_materials(version, draft, connectors.attachments(request.user, acting, version)),
                  **file_errors}
        if errors:
            exc = DomainError("申请内容有误，请按提示修改 / some answers or materials need attention", fields=errors)
            return _apply_page(request, item, definition, data, draft=draft, error=exc,
                               errors={k.replace("form.", "", 1): v for k, v in errors.items()}, status=400)
        return redirect(reverse("case_check", args=[code]))
    try:
        case = services.submit_application(
            request.user, item=item, form_data=data, files=_files(request, version), enterprise=acting,
            idempotency_key=request.POST.get("idempotency_key", ""),
            delivery=request.POST.get("delivery", Case.Delivery.WINDOW))
    except DomainError as exc:
        return _apply_page(request, item, definition, data, draft=_draft(request, item), error=exc,
                           errors={k.replace("form.", "", 1): v for k, v in exc.fields.items()}, status=exc.status)
    if has_draft(request.user, item, acting):  # most submissions have none: a plain probe first
        app_services.discard_draft(_draft(request, item))
    return redirect(reverse("case_submitted", args=[case.number]))


@login_required
@require_http_methods(["GET", "POST"])
def check(request, code: str):
    """核对信息: every answer and file as the applicant gave them, then 提交申请."""
    from yiwang.applications import services as app_services
    from yiwang.applications.selectors import answers

    item = _item(code)
    refused = _gate(request, item)
    if refused is not None:
        return refused
    draft = _draft(request, item)
    if draft is None:
        return redirect(reverse("case_apply", args=[code]))
    version = item.published_version
    definition = form_definition(version, _kind(request))
    data = json.loads(draft.data or "{}")
    if request.method == "POST":
        try:
            with transaction.atomic():
                case = services.submit_application(
                    request.user, item=item, form_data=data, files=app_services.draft_files(draft),
                    enterprise=getattr(request, "acting", None),
                    idempotency_key=request.POST.get("idempotency_key", ""), delivery=draft.delivery or "window")
                app_services.discard_draft(draft)
        except DomainError as exc:
            return _apply_page(request, item, definition, data, draft=draft, error=exc,
                               errors={k.replace("form.", "", 1): v for k, v in exc.fields.items()},
                               status=exc.status)
        return redirect(reverse("case_submitted", args=[case.number]))
    import secrets

    files = {df.material_id: df for df in draft.files.all()}
    from yiwang.cases import connectors  # 免提交: what the platform supplies instead of an upload

    files.update(connectors.attachments(request.user, getattr(request, "acting", None), version))
    return render(request, "cases/check.html", {
        "item": item, "version": version, "answers": answers(definition, data, full=True),
        "materials": [(m, files.get(m.pk)) for m in version.materials.all()],
        "delivery": dict(Case.Delivery.choices).get(draft.delivery, "窗口领取"),
        "idempotency_key": secrets.token_urlsafe(16),
    })


@login_required
@require_POST
def save_draft(request, code: str):
    """保存草稿: the answers (and, from the button, the chosen files); the page script calls it too."""
    from yiwang.applications import services as app_services

    item = _item(code)
    definition = form_definition(item.published_version, _kind(request))
    data = formschema.parse(definition, request.POST)
    # The page script saves answers as the applicant types; files come with 保存草稿 and 下一步.
    files = {} if request.headers.get("X-Autosave") else _files(request, item.published_version)
    draft, _errors = app_services.save_draft(request.user, item, enterprise=getattr(request, "acting", None),
                                             data=data, files=files)
    if request.headers.get("X-Autosave") or request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"saved_at": timezone.localtime(draft.updated_at).strftime("%H:%M")})
    return redirect(reverse("case_apply", args=[code]) + "?saved=1")


def _own_case(request, number: str) -> Case:
    case = Case.objects.select_related("organization", "item_version", "accepting_org").filter(
        number=number, applicant_user=request.user).first()
    if case is None:
        raise Http404("未找到该办件 / case not found")
    return case


@login_required
def submitted(request, number: str):
    case = _own_case(request, number)
    return render(request, "cases/submitted.html", {"case": case, "track_url": documents.tracking_url(case)})


@login_required
def my_cases(request):
    qs = Case.objects.filter(applicant_user=request.user).select_related("organization").order_by("-submitted_at")
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    unread = Message.objects.filter(user=request.user, read_at__isnull=True).count()
    return render(request, "cases/my_cases.html", {"page": page, "unread": unread})


@login_required
def my_messages(request):
    qs = Message.objects.filter(user=request.user).select_related("case")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    ids = [m.pk for m in page.object_list if m.read_at is None]
    if ids:
        Message.objects.filter(pk__in=ids).update(read_at=timezone.now())
    return render(request, "cases/my_messages.html", {"page": page})


def progress_stages(case: Case) -> list[dict]:
    """The five stages a person understands, each done / current / waiting."""
    reached = {
        "submitted": True,
        "accepted": case.accepted_at is not None,
        "review": case.decided_at is not None,
        "result": case.status in ("completed",) or case.status == "delivering" and case.decision == "approved",
        "completed": case.status == "completed",
    }
    current_found = False
    stages = []
    for key, label in STATUS_STEPS:
        if reached[key]:
            state = "done"
        elif not current_found and case.is_open:
            state, current_found = "current", True
        else:
            state = "waiting"
        stages.append({"key": key, "label": label, "state": state})
    return stages


@login_required
def case_detail(request, number: str):
    case = _own_case(request, number)
    return render(request, "cases/case_detail.html", _detail_context(request, case))


@login_required
@require_POST
def withdraw(request, number: str):
    case = _own_case(request, number)
    try:
        services.withdraw(request.user, case, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _detail_with_error(request, case, exc)
    return redirect(reverse("my_case", args=[number]) + "#status")


@login_required
@require_POST
def resubmit(request, number: str):
    case = _own_case(request, number)
    try:
        services.resubmit_correction(request.user, case, files=_files(request, case.item_version),
                                     note=request.POST.get("note", ""))
    except DomainError as exc:
        return _detail_with_error(request, case, exc)
    return redirect(reverse("my_case", args=[number]) + "#status")


def _detail_with_error(request, case: Case, exc: DomainError):
    summary = [{"label": "", "text": t, "href": ""} for msgs in exc.fields.values() for t in msgs]
    return render(request, "cases/case_detail.html",
                  {**_detail_context(request, case), "error": exc, "summary": summary}, status=exc.status)


def _detail_context(request, case: Case) -> dict:
    open_correction = case.corrections.filter(resubmitted_at__isnull=True).order_by("-requested_at").first() \
        if case.status == Case.Status.CORRECTION else None
    return {"case": case, "stages": progress_stages(case), "events": case.events.all(),
            "materials": case.materials.filter(superseded=False).select_related("material"),
            "documents": case.documents.all(), "days_left": services.days_left(case),
            "certificates": case.certificates.select_related("certificate_type").order_by("pk"),
            "can_withdraw": case.status in services.WITHDRAWABLE and not case.decision,
            "correction": open_correction, "item_materials": list(case.item_version.materials.all()),
            "current": services.current_steps(case), "track_url": documents.tracking_url(case),
            "form_values": services.form_values(case)}


CONTENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _file_response(f, filename: str):
    """A stored file as a download under its (user-facing) name; the type from our stored name."""
    import os
    from urllib.parse import quote

    content_type = CONTENT_TYPES.get(os.path.splitext(f.name)[1].lower(), "application/octet-stream")
    response = FileResponse(f.open("rb"), content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename or os.path.basename(f.name))}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _visible_case(request, number: str, *, staff_only: bool = False) -> Case:
    """The case if this user may see it (its applicant, or staff in scope), else 404."""
    from yiwang.identity import scoping

    try:
        case = services.get_case_for(request.user, number)
    except NotFound:
        raise Http404 from None
    if staff_only and scoping.staff_of(request.user) is None:
        raise Http404
    return case


@login_required
def document_download(request, number: str, doc_id: int):
    """A document of the case: for its applicant, or staff who may see the case."""
    doc = CaseDocument.objects.filter(case=_visible_case(request, number), pk=doc_id).first()
    if doc is None:
        raise Http404
    return _file_response(doc.file, f"{doc.get_kind_display()}-{doc.number}.pdf")


@login_required
def material_download(request, number: str, material_id: int):
    m = CaseMaterial.objects.filter(case=_visible_case(request, number), pk=material_id).exclude(file="").first()
    if m is None:
        raise Http404
    return _file_response(m.file, m.original_name)


@login_required
def step_file(request, number: str, file_id: int):
    """A handler's step attachment: staff who may see the case only."""
    from yiwang.cases.models import StepAttachment

    f = StepAttachment.objects.filter(step__case=_visible_case(request, number, staff_only=True), pk=file_id).first()
    if f is None:
        raise Http404
    return _file_response(f.file, f.original_name)


def track(request):
    """Public progress page: case number + query code; personal data masked."""
    number, code = request.GET.get("number", "").strip(), request.GET.get("code", "").strip()
    case, error = None, ""
    if number or code:
        if not number or not code:
            error = "请同时填写办件编号和查询码 / enter both the case number and the query code"
        else:
            try:
                case = services.public_progress(number, code)
            except NotFound as exc:
                error = exc.message
    steps = []
    if case is not None:
        steps = list(case.steps.exclude(state=CaseStep.State.CANCELLED).select_related("organization"))
    return render(request, "cases/track.html", {
        "case": case, "error": error, "number": number, "stages": progress_stages(case) if case else [],
        "steps": steps, "applicant": services.masked_applicant(case) if case else None,
        "days_left": services.days_left(case) if case else None,
    }, status=404 if error and (number and code) else (400 if error else 200))


def qr_png(request, number: str):
    """The QR code of a case's progress page (for the confirmation page and receipts)."""
    try:
        case = services.get_case_for(request.user, number)
    except NotFound:
        raise Http404 from None
    buf = io.BytesIO()
    segno.make(documents.tracking_url(case), error="m").save(buf, kind="png", scale=6, border=2)
    return HttpResponse(buf.getvalue(), content_type="image/png")
