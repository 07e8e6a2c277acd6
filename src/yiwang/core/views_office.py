"""Back office (工作台) pages for platform administrators: regions and organisations.

Views parse input and render; ``core.services`` validates and writes (with its audit entry).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yiwang.core import services, validators
from yiwang.core.errors import DomainError
from yiwang.core.forms import DeactivateForm, OrganizationForm, RegionForm, RegionNameForm
from yiwang.core.models import Organization, Region
from yiwang.identity import scoping, totp

TOTP_URL = "/accounts/totp/"
INVALID = "填写有误，请按提示修改 / please correct the marked fields"


def staff_required(view):
    """Signed in with the second factor (else to the login or code page) and a staff member (else 403)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        here = request.get_full_path()
        if not request.user.is_authenticated:
            if request.session.get(totp.SESSION_PENDING):
                return redirect_to_login(here, TOTP_URL)
            return redirect_to_login(here)
        if scoping.staff_of(request.user) is None:
            raise PermissionDenied("仅限工作人员 / staff only")
        if not totp.second_factor_passed(request):
            return redirect_to_login(here, TOTP_URL)
        return view(request, *args, **kwargs)

    return wrapper


def platform_admin_required(view):
    @wraps(view)
    @staff_required
    def wrapper(request, *args, **kwargs):
        if not scoping.is_platform_admin(request.user):
            raise PermissionDenied("仅限平台管理员 / platform administrators only")
        return view(request, *args, **kwargs)

    return wrapper


def form_summary(form) -> list[dict[str, str]]:
    out = []
    for name, errors in form.errors.items():
        if name == "__all__":
            out += [{"label": "", "text": e, "href": ""} for e in errors]
        else:
            out += [{"label": str(form[name].label), "text": e, "href": f"#f-{form[name].html_name}"} for e in errors]
    return out


def attach(exc: DomainError, form) -> None:
    for key, msgs in exc.fields.items():
        for m in msgs:
            form.add_error(key if key in form.fields else None, m)


def _submit(request, form, run, page, context: dict[str, Any]):
    """Validate the form, run the service call, or redisplay ``page`` with messages and a 4xx status."""
    if not form.is_valid():
        return render(request, page, {**context, "form": form, "message": INVALID, "summary": form_summary(form)},
                      status=400)
    try:
        return run(form.cleaned_data)
    except DomainError as exc:
        attach(exc, form)
        return render(request, page, {**context, "form": form, "message": exc.message,
                                      "conflict": exc.status == 409, "summary": form_summary(form)},
                      status=exc.status)


# ----------------------------------------------------------------------------- regions
def _region(code: str) -> Region:
    region = Region.objects.filter(code=code).select_related("parent").first()
    if region is None:
        raise Http404("区划不存在 / region not found")
    return region


def _ancestors(region: Region | None) -> list[Region]:
    chain = []
    while region is not None:
        chain.insert(0, region)
        region = region.parent
    return chain


@platform_admin_required
def region_list(request):
    parent_code = request.GET.get("parent") or request.POST.get("parent") or ""
    parent = _region(parent_code) if parent_code else None
    q = request.GET.get("q", "").strip()[:30]
    if q:
        regions = Region.objects.filter(Q(name__icontains=q) | Q(code__startswith=q))
    else:
        regions = Region.objects.filter(parent=parent)
    regions = regions.annotate(n_children=Count("children", distinct=True),
                               n_orgs=Count("organizations", distinct=True)).order_by("code")[:500]
    context = {"parent": parent, "chain": _ancestors(parent), "regions": regions, "q": q,
               "levels": dict(Region.Level.choices)}
    if request.method == "POST":
        def run(cd):
            region = services.create_region(request.user, code=cd["code"], name=cd["name"])
            messages.success(request, f"已新建区划“{region.name}”（{region.code}，{region.get_level_display()}）")
            target = region.parent.code if region.parent_id else ""
            return redirect(f"{request.path}?parent={target}" if target else request.path)

        return _submit(request, RegionForm(request.POST), run, "office/regions/list.html", context)
    suggestion = ""
    if parent is not None and parent.level < 5:
        suggestion = {1: parent.code[:2] + "01" + "0" * 8, 2: parent.code[:4] + "01" + "0" * 6,
                      3: parent.code[:6] + "001000", 4: parent.code[:9] + "001"}[parent.level]
    return render(request, "office/regions/list.html",
                  {**context, "form": RegionForm(initial={"code": suggestion})})


