"""电子印章 pages (/office/seals/): the seal register, applications, the lifecycle steps and the
authorisations. Views parse input and render; ``seals.services`` checks, writes and audits.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yiwang.core.errors import DomainError
from yiwang.core.forms import bilingual
from yiwang.core.views_office import _submit as submit_form
from yiwang.core.views_office import staff_required
from yiwang.identity.models import Role
from yiwang.seals import selectors, services
from yiwang.seals.models import Seal

# Lifecycle buttons on the seal page: action -> (label, needs a reason, style)
ACTIONS = {
    "review": ("审核通过", False, ""), "reject": ("审核不通过", True, "secondary"),
    "produce": ("制作印章（生成密钥、印模和证书）", False, ""), "file": ("备案", False, ""),
    "activate": ("启用", False, ""), "suspend": ("挂失/停用", True, "secondary"),
    "revoke": ("吊销（不可恢复）", True, "danger"), "renew": ("证书续期", False, "secondary"),
}


class ApplyForm(forms.Form):
    organization = forms.ModelChoiceField(label="用章机构", queryset=None, empty_label="请选择")
    seal_type = forms.ChoiceField(label="印章类型", choices=[("", "请选择")] + list(Seal.Type.choices))
    name = forms.CharField(label="印章名称", max_length=100, required=False,
                           help_text="不填则为“机构名称＋印章类型”，如：临江市民政局行政审批专用章")
    reason = forms.CharField(label="申请理由", max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="说明用途，例如：出具行政许可决定书")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = selectors.applicable_organizations(user)
        for field in self.fields.values():
            bilingual(field)


class AuthorizationForm(forms.Form):
    organization = forms.ModelChoiceField(label="机构", queryset=None, empty_label="请选择")
    seal_type = forms.ChoiceField(label="印章类型", choices=[("", "请选择")] + list(Seal.Type.choices))
    role = forms.ChoiceField(label="可申请用章的岗位", choices=[("", "请选择")] + [
        (value, label) for value, label in Role.choices if value != Role.PLATFORM_ADMIN])

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = selectors.administered_organizations(user)
        for field in self.fields.values():
            bilingual(field)


def _seal(request, pk: int) -> Seal:
    try:
        return selectors.seal_for(request.user, pk)
    except DomainError:
        raise Http404("未找到该印章 / seal not found") from None


@staff_required
def seal_list(request):
    seals = selectors.visible_seals(request.user)
    state = request.GET.get("state", "")
    if state in Seal.State.values:
        seals = seals.filter(state=state)
    return render(request, "seals/office/list.html", {
        "seals": seals[:500], "state": state, "states": Seal.State.choices,
        "can_apply": selectors.applicable_organizations(request.user).exists(),
        "can_authorize": selectors.administered_organizations(request.user).exists()})


@staff_required
def seal_apply(request):
    page = "seals/office/apply.html"
    if request.method != "POST":
        form = ApplyForm(user=request.user)
        if form.fields["organization"].queryset.count() == 1:
            form.initial["organization"] = form.fields["organization"].queryset.first().pk
        return render(request, page, {"form": form})

    def run(data):
        seal = services.apply_for_seal(request.user, **data)
        messages.success(request, f"已提交印章申请，印章编码 {seal.code}，等待机构管理员审核")
        return redirect("office_seal", pk=seal.pk)

    return submit_form(request, ApplyForm(request.POST, user=request.user), run, page, {})


@staff_required
def seal_detail(request, pk: int):
    return _render_detail(request, _seal(request, pk))


def _render_detail(request, seal: Seal, *, failed: str = "", error: DomainError | None = None):
    """The seal page; after a refused step, with its message (and the reason's) and the error's 4xx status."""
    admin = services.is_seal_admin(request.user, seal.organization)
    actions = []
    if admin:
        for action, (label, needs_reason, style) in ACTIONS.items():
            allowed_from = services.RENEWABLE if action == "renew" else services.TRANSITIONS[action][0]
            if seal.state in allowed_from:
                actions.append({"action": action, "label": label, "needs_reason": needs_reason, "style": style})
    states = dict(Seal.State.choices)
    events = list(seal.events.all())
    for e in events:
        e.action_label = services.ACTION_LABELS.get(e.action, e.action)
        e.from_label, e.to_label = states.get(e.from_state, ""), states.get(e.to_state, e.to_state)
    context = {"seal": seal, "events": events, "actions": actions, "admin": admin}
    if error is None:
        return render(request, "seals/office/detail.html", context)
    reason_errors = error.fields.get("reason", [])
    summary = [{"label": "理由", "text": e, "href": f"#reason-{failed}"} for e in reason_errors]
    return render(request, "seals/office/detail.html", {
        **context, "message": error.message, "summary": summary, "failed": failed, "reason_errors": reason_errors,
        "reason_value": request.POST.get("reason", "")}, status=error.status)


@require_POST
@staff_required
def seal_action(request, pk: int, action: str):
    seal = _seal(request, pk)
    if action not in ACTIONS:
        raise Http404("未知操作 / unknown action")
    reason = request.POST.get("reason", "")
    steps = {
        "review": lambda: services.review_seal(request.user, seal, reason=reason),
        "reject": lambda: services.review_seal(request.user, seal, approve=False, reason=reason),
        "produce": lambda: services.produce_seal(request.user, seal, reason=reason),
        "file": lambda: services.file_seal(request.user, seal, reason=reason),
        "activate": lambda: services.activate_seal(request.user, seal, reason=reason),
        "suspend": lambda: services.suspend_seal(request.user, seal, reason=reason),
        "revoke": lambda: services.revoke_seal(request.user, seal, reason=reason),
        "renew": lambda: services.renew_seal_certificate(request.user, seal, reason=reason),
    }
    try:
        seal = steps[action]()
    except DomainError as exc:
        return _render_detail(request, _seal(request, pk), failed=action, error=exc)
    messages.success(request, f"已{services.ACTION_LABELS[action]}：{seal.name}，当前状态“{seal.get_state_display()}”")
    return redirect("office_seal", pk=pk)


@staff_required
def seal_image(request, pk: int):
    seal = _seal(request, pk)
    if not seal.image_png:
        raise Http404("印章尚未制作 / seal not produced yet")
    response = HttpResponse(bytes(seal.image_png), content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response


@staff_required
def seal_certificate(request, pk: int):
    seal = _seal(request, pk)
    if not seal.certificate_pem:
        raise Http404("印章尚未制作 / seal not produced yet")
    response = HttpResponse(seal.certificate_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="seal-{seal.code}.pem"'
    return response


@staff_required
def authorization_list(request):
    page = "seals/office/authorizations.html"
    organizations = selectors.administered_organizations(request.user)
    if not organizations.exists():
        return render(request, "seals/office/not_admin.html", status=403)
    context = {"grants": selectors.authorizations(request.user)[:500]}
    if request.method != "POST":
        form = AuthorizationForm(user=request.user)
        if organizations.count() == 1:
            form.initial["organization"] = organizations.first().pk
        return render(request, page, {**context, "form": form})

    def run(data):
        grant = services.authorize_role(request.user, **data)
        messages.success(request, f"已授权：{grant.organization.name}的“{grant.role_label}”可申请"
                                  f"{grant.get_seal_type_display()}")
        return redirect("office_seal_authorizations")

    return submit_form(request, AuthorizationForm(request.POST, user=request.user), run, page, context)


@require_POST
@staff_required
def authorization_withdraw(request, pk: int):
    grant = selectors.authorizations(request.user).filter(pk=pk).first()
    if grant is None:
        raise Http404("未找到该授权 / authorisation not found")
    try:
        services.withdraw_authorization(request.user, grant)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已撤销该授权")
    return redirect("office_seal_authorizations")

