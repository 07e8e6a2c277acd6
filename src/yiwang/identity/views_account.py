"""我的账号: a citizen's own account — identity, assurance level, enterprises and agents, the
acting switch, sign-in history and the applications they let sign them in.

Views parse input and render; the services (``services_levels``, ``services_enterprise``,
``services_account``, ``acting.switch_acting``) validate, write and audit. Staff have no account
pages here: they are sent to the workbench.
"""

from __future__ import annotations

import datetime as dt
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from yiwang.core.errors import DomainError
from yiwang.core.forms import bilingual
from yiwang.core.masking import mask_id_number, mask_name, mask_phone
from yiwang.identity import acting, scoping, services_account, services_enterprise, services_levels
from yiwang.identity.models import AgentAuthorization, AssuranceLevel, Enterprise

INVALID = "填写有误，请按提示修改 / please correct the marked fields"


# ----------------------------------------------------------------------------- forms
class LevelForm(forms.Form):
    name = bilingual(forms.CharField(label="姓名", max_length=60, help_text="与身份证上的姓名一致"))
    id_number = bilingual(forms.CharField(label="公民身份号码", max_length=18,
                                          help_text="18位，末位是 X 的请填写 X"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"autocomplete": "name"})
        self.fields["id_number"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false",
                                                      "inputmode": "text", "autocapitalize": "characters"})


