"""Office pages of certificates: the catalog of types (catalog administrators) and the issued
certificates of the staff member's organisations — search, open, act (suspend, resume, revoke,
withdraw, cancel, reissue, change). Views parse and render; ``services`` decides and writes.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yiwang.catalog.models import BasicItem, ServiceItem
from yiwang.certificates import selectors, services
from yiwang.certificates.forms import ACTIONS, ActionForm, SearchForm, TypeForm, change_form
from yiwang.certificates.models import Certificate, CertificateType, Status
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.core.models import Organization
from yiwang.core.views_office import INVALID, attach, form_summary, staff_required

PAGE_SIZE = 30


# ============================================================================ catalog of types
@staff_required
def type_list(request):
    types = selectors.types_for(request.user)
    return render(request, "certificates/office/types.html", {
        "types": types, "can_manage": services.can_manage_types(request.user)})


def _type(request, pk: int) -> CertificateType:
    ctype = selectors.types_for(request.user).filter(pk=pk).first()
    if ctype is None:
        raise Http404("证照类型不存在 / certificate type not found")
    return ctype


def _items_for(codes: list[str]) -> tuple[list[BasicItem], list[ServiceItem], list[str]]:
    basic = {b.basic_code: b for b in BasicItem.objects.filter(basic_code__in=codes)}
    service = {s.implementation_code: s for s in ServiceItem.objects.filter(implementation_code__in=codes)}
    unknown = [c for c in codes if c not in basic and c not in service]
    return list(basic.values()), list(service.values()), unknown


def _save_type(request, form: TypeForm, instance: CertificateType | None):
    cd = form.cleaned_data
    orgs = {o.uscc: o for o in Organization.objects.filter(
        uscc__in=[cd["defining_organization"], cd["issuing_organization"]])}
    basic, service, unknown = _items_for(form.item_code_list())
    if unknown:
        raise ValidationFailed(INVALID, fields={"item_codes": [
            f"找不到事项编码：{'、'.join(unknown)} / unknown item codes"]})
    return services.save_type(
        request.user, instance=instance, lock_version=cd.get("lock_version"), basic_items=basic,
        service_items=service, name=cd["name"].strip(), type_code=cd["type_code"],
        defining_organization=orgs.get(cd["defining_organization"]),
        issuing_organization=orgs.get(cd["issuing_organization"]), holder_kind=cd["holder_kind"],
        template=cd["template"], validity_years=cd["validity_years"],
        fields=services.parse_fields_text(cd["fields_text"]), form_mapping=cd["mapping_text"],
        stands_for_materials=form.material_list(), description=cd["description"], is_active=cd["is_active"])


def _type_form_page(request, instance: CertificateType | None):
    if not services.can_manage_types(request.user, instance.issuing_organization_id if instance else None):
        raise PermissionDenied("仅限事项管理员和平台管理员 / catalog administrators only")
    organizations = services.organizations_managed(request.user)
    page = "certificates/office/type_form.html"
    context = {"ctype": instance}
    if request.method != "POST":
        initial = TypeForm.initial_for(instance) if instance else {"is_active": True, "validity_years": 0}
        return render(request, page, {**context, "form": TypeForm(initial=initial, organizations=organizations)})
    form = TypeForm(request.POST, organizations=organizations)
    if not form.is_valid():
        return render(request, page, {**context, "form": form, "message": INVALID, "summary": form_summary(form)},
                      status=400)
    try:
        saved = _save_type(request, form, instance)
    except DomainError as exc:
        if "fields" in exc.fields:  # one line per problem, shown beside the text box
            exc.fields["fields_text"] = exc.fields.pop("fields")
        if "form_mapping" in exc.fields:
            exc.fields["mapping_text"] = exc.fields.pop("form_mapping")
        attach(exc, form)
        return render(request, page, {**context, "form": form, "message": exc.message,
                                      "conflict": exc.status == 409, "summary": form_summary(form)},
                      status=exc.status)
    messages.success(request, f"已保存证照类型“{saved.name}”。")
    return redirect("office_certificate_types")


@staff_required
def type_create(request):
    return _type_form_page(request, None)


@staff_required
def type_edit(request, pk: int):
    return _type_form_page(request, _type(request, pk))


# ============================================================================ certificates
@staff_required
def certificate_list(request):
    form = SearchForm(request.GET or None)
    cd = form.cleaned_data if form.is_valid() else {}
    qs = selectors.search(request.user, q=cd.get("q", ""), type_id=cd.get("type", ""), status=cd.get("status", ""))
    qs = qs.defer("data_json", "holder_code")  # the list shows neither: no decryption per row
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "certificates/office/list.html", {
        "form": form, "page": page, "types": selectors.types_for(request.user),
        "type_id": cd.get("type", ""), "statuses": Status.choices})


def _certificate(request, pk: int) -> Certificate:
    try:
        return services.get_for_staff(request.user, pk)
    except NotFound:
        raise Http404("证照不存在 / certificate not found") from None


def _detail_context(request, cert: Certificate, **extra) -> dict:
    allowed = services.available_actions(cert) if services.can_act_on(request.user, cert) else []
    action_form = extra.pop("action_form", None) or ActionForm(initial={"lock_version": cert.lock_version})
    return {
        "cert": cert, "rows": cert.face_rows(), "events": cert.events.all(), "versions": selectors.versions_of(cert),
        "can_act": bool(allowed), "can_change": "change" in allowed,
        "actions": {k: v for k, v in ACTIONS.items() if k in allowed and k != "change"}, "action_form": action_form,
        # the action whose form came back with errors: its reason box shows them and keeps the text
        "failed_action": action_form.data.get("action", "") if action_form.is_bound else "",
        "change_form": extra.pop("change_form", None) or change_form(cert.certificate_type, cert.data),
        "verify_url": services.verify_url(cert.qr_payload) if cert.qr_payload else "", **extra}


@staff_required
def certificate_detail(request, pk: int):
    cert = _certificate(request, pk)
    return render(request, "certificates/office/detail.html", _detail_context(request, cert))


@staff_required
def certificate_pdf(request, pk: int):
    return pdf_response(_certificate(request, pk))


def pdf_response(cert):
    """The certificate's signed PDF, shown in the browser (office, wallet and shared pages)."""
    if not cert.pdf:
        raise Http404("证照文件不存在 / no file")
    return FileResponse(cert.pdf.open("rb"), as_attachment=False, filename=f"{cert.number}-{cert.version:03d}.pdf",
                        content_type="application/pdf")