@platform_admin_required
def region_edit(request, code: str):
    region = _region(code)
    context = {"region": region, "chain": _ancestors(region.parent)}
    if request.method == "POST":
        def run(cd):
            services.update_region(request.user, region, name=cd["name"])
            messages.success(request, "已保存区划名称")
            return redirect(f"/office/regions/?parent={region.parent.code}" if region.parent_id else "/office/regions/")

        return _submit(request, RegionNameForm(request.POST), run, "office/regions/edit.html", context)
    return render(request, "office/regions/edit.html", {**context, "form": RegionNameForm(initial={"name": region.name})})


# ----------------------------------------------------------------------------- organisations
def _organization(uscc: str) -> Organization:
    org = Organization.objects.filter(uscc=uscc).select_related("region", "parent").first()
    if org is None:
        raise Http404("机构不存在 / organisation not found")
    return org


@platform_admin_required
def organization_list(request):
    q = request.GET.get("q", "").strip()[:60]
    region_code = request.GET.get("region", "").strip()
    show = request.GET.get("show", "active")
    qs = Organization.objects.select_related("region", "parent").annotate(n_items=Count("items"))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(short_name__icontains=q) | Q(uscc__icontains=q.upper()))
    if region_code:
        try:
            prefix = validators.division_prefix(validators.check_division_code(region_code))
        except validators.InvalidCode:
            prefix = region_code
        qs = qs.filter(region__code__startswith=prefix)
    if show == "active":
        qs = qs.filter(is_active=True)
    elif show == "inactive":
        qs = qs.filter(is_active=False)
    page = Paginator(qs.order_by("region__code", "name"), 30).get_page(request.GET.get("page"))
    return render(request, "office/organizations/list.html", {
        "page": page, "q": q, "region": region_code, "show": show,
        "regions": Region.objects.filter(level__lte=4).order_by("code")})


@platform_admin_required
def organization_create(request):
    context: dict[str, Any] = {"title": "新建机构"}
    if request.method == "POST":
        def run(cd):
            org = services.create_organization(request.user, data=cd)
            messages.success(request, f"已新建机构“{org.name}”")
            return redirect("office_organizations")

        return _submit(request, OrganizationForm(request.POST), run, "office/organizations/form.html", context)
    return render(request, "office/organizations/form.html", {**context, "form": OrganizationForm()})


@platform_admin_required
def organization_edit(request, uscc: str):
    org = _organization(uscc)
    context: dict[str, Any] = {"title": f"修改机构：{org.name}", "org": org, "deactivate_form": DeactivateForm()}
    if request.method == "POST":
        def run(cd):
            services.update_organization(request.user, org, data=cd)
            messages.success(request, f"已保存机构“{cd['name']}”")
            return redirect("office_organizations")

        return _submit(request, OrganizationForm(request.POST, organization=org), run,
                       "office/organizations/form.html", context)
    return render(request, "office/organizations/form.html",
                  {**context, "form": OrganizationForm(initial=OrganizationForm.initial_for(org), organization=org)})


@require_POST
@platform_admin_required
def organization_deactivate(request, uscc: str):
    org = _organization(uscc)
    form = DeactivateForm(request.POST)
    context = {"title": f"修改机构：{org.name}", "org": org,
               "form": OrganizationForm(initial=OrganizationForm.initial_for(org), organization=org)}

    def run(cd):
        services.deactivate_organization(request.user, org, reason=cd.get("reason", ""))
        messages.success(request, f"已停用机构“{org.name}”")
        return redirect("office_organizations")

    if not form.is_valid():
        return render(request, "office/organizations/form.html",
                      {**context, "deactivate_form": form, "message": INVALID, "summary": form_summary(form)},
                      status=400)
    try:
        return run(form.cleaned_data)
    except DomainError as exc:
        attach(exc, form)
        return render(request, "office/organizations/form.html",
                      {**context, "deactivate_form": form, "message": exc.message, "summary": form_summary(form)},
                      status=exc.status)


@require_POST
@platform_admin_required
def organization_reactivate(request, uscc: str):
    org = _organization(uscc)
    try:
        services.reactivate_organization(request.user, org)
    except DomainError as exc:
        return render(request, "office/organizations/form.html", {
            "title": f"修改机构：{org.name}", "org": org, "deactivate_form": DeactivateForm(),
            "form": OrganizationForm(initial=OrganizationForm.initial_for(org), organization=org),
            "message": exc.message}, status=exc.status)
    messages.success(request, f"已重新启用机构“{org.name}”")
    return redirect("office_organizations")
