"""现场核验 (window clerks): find a registered person by ID number and confirm them at L3 after
checking their ID card in person.

The ID number is always POSTed, never put in a URL (URLs end up in access logs). The person is
then carried between the two steps by their opaque OIDC subject, not by their ID number.
"""

from __future__ import annotations

import uuid
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from yiwang.core.errors import DomainError
from yiwang.core.forms import bilingual
from yiwang.core.masking import mask_id_number, mask_name, mask_phone
from yiwang.core.views_office import staff_required
from yiwang.identity import scoping, services_levels
from yiwang.identity.models import AssuranceLevel, Person, Role

TEMPLATE = "identity/clerk/verify.html"
INVALID = "填写有误，请按提示修改 / please correct the marked fields"


class SearchForm(forms.Form):
    id_number = bilingual(forms.CharField(label="申请人公民身份号码", max_length=18,
                                          help_text="按申请人所述或所持证件填写，18位"))


class ConfirmForm(forms.Form):
    subject = forms.UUIDField(widget=forms.HiddenInput)
    id_number_checked = bilingual(forms.CharField(
        label="身份证原件上的号码", max_length=18,
        help_text="请核对身份证原件及本人相貌后，照证件逐位录入；须与账号登记的号码一致"))


def clerk_required(view):
    @wraps(view)
    @staff_required
    def wrapper(request, *args, **kwargs):
        if not scoping.has_role(request.user, Role.CLERK):
            raise PermissionDenied("仅限综合窗口工作人员 / window clerks only")
        return view(request, *args, **kwargs)

    return wrapper


def _card(person: Person) -> dict:
    """What the clerk sees of the account: masked, with the level in words."""
    return {
        "subject": person.subject, "name": mask_name(person.name), "id_number": mask_id_number(person.id_number),
        "mobile": mask_phone(person.mobile), "level": person.assurance_level,
        "level_label": services_levels.level_label(person.assurance_level),
        "level_changed_at": person.level_changed_at, "created_at": person.created_at,
        "can_confirm": person.assurance_level == AssuranceLevel.L2,
    }


def _summary(form) -> list[dict[str, str]]:
    return [{"label": str(form[name].label) if name in form.fields else "", "text": e,
             "href": f"#id_{name}" if name in form.fields and name != "subject" else ""}
            for name, errors in form.errors.items() for e in errors]


def _error(request, context: dict, form, message: str, status: int, form_key: str):
    return render(request, TEMPLATE, {**context, form_key: form, "message": message, "summary": _summary(form)},
                  status=status)


@clerk_required
def verify(request):
    context = {"search_form": SearchForm(), "levels": AssuranceLevel.choices}
    if request.method != "POST":
        return render(request, TEMPLATE, context)

    if request.POST.get("action") == "confirm":
        form = ConfirmForm(request.POST)
        person = None
        if form.is_valid():
            person = Person.objects.filter(subject=form.cleaned_data["subject"]).first()
        else:
            subject = request.POST.get("subject", "")
            try:
                person = Person.objects.filter(subject=uuid.UUID(subject)).first()
            except ValueError:
                person = None
        if person is None:
            return render(request, TEMPLATE, {**context, "message": "没有找到该账号，请重新查询 / account not found"},
                          status=404)
        context["card"] = _card(person)
        if not form.is_valid():
            return _error(request, context, form, INVALID, 400, "confirm_form")
        try:
            services_levels.confirm_in_person_l3(request.user, person, form.cleaned_data["id_number_checked"])
        except DomainError as exc:
            for key, msgs in exc.fields.items():
                for m in msgs:
                    form.add_error(key if key in form.fields else None, m)
            context["card"] = _card(person)
            return _error(request, context, form, exc.message, exc.status, "confirm_form")
        messages.success(request, f"已完成现场核验：{mask_name(person.name)}（{mask_id_number(person.id_number)}）"
                                  f"的实名等级已提升为 L3 已现场核验")
        return redirect("office_identity_verify")

    form = SearchForm(request.POST)
    if not form.is_valid():
        return _error(request, context, form, INVALID, 400, "search_form")
    try:
        person = services_levels.find_person_for_clerk(request.user, form.cleaned_data["id_number"])
    except DomainError as exc:
        for key, msgs in exc.fields.items():
            for m in msgs:
                form.add_error(key if key in form.fields else None, m)
        return _error(request, context, form, exc.message, exc.status, "search_form")
    if person is None:
        return render(request, TEMPLATE, {**context, "search_form": form, "not_found": True})
    return render(request, TEMPLATE, {**context, "search_form": SearchForm(), "card": _card(person),
                                      "confirm_form": ConfirmForm(initial={"subject": person.subject})})
