"""Staff administration pages (工作人员管理), mounted at /office/staff/.

Organisation administrators see and manage the staff of their organisation and its children;
platform administrators those of every organisation. ``services_staff`` decides and writes.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from yiwang.core.errors import DomainError, NotFound
from yiwang.core.forms import bilingual
from yiwang.core.views_office import attach, form_summary, staff_required
from yiwang.identity import services_staff as services
from yiwang.identity import totp
from yiwang.identity.models import AccountSecurity, LoginEvent, Role, StaffAccount

INVALID = "填写有误，请按提示修改 / please correct the marked fields"
PAGE_SIZE = 30
METHODS = {"password": "密码", "sms": "短信验证码", "totp": "动态口令", "oidc": "单点登录"}


# ----------------------------------------------------------------------------- forms
class OrganizationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class StaffForm(forms.Form):
    display_name = bilingual(forms.CharField(label="姓名", max_length=60))
    organization = bilingual(OrganizationChoice(label="所属机构", queryset=None, empty_label="请选择"))
    roles = bilingual(forms.MultipleChoiceField(
        label="角色", widget=forms.CheckboxSelectMultiple,
        help_text="可选多个。事项管理员、机构管理员、电子监察的权限覆盖所属机构及其下级机构。"))

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = services.organizations_for(actor).select_related("region") \
            .order_by("region__code", "name")
        grantable = services.grantable_roles(actor)
        self.fields["roles"].choices = [(r.value, r.label) for r in Role if r.value in grantable]


class NewStaffForm(StaffForm):
    username = bilingual(forms.CharField(
        label="登录用户名", max_length=30, help_text="3至30个字符：字母、数字和 @ . + - _，开设后不能修改。",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})))
    password_choice = forms.ChoiceField(
        label="初始密码", initial="generate", widget=forms.RadioSelect,
        choices=[("generate", "由系统生成（推荐），开设后只显示一次"), ("set", "由我设置")])
    password = forms.CharField(
        label="设置初始密码", required=False, strip=False,
        help_text="至少8位，不能全是数字，不能是常用密码。",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    field_order: ClassVar[list[str]] = ["username", "display_name", "organization", "roles", "password_choice", "password"]

    def clean(self):
        data = super().clean()
        if data.get("password_choice") == "set" and not data.get("password"):
            self.add_error("password", "请设置初始密码，或选择由系统生成 / enter a password or let the system generate one")
        return data


class ReasonForm(forms.Form):
    reason = bilingual(forms.CharField(label="停用原因", max_length=200,
                                       help_text="如：调离本单位、退休。停用后不能登录，历史记录保留。"))


# ----------------------------------------------------------------------------- access
def staff_admin_required(view):
    @wraps(view)
    @staff_required
    def wrapper(request, *args, **kwargs):
        if not services.can_administer(request.user):
            raise PermissionDenied("仅限机构管理员或平台管理员 / organisation or platform administrators only")
        return view(request, *args, **kwargs)

    return wrapper


def _staff(request, username: str) -> StaffAccount:
    try:
        return services.get_staff_for(request.user, username)
    except NotFound:
        raise Http404("工作人员不存在 / staff member not found") from None


def _role_labels(roles: list[str]) -> str:
    return "、".join(Role(r).label for r in roles if r in Role.values)


# ----------------------------------------------------------------------------- pages
@staff_admin_required
def staff_list(request):
    q = request.GET.get("q", "").strip()[:60]
    org = request.GET.get("org", "").strip()
    role = request.GET.get("role", "")
    show = request.GET.get("show", "active")
    qs = services.staff_for(request.user).select_related("user", "organization")
    if q:
        qs = qs.filter(Q(display_name__icontains=q) | Q(user__username__icontains=q))
    if org:
        qs = qs.filter(organization__uscc=org)
    if show == "active":
        qs = qs.filter(user__is_active=True)
    elif show == "inactive":
        qs = qs.filter(user__is_active=False)
    rows = list(qs.order_by("organization__region__code", "organization__name", "user__username"))
    if role in Role.values:
        rows = [s for s in rows if role in s.roles]  # roles are a JSON list: filtered here, portable across databases
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    enrolled = set(AccountSecurity.objects.filter(user__in=[s.user_id for s in page.object_list],
                                                  totp_confirmed_at__isnull=False).values_list("user_id", flat=True))
    for s in page.object_list:
        s.role_labels = _role_labels(s.roles)
        s.enrolled = s.user_id in enrolled
    return render(request, "identity/staff/list.html", {
        "page": page, "q": q, "org": org, "role": role, "show": show, "roles": Role.choices,
        "organizations": services.organizations_for(request.user).order_by("region__code", "name")})


@never_cache
@staff_admin_required
def staff_create(request):
    form = NewStaffForm(request.POST or None, actor=request.user)
    context: dict[str, Any] = {"form": form}
    if request.method != "POST":
        return render(request, "identity/staff/new.html", context)
    if not form.is_valid():
        return render(request, "identity/staff/new.html",
                      {**context, "message": INVALID, "summary": form_summary(form)}, status=400)
    cd = form.cleaned_data
    try:
        staff, password = services.create_staff(
            request.user, username=cd["username"], display_name=cd["display_name"], organization=cd["organization"],
            roles=cd["roles"], password=cd["password"] if cd["password_choice"] == "set" else "")
    except DomainError as exc:
        attach(exc, form)
        return render(request, "identity/staff/new.html",
                      {**context, "message": exc.message, "summary": form_summary(form)}, status=exc.status)
    # Shown once, on this response only: never put in a message, a URL or the session.
    return render(request, "identity/staff/created.html", {
        "staff": staff, "role_labels": _role_labels(staff.roles),
        "password": password if cd["password_choice"] != "set" else ""}, status=201)


@staff_admin_required
def staff_detail(request, username: str):
    staff = _staff(request, username)
    if request.method == "POST":
        form = StaffForm(request.POST, actor=request.user)
        if form.is_valid():
            cd = form.cleaned_data
            try:
                services.update_staff(request.user, staff, display_name=cd["display_name"],
                                      organization=cd["organization"], roles=cd["roles"])
            except DomainError as exc:
                attach(exc, form)
                return _detail(request, staff, form, message=exc.message, status=exc.status)
            messages.success(request, f"已保存{staff.display_name or username}的账号信息")
            return redirect("office_staff_detail", username=username)
        return _detail(request, staff, form, message=INVALID, status=400)
    form = StaffForm(actor=request.user, initial={"display_name": staff.display_name,
                                                  "organization": staff.organization_id, "roles": staff.roles})
    return _detail(request, staff, form)


def _detail(request, staff: StaffAccount, form, *, reason_form=None, message: str = "", status: int = 200):
    security = AccountSecurity.objects.filter(user=staff.user).first()
    logins = list(LoginEvent.objects.filter(user=staff.user).order_by("-created_at")[:10])
    for event in logins:
        event.method_label = METHODS.get(event.method, event.method)
    can_manage = True
    try:
        services.check_manageable(request.user, staff)
    except DomainError:
        can_manage = False
    return render(request, "identity/staff/detail.html", {
        "s": staff, "form": form, "reason_form": reason_form or ReasonForm(), "security": security,
        "logins": logins, "locked_until": totp.locked_until(staff.user), "role_labels": _role_labels(staff.roles), "can_manage": can_manage,
        "is_self": staff.user_id == request.user.pk, "message": message,
        "summary": form_summary(form) + (form_summary(reason_form) if reason_form is not None else [])},
        status=status)


def _initial(staff: StaffAccount) -> dict:
    return {"display_name": staff.display_name, "organization": staff.organization_id, "roles": staff.roles}


@require_POST
@staff_admin_required
def staff_reset_totp(request, username: str):
    staff = _staff(request, username)
    try:
        services.reset_second_factor(request.user, staff)
    except DomainError as exc:
        return _detail(request, staff, StaffForm(actor=request.user, initial=_initial(staff)), message=exc.message,
                       status=exc.status)
    messages.success(request, f"已重置{staff.display_name or username}的动态口令，对方下次登录时重新设置。")
    return redirect("office_staff_detail", username=username)


@never_cache
@require_POST
@staff_admin_required
def staff_reset_password(request, username: str):
    staff = _staff(request, username)
    try:
        password = services.reset_password(request.user, staff)
    except DomainError as exc:
        return _detail(request, staff, StaffForm(actor=request.user, initial=_initial(staff)), message=exc.message,
                       status=exc.status)
    return render(request, "identity/staff/created.html", {
        "staff": staff, "role_labels": _role_labels(staff.roles), "password": password, "reset": True})


@require_POST
@staff_admin_required
def staff_deactivate(request, username: str):
    staff = _staff(request, username)
    reason_form = ReasonForm(request.POST)
    form = StaffForm(actor=request.user, initial=_initial(staff))
    if not reason_form.is_valid():
        return _detail(request, staff, form, reason_form=reason_form, message=INVALID, status=400)
    try:
        services.deactivate_staff(request.user, staff, reason=reason_form.cleaned_data["reason"])
    except DomainError as exc:
        attach(exc, reason_form)
        return _detail(request, staff, form, reason_form=reason_form, message=exc.message, status=exc.status)
    messages.success(request, f"已停用{staff.display_name or username}的账号")
    return redirect("office_staff_detail", username=username)


@require_POST
@staff_admin_required
def staff_reactivate(request, username: str):
    staff = _staff(request, username)
    try:
        services.reactivate_staff(request.user, staff)
    except DomainError as exc:
        return _detail(request, staff, StaffForm(actor=request.user, initial=_initial(staff)), message=exc.message,
                       status=exc.status)
    messages.success(request, f"已重新启用{staff.display_name or username}的账号")
    return redirect("office_staff_detail", username=username)
