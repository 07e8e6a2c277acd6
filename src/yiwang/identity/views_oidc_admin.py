"""接入应用管理 (/office/oidc-clients/): platform administrators register single sign-on clients.

Views parse input and render; ``services_oidc`` validates, writes and audits. A new or rotated
secret is rendered once, on a page that is not cached, and never stored in clear.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings

from yiwang.core.errors import DomainError
from yiwang.core.forms import bilingual
from yiwang.core.views_office import INVALID, attach, form_summary, platform_admin_required
from yiwang.identity import services_oidc
from yiwang.identity.oidc import SYSTEM_SCOPES, USER_SCOPES

KIND_CHOICES = [(services_oidc.LOGIN, "用户登录：网站或应用使用本平台账号登录（授权码 + PKCE）"),
                (services_oidc.SYSTEM, "部门系统：系统以自身身份调用接口（客户端凭证）")]
TYPE_CHOICES = [(Application.CLIENT_CONFIDENTIAL, "机密客户端：有服务器端，能保管密钥"),
                (Application.CLIENT_PUBLIC, "公开客户端：浏览器单页应用或手机应用，不使用密钥")]


def _scope_choices():
    names = oauth2_settings.SCOPES
    return [(s, f"{s}：{names.get(s, s)}") for s in [*USER_SCOPES, *[s for s in SYSTEM_SCOPES if s not in USER_SCOPES]]]


class ClientForm(forms.Form):
    name = forms.CharField(label="应用名称", max_length=100, help_text="用户在授权页面上看到的名称，如“临江市公积金网上服务大厅”")
    description = forms.CharField(label="说明", max_length=200, required=False,
                                  help_text="用途、建设单位和联系人，供管理员查阅")
    kind = forms.ChoiceField(label="应用类别", choices=KIND_CHOICES, widget=forms.RadioSelect)
    client_type = forms.ChoiceField(label="客户端类型", choices=TYPE_CHOICES, widget=forms.RadioSelect)
    redirect_uris = forms.CharField(
        label="登录回调地址", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="每行一个，须为 https:// 开头的完整地址；本机调试可用 http://localhost 或 http://127.0.0.1。部门系统留空。")
    post_logout_redirect_uris = forms.CharField(
        label="退出后返回地址", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="每行一个，可不填。规则同回调地址。")
    scopes = forms.MultipleChoiceField(
        label="允许的权限范围", choices=(), widget=forms.CheckboxSelectMultiple,
        help_text="应用只能申请这里勾选的权限。登录类应用须含 openid；部门系统只能选 catalog.read 和 introspection。")

    def __init__(self, *args, fixed_kind: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = _scope_choices()
        if fixed_kind:  # kind and client type are chosen once, at registration
            del self.fields["kind"], self.fields["client_type"]
        for field in self.fields.values():
            bilingual(field)

    @staticmethod
    def initial_for(app: Application) -> dict:
        return {"name": app.name, "description": app.policy.description,
                "redirect_uris": "\n".join(app.redirect_uris.split()),
                "post_logout_redirect_uris": "\n".join(app.post_logout_redirect_uris.split()),
                "scopes": list(app.policy.allowed_scopes)}


class DisableForm(forms.Form):
    reason = bilingual(forms.CharField(label="停用原因", max_length=200, required=False))


def _application(client_id: str) -> Application:
    app = Application.objects.select_related("policy").filter(client_id=client_id, policy__isnull=False).first()
    if app is None:
        raise Http404("接入应用不存在 / client not found")
    return app


def _render_error(request, page: str, context: dict, form, exc: DomainError):
    attach(exc, form)
    return render(request, page, {**context, "form": form, "message": exc.message, "summary": form_summary(form)},
                  status=exc.status)


@platform_admin_required
def client_list(request):
    show = request.GET.get("show", "all")
    apps = Application.objects.filter(policy__isnull=False).select_related("policy").order_by("name")
    if show == "active":
        apps = apps.filter(policy__is_active=True)
    elif show == "inactive":
        apps = apps.filter(policy__is_active=False)
    rows = [{"app": a, "kind": services_oidc.kind_of(a)} for a in apps[:500]]
    return render(request, "identity/oidc_admin/list.html", {"rows": rows, "show": show})


@never_cache
@platform_admin_required
def client_create(request):
    page, context = "identity/oidc_admin/form.html", {"title": "登记接入应用"}
    if request.method != "POST":
        initial = {"kind": services_oidc.LOGIN, "client_type": Application.CLIENT_CONFIDENTIAL,
                   "scopes": ["openid", "profile"]}
        return render(request, page, {**context, "form": ClientForm(initial=initial)})
    form = ClientForm(request.POST)
    if not form.is_valid():
        return render(request, page, {**context, "form": form, "message": INVALID, "summary": form_summary(form)},
                      status=400)
    try:
        app, secret = services_oidc.register_client(request.user, form.cleaned_data)
    except DomainError as exc:
        return _render_error(request, page, context, form, exc)
    return render(request, "identity/oidc_admin/secret.html", {"app": app, "secret": secret, "created": True})


@never_cache
@platform_admin_required
def client_edit(request, client_id: str):
    app = _application(client_id)
    page = "identity/oidc_admin/form.html"
    context = {"title": f"接入应用：{app.name}", "app": app, "kind": services_oidc.kind_of(app),
               "disable_form": DisableForm(), "issuer": request.build_absolute_uri("/o")}
    if request.method != "POST":
        return render(request, page, {**context, "form": ClientForm(initial=ClientForm.initial_for(app),
                                                                    fixed_kind=True)})
    form = ClientForm(request.POST, fixed_kind=True)
    if not form.is_valid():
        return render(request, page, {**context, "form": form, "message": INVALID, "summary": form_summary(form)},
                      status=400)
    try:
        services_oidc.update_client(request.user, app, form.cleaned_data)
    except DomainError as exc:
        return _render_error(request, page, context, form, exc)
    messages.success(request, f"已保存接入应用“{form.cleaned_data['name']}”")
    return redirect("oidc_client_list")


def _edit_page_error(request, app: Application, exc: DomainError):
    return render(request, "identity/oidc_admin/form.html", {
        "title": f"接入应用：{app.name}", "app": app, "kind": services_oidc.kind_of(app),
        "disable_form": DisableForm(), "form": ClientForm(initial=ClientForm.initial_for(app), fixed_kind=True),
        "message": exc.message}, status=exc.status)


@never_cache
@require_POST
@platform_admin_required
def client_rotate_secret(request, client_id: str):
    app = _application(client_id)
    try:
        secret = services_oidc.rotate_secret(request.user, app)
    except DomainError as exc:
        return _edit_page_error(request, app, exc)
    return render(request, "identity/oidc_admin/secret.html", {"app": app, "secret": secret, "created": False})


@require_POST
@platform_admin_required
def client_disable(request, client_id: str):
    app = _application(client_id)
    form = DisableForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        services_oidc.disable_client(request.user, app, reason=reason)
    except DomainError as exc:
        return _edit_page_error(request, app, exc)
    messages.success(request, f"已停用接入应用“{app.name}”，其全部令牌已失效")
    return redirect("oidc_client_list")


@require_POST
@platform_admin_required
def client_enable(request, client_id: str):
    app = _application(client_id)
    try:
        services_oidc.enable_client(request.user, app)
    except DomainError as exc:
        return _edit_page_error(request, app, exc)
    messages.success(request, f"已重新启用接入应用“{app.name}”")
    return redirect("oidc_client_list")
