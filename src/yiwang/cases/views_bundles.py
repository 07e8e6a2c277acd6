"""一件事一次办 pages: the bundles, one application for all their items, and the overall progress."""

from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from yiwang.applications import formschema
from yiwang.cases import services_bundles as bundles
from yiwang.cases.models import BundleCase, Case
from yiwang.cases.views_portal import _kind, _sources
from yiwang.core.errors import DomainError, NotFound
from yiwang.identity.services_levels import person_of


def bundle_list(request):
    return render(request, "cases/bundles.html", {"bundles": bundles.active_bundles()})


@require_http_methods(["GET", "POST"])
def bundle_apply(request, code: str):
    try:
        bundle = bundles.get_bundle(code)
        p = bundles.plan(bundle, _kind(request))
    except (NotFound, DomainError):
        raise Http404("未找到该“一件事” / bundle not found") from None
    if not request.user.is_authenticated or person_of(request.user) is None:
        if request.method == "POST":
            return redirect(f"/accounts/login/?next={request.path}")
        return render(request, "cases/bundle.html", {"bundle": bundle, "plan": p, "login": True})
    data = formschema.prefill(p.form, _sources(request))
    error, errors = None, {}
    if request.method == "POST":
        data = formschema.parse(p.form, request.POST)
        files = {m["key"]: request.FILES[m["key"]] for m in p.materials if m["key"] in request.FILES}
        try:
            record = bundles.submit_bundle(request.user, bundle, form_data=data, files=files,
                                           enterprise=getattr(request, "acting", None),
                                           idempotency_key=request.POST.get("idempotency_key", ""),
                                           delivery=request.POST.get("delivery", Case.Delivery.WINDOW))
        except DomainError as exc:
            error = exc
            errors = {k.replace("form.", "", 1): v for k, v in exc.fields.items()}
        else:
            return redirect(reverse("my_bundle", args=[record.number]))
    names = {m["key"]: m["name"] for m in p.materials}
    summary = formschema.summarise_errors(p.form, {k: v for k, v in errors.items() if k not in names})
    summary += [{"label": names[k], "text": t, "href": f"#f-{k}"} for k, msgs in errors.items() if k in names
                for t in msgs]
    return render(request, "cases/bundle.html", {
        "bundle": bundle, "plan": p, "form_html": formschema.render(p.form, data, errors), "error": error,
        "summary": summary, "errors": errors, "deliveries": Case.Delivery.choices,
        "idempotency_key": request.POST.get("idempotency_key") or secrets.token_urlsafe(16),
    }, status=error.status if error else 200)


@login_required
def my_bundle(request, number: str):
    record = BundleCase.objects.select_related("bundle").filter(number=number, applicant_user=request.user).first()
    if record is None:
        raise Http404("未找到该申请 / not found")
    return render(request, "cases/my_bundle.html", {"record": record, "progress": bundles.progress(record)})