class EnterpriseForm(forms.Form):
    uscc = bilingual(forms.CharField(label="统一社会信用代码", max_length=18,
                                     help_text="18位，见营业执照左上角"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["uscc"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false",
                                                 "autocapitalize": "characters"})


class AgentForm(forms.Form):
    agent = bilingual(forms.CharField(label="经办人手机号码或身份证号码", max_length=20,
                                      help_text="经办人须已在本平台注册并完成 L2 实名核验"))
    scope = bilingual(forms.ChoiceField(label="授权范围", initial="all", widget=forms.RadioSelect,
                                        choices=[("all", "全部事项"), ("some", "指定事项")]))
    items = bilingual(forms.MultipleChoiceField(label="授权事项", required=False,
                                                widget=forms.CheckboxSelectMultiple,
                                                help_text="选择“指定事项”时填写，可多选"))
    valid_from = bilingual(forms.DateField(label="生效日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                           help_text="不能早于今天"))
    valid_until = bilingual(forms.DateField(label="失效日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                            help_text="授权期限最长3年"))

    def __init__(self, *args, item_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = list(item_choices)
        self.fields["agent"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})


def _legal_item_choices(limit: int = 300) -> list[tuple[str, str]]:
    """Published items for legal persons, most used first — what an agent is usually authorised for."""
    from yiwang.catalog.models import SearchEntry

    rows = (SearchEntry.objects.filter(for_legal=True).select_related("item", "organization")
            .order_by("-popularity", "name")[:limit])
    return [(e.item.implementation_code, f"{e.name}（{e.organization.name}）") for e in rows]


def _summary(form) -> list[dict[str, str]]:
    out = []
    for name, errors in form.errors.items():
        for e in errors:
            if name == "__all__":
                out.append({"label": "", "text": e, "href": ""})
            else:
                out.append({"label": str(form[name].label), "text": e, "href": f"#id_{form[name].html_name}"})
    return out


def _attach(exc: DomainError, form) -> None:
    for key, msgs in exc.fields.items():
        for m in msgs:
            form.add_error(key if key in form.fields else None, m)


def _failed(request, template: str, context: dict, form, exc: DomainError | None = None):
    if exc is not None:
        _attach(exc, form)
    status = exc.status if exc is not None else 400
    return render(request, template, {**context, "form": form, "message": exc.message if exc else INVALID,
                                      "summary": _summary(form)}, status=status)


# ----------------------------------------------------------------------------- access
def citizen_required(view):
    """Signed in as a citizen. Staff go to the workbench; an account with no person behind it
    (e.g. a technical account) gets a page saying so."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if scoping.staff_of(request.user) is not None:
            return redirect("/office/")
        person = services_levels.person_of(request.user)
        if person is None:
            return render(request, "identity/account/no_person.html", status=403)
        request.person = person
        return view(request, *args, **kwargs)

    return wrapper


def _context(request, section: str, **extra) -> dict:
    person = request.person
    return {"person": person, "section": section, "acting": request.acting,
            "level_label": services_levels.level_label(person.assurance_level), **extra}


# ----------------------------------------------------------------------------- overview and acting
def _overview_context(request) -> dict:
    person = request.person
    choices = services_enterprise.acting_choices(person)
    current = request.acting.uscc if request.acting else ""
    return _context(
        request, "overview",
        id_masked=mask_id_number(person.id_number), mobile_masked=mask_phone(person.mobile),
        choices=choices, current_uscc=current,
        can_raise=person.assurance_level < AssuranceLevel.L2,
        held_count=sum(1 for c in choices if c.as_legal_rep),
        agent_count=sum(1 for c in choices if c.authorization is not None),
    )


@citizen_required
def overview(request):
    return render(request, "identity/account/overview.html", _overview_context(request))


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or default
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                                  require_https=request.is_secure()):
        return target
    return default


@require_POST
@citizen_required
def acting_switch(request):
    """切换办事身份 (oneself or an enterprise); a POST from the overview or the header."""
    try:
        target = acting.switch_acting(request, request.POST.get("uscc", ""))
    except DomainError as exc:
        return render(request, "identity/account/overview.html",
                      {**_overview_context(request), "message": exc.message}, status=exc.status)
    if target is None:
        messages.success(request, "已切换为以本人身份办事")
    else:
        messages.success(request, f"已切换为以“{target.name}”身份办事，之后的办理都将记录为代表该企业")
    return redirect(_safe_next(request, "/account/"))


# ----------------------------------------------------------------------------- level
@citizen_required
def level(request):
    person = request.person
    context = _context(request, "level", levels=AssuranceLevel.choices, current=person.assurance_level)
    if request.method == "POST":
        form = LevelForm(request.POST)
        if not form.is_valid():
            return _failed(request, "identity/account/level.html", context, form)
        try:
            services_levels.raise_to_l2(person, form.cleaned_data["name"], form.cleaned_data["id_number"])
        except DomainError as exc:
            return _failed(request, "identity/account/level.html", context, form, exc)
        messages.success(request, "实名核验成功，您的实名等级已提升为 L2 已实名核验")
        return redirect("account_level")
    form = LevelForm(initial={"name": person.name}) if person.assurance_level < AssuranceLevel.L2 else None
    return render(request, "identity/account/level.html", {**context, "form": form})


# ----------------------------------------------------------------------------- enterprises
def _enterprises_context(request) -> dict:
    person = request.person
    choices = services_enterprise.acting_choices(person)
    return _context(request, "enterprises",
                    held=[c.enterprise for c in choices if c.as_legal_rep],
                    as_agent=[c for c in choices if c.authorization is not None],
                    can_register=person.assurance_level >= AssuranceLevel.L2)


@citizen_required
def enterprises(request):
    context = _enterprises_context(request)
    if request.method == "POST":
        form = EnterpriseForm(request.POST)
        if not form.is_valid():
            return _failed(request, "identity/account/enterprises.html", context, form)
        try:
            enterprise = services_enterprise.register_enterprise(request.person, form.cleaned_data["uscc"])
        except DomainError as exc:
            return _failed(request, "identity/account/enterprises.html", context, form, exc)
        messages.success(request, f"已注册企业“{enterprise.name}”，您可以为它授权经办人")
        return redirect("account_enterprise", uscc=enterprise.uscc)
    return render(request, "identity/account/enterprises.html", {**context, "form": EnterpriseForm()})


def _held_enterprise(request, uscc: str) -> Enterprise:
    """An enterprise the signed-in person holds as legal representative; 404 for anything else."""
    enterprise = Enterprise.objects.filter(uscc=(uscc or "").upper(), legal_representative=request.person).first()
    if enterprise is None:
        raise Http404("没有找到您持有的该企业 / enterprise not found")
    return enterprise


def _grant_rows(enterprise: Enterprise) -> list[dict]:
    today = timezone.localdate()
    rows = []
    for g in services_enterprise.authorizations_of(enterprise):
        rows.append({
            "grant": g, "agent_name": mask_name(g.agent.name), "agent_mobile": mask_phone(g.agent.mobile),
            "status": services_enterprise.status_of(g, today),
            "scope": "全部事项" if g.all_items else "、".join(i.implementation_code for i in g.items.all()),
            "item_names": [] if g.all_items else [str(i) for i in g.items.all()],
        })
    return rows


def _enterprise_context(request, enterprise: Enterprise) -> dict:
    return _context(request, "enterprises", enterprise=enterprise, rows=_grant_rows(enterprise),
                    max_years=services_enterprise.MAX_VALIDITY_YEARS)


@citizen_required
def enterprise_detail(request, uscc: str):
    enterprise = _held_enterprise(request, uscc)
    context = _enterprise_context(request, enterprise)
    choices = _legal_item_choices()
    if request.method == "POST":
        form = AgentForm(request.POST, item_choices=choices)
        if not form.is_valid():
            return _failed(request, "identity/account/enterprise.html", context, form)
        cd = form.cleaned_data
        try:
            services_enterprise.authorise_agent(
                request.person, enterprise, cd["agent"], all_items=cd["scope"] == "all", item_codes=cd["items"],
                valid_from=cd["valid_from"], valid_until=cd["valid_until"])
        except DomainError as exc:
            return _failed(request, "identity/account/enterprise.html", context, form, exc)
        messages.success(request, "已授权经办人。对方登录后可在“我的账号”中切换为以本企业身份办事")
        return redirect("account_enterprise", uscc=enterprise.uscc)
    today = timezone.localdate()
    form = AgentForm(item_choices=choices, initial={"scope": "all", "valid_from": today,
                                                    "valid_until": today + dt.timedelta(days=365)})
    return render(request, "identity/account/enterprise.html", {**context, "form": form})


@require_POST
@citizen_required
def agent_revoke(request, uscc: str, pk: int):
    enterprise = _held_enterprise(request, uscc)
    grant = AgentAuthorization.objects.filter(pk=pk, enterprise=enterprise).first()
    if grant is None:
        raise Http404("没有找到该授权 / authorisation not found")
    try:
        services_enterprise.revoke_agent(request.person, grant)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("account_enterprise", uscc=enterprise.uscc)
    messages.success(request, f"已撤销经办人 {mask_name(grant.agent.name)} 的授权，对方即时失去代办资格")
    return redirect("account_enterprise", uscc=enterprise.uscc)


# ----------------------------------------------------------------------------- history and applications
@citizen_required
def logins(request):
    return render(request, "identity/account/logins.html",
                  _context(request, "logins", rows=services_account.login_history(request.user),
                           limit=services_account.LOGIN_HISTORY_LIMIT))


@citizen_required
def applications(request):
    return render(request, "identity/account/applications.html",
                  _context(request, "applications", enabled=services_account.oauth_enabled(),
                           rows=services_account.authorised_applications(request.user)))


@require_POST
@citizen_required
def application_revoke(request, app_id: int):
    try:
        services_account.revoke_application(request.user, app_id)
    except DomainError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
        return redirect("account_applications")
    messages.success(request, "已撤销对该应用的授权；它需要您重新同意才能再次获取您的信息")
    return redirect("account_applications")