@staff_required
@require_POST
def certificate_act(request, pk: int):
    cert = _certificate(request, pk)
    form = ActionForm(request.POST)
    data_form = change_form(cert.certificate_type, cert.data, request.POST)
    page = "certificates/office/detail.html"
    if not form.is_valid() or (form.cleaned_data.get("action") == "change" and not data_form.is_valid()):
        return render(request, page, _detail_context(request, cert, action_form=form, change_form=data_form,
                                                     message=INVALID, summary=form_summary(form)), status=400)
    cd = form.cleaned_data
    action, reason, lock = cd["action"], cd["reason"], cd["lock_version"]
    try:
        if action == "suspend":
            result = services.suspend(request.user, cert, reason=reason, lock_version=lock)
        elif action == "resume":
            result = services.resume(request.user, cert, reason=reason, lock_version=lock)
        elif action in ("revoke", "withdraw", "cancel"):
            result = services.revoke(request.user, cert, reason=reason, lock_version=lock, kind=action)
        elif action == "reissue":
            result = services.reissue(request.user, cert, reason=reason, lock_version=lock)
        else:
            result = services.change(request.user, cert, data=data_form.cleaned_data, reason=reason,
                                     lock_version=lock)
    except DomainError as exc:
        attach(exc, form)
        cert.refresh_from_db()
        return render(request, page, _detail_context(
            request, cert, action_form=form, change_form=data_form, message=exc.message,
            conflict=exc.status == 409, summary=form_summary(form)), status=exc.status)
    messages.success(request, f"已{ACTIONS[action]}：{result.certificate_type.name} {result.number}"
                              f"（第 {result.version} 版，状态：{result.get_status_display()}）。")
    return redirect("office_certificate", pk=result.pk)
