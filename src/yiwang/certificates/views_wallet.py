"""Pages of 证照共享: 我的证照 (holder), 授权用证 at the office (grantee department), and a certificate
attached to a case (免提交) as the case's staff see it. Views parse and render; ``wallet`` and
``grants`` decide and write.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from yiwang.certificates import grants, selectors, services, wallet
from yiwang.certificates.views_office import pdf_response
from yiwang.certificates.models import Certificate, CertificateGrant
from yiwang.core.errors import DomainError, NotFound
from yiwang.core.models import Organization
from yiwang.core.views_office import staff_required

Scope = CertificateGrant.Scope
GRANT_LABELS = {"grantee_kind": "被授权方", "organization": "部门", "client_id": "应用标识", "purpose": "用证事由",
                "scope": "授权范围", "valid_until": "授权截止日期"}


def _acting(request):
    return getattr(request, "acting", None)


def _held(request, pk: int) -> Certificate:
    try:
        return wallet.get_held(request.user, _acting(request), pk)
    except NotFound:
        raise Http404("证照不存在 / certificate not found") from None


# ============================================================================ 我的证照
@login_required
def wallet_list(request):
    acting = _acting(request)
    return render(request, "certificates/wallet_list.html", {
        "certificates": wallet.certificates_of(request.user, acting), "acting": acting})


def _detail_context(request, cert: Certificate, **extra) -> dict:
    acting = _acting(request)
    today = timezone.localdate()
    return {
        "cert": cert, "acting": acting, "rows": cert.face_rows(),
        "versions": wallet.versions_held(request.user, acting, cert), "qr_svg": wallet.qr_svg(cert),
        "verification": services.verify_certificate(cert),
        "grants": grants.grants_of_holder(request.user, acting, cert),
        "accesses": grants.accesses_of(cert)[:200],
        "organizations": Organization.objects.filter(is_active=True).order_by("name"),
        "scopes": Scope.choices, "default_until": (today + dt.timedelta(days=grants.DEFAULT_DAYS)).isoformat(),
        "max_until": (today + dt.timedelta(days=grants.MAX_DAYS - 1)).isoformat(),
        "can_share": cert.is_valid and not cert.superseded, "values": {}, "errors": {}, **extra}


@login_required
def wallet_detail(request, pk: int):
    cert = _held(request, pk)
    return render(request, "certificates/wallet_detail.html", _detail_context(request, cert))


@login_required
def wallet_pdf(request, pk: int):
    return pdf_response(_held(request, pk))


@login_required
@require_POST
def wallet_grant(request, pk: int):
    cert = _held(request, pk)
    post = request.POST
    org_id = post.get("organization", "")
    organization = Organization.objects.filter(pk=int(org_id)).first() if org_id.isdigit() else None
    try:
        g = grants.grant(request.user, _acting(request), cert, grantee_kind=post.get("grantee_kind", ""),
                         organization=organization, client_id=post.get("client_id", ""),
                         purpose=post.get("purpose", ""), scope=post.get("scope", Scope.FACE),
                         valid_until=post.get("valid_until", ""))
    except DomainError as exc:
        summary = [{"label": GRANT_LABELS.get(k, ""), "text": m, "href": f"#f-{k}"}
                   for k, ms in exc.fields.items() for m in ms]
        return render(request, "certificates/wallet_detail.html", _detail_context(
            request, cert, message=exc.message, summary=summary, errors=exc.fields, values=post),
            status=exc.status)
    messages.success(request, f"已授权“{g.grantee_label}”使用该证照，至 {g.valid_until:%Y-%m-%d} 止。")
    return redirect("wallet_certificate", pk=cert.pk)


@login_required
@require_POST
def wallet_revoke(request, pk: int, grant_id: int):
    cert = _held(request, pk)
    try:
        g = grants.revoke(request.user, _acting(request), grant_id)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("wallet_certificate", pk=cert.pk)
    messages.success(request, f"已撤销对“{g.grantee_label}”的授权，立即生效。")
    return redirect("wallet_certificate", pk=cert.pk)


# ============================================================================ 授权用证 (office)
@staff_required
def shared_list(request):
    rows = list(grants.grants_for_staff(request.user)[:300])
    return render(request, "certificates/grants_office_list.html", {"rows": rows})


@staff_required
@require_http_methods(["GET", "POST"])
def shared_open(request, grant_id: int):
    """GET: what is granted and a reason box; POST with a reason: the certificate (logged)."""
    g = grants.grant_for_staff(request.user, grant_id)
    if g is None:
        grants.log_access(grants.Reader.staff(request.user), channel=grants.Channel.OFFICE, what=grants.What.FACE,
                          refusal=grants.NO_GRANT)
        raise Http404(grants.NO_GRANT)
    context = {"grant": g, "cert": None, "reason": ""}
    if request.method == "POST":
        what = grants.What.FILE if request.POST.get("what") == "file" else grants.What.FACE
        reason = request.POST.get("reason", "")
        try:
            g = grants.open_for_staff(request.user, grant_id, reason=reason, what=what)
        except DomainError as exc:
            return render(request, "certificates/grants_office_open.html", {
                **context, "reason": reason, "message": exc.message,
                "summary": [{"label": "", "text": m, "href": "#f-reason"} for ms in exc.fields.values() for m in ms],
                "errors": exc.fields}, status=exc.status)
        if what == grants.What.FILE:
            return pdf_response(g.certificate)
        cert = g.certificate
        context.update(cert=cert, reason=" ".join(reason.split()), rows=cert.face_rows(),
                       verification=services.verify_certificate(cert))
    return render(request, "certificates/grants_office_open.html", context)


# ============================================================================ 免提交: a case's certificate
@staff_required
def case_certificate(request, number: str, material_id: int):
    """The certificate an applicant attached to a case instead of an upload, for the case's staff."""
    from yiwang.cases import services as case_services
    from yiwang.cases.models import CaseMaterial

    try:
        case = case_services.get_case_for(request.user, number)
    except NotFound:
        raise Http404 from None
    material = CaseMaterial.objects.filter(case=case, pk=material_id, source=CaseMaterial.Source.CERTIFICATE).first()
    if material is None:
        raise Http404
    what = grants.What.FILE if request.GET.get("file") == "1" else grants.What.FACE
    try:
        cert = grants.open_for_case(request.user, case, material.reference, what=what)
    except NotFound:
        raise Http404 from None
    if what == grants.What.FILE:
        return pdf_response(cert)
    return render(request, "certificates/grants_case.html", {
        "case": case, "material": material, "cert": cert, "rows": cert.face_rows(),
        "verification": services.verify_certificate(cert), "versions": selectors.versions_of(cert)})
