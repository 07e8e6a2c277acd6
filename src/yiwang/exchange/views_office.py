"""事件订阅 (/office/webhooks/): organisation administrators manage their webhooks and read the
delivery log; platform administrators those of every organisation.

Views parse input and render; ``exchange.services`` validates, writes and audits. The signing
secret is rendered once, on a page that is not cached.
"""

from __future__ import annotations

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from yiwang.core.errors import DomainError
from yiwang.core.forms import bilingual
from yiwang.core.models import Organization
from yiwang.core.views_office import INVALID, attach, form_summary, staff_required
from yiwang.exchange import services, webhooks
from yiwang.exchange.models import WebhookDelivery
from yiwang.identity import scoping
from yiwang.identity.models import Role

PAGE_SIZE = 50


def _manager_required(view):
    """Staff with the org_admin or platform_admin role."""

    @wraps(view)
    @staff_required
    def wrapper(request, *args, **kwargs):
        if not (scoping.is_platform_admin(request.user) or scoping.has_role(request.user, Role.ORG_ADMIN)):
            raise PermissionDenied("仅限机构管理员和平台管理员 / organisation or platform administrators only")
        return view(request, *args, **kwargs)

    return wrapper


def _organizations(user):
    qs = Organization.objects.filter(is_active=True).order_by("name")
    if scoping.is_platform_admin(user):
        return qs
    return scoping.scope_queryset(qs, user, field="pk", role=Role.ORG_ADMIN)


class SubscriptionForm(forms.Form):
    organization = forms.ModelChoiceField(label="所属机构", queryset=Organization.objects.none(),
                                          help_text="该机构作为实施机构或受理机构的办件事件会发送到接收地址")
    target_url = forms.CharField(label="接收地址", max_length=500,
                                 help_text="须为 https:// 开头的完整地址；平台以 POST 发送 JSON 并签名。")
    event_types = forms.MultipleChoiceField(label="事件类型", choices=list(webhooks.EVENT_TYPES.items()),
                                            widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label="说明", max_length=200, required=False,
                                  help_text="接收系统的名称、建设单位和联系人")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = _organizations(user)
        for field in self.fields.values():
            bilingual(field)


@_manager_required
def subscription_list(request):
    subs = services.manageable_subscriptions(request.user).order_by("-is_active", "organization__name", "-created_at")
    return render(request, "office/webhooks/list.html", {"subscriptions": subs[:500]})


@never_cache
@_manager_required
def subscription_create(request):
    page = "office/webhooks/form.html"
    if request.method != "POST":
        form = SubscriptionForm(user=request.user, initial={"event_types": list(webhooks.EVENT_TYPES)})
        staff = scoping.staff_of(request.user)
        if staff is not None:
            form.initial["organization"] = staff.organization_id
        return render(request, page, {"form": form})
    form = SubscriptionForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, page, {"form": form, "message": INVALID, "summary": form_summary(form)}, status=400)
    try:
        sub, secret = services.create_subscription(request.user, **form.cleaned_data)
    except DomainError as exc:
        attach(exc, form)
        return render(request, page, {"form": form, "message": exc.message, "summary": form_summary(form)},
                      status=exc.status)
    return render(request, "office/webhooks/secret.html", {"sub": sub, "secret": secret})


def _subscription(request, pk: int):
    try:
        return services.get_subscription_for(request.user, pk)
    except DomainError:
        raise Http404("未找到该订阅 / subscription not found") from None


@_manager_required
def subscription_detail(request, pk: int):
    sub = _subscription(request, pk)
    deliveries = sub.deliveries.all()
    status = request.GET.get("status", "")
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "office/webhooks/detail.html", {
        "sub": sub, "page": page, "status": status, "statuses": WebhookDelivery.Status.choices,
        "labels": [webhooks.EVENT_TYPES.get(e, e) for e in sub.event_types]})


@require_POST
@_manager_required
def subscription_deactivate(request, pk: int):
    sub = _subscription(request, pk)
    try:
        services.deactivate_subscription(request.user, sub)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已停用该订阅，平台不再向该地址发送事件")
    return redirect("office_webhook", pk=sub.pk)


@require_POST
@_manager_required
def delivery_resend(request, pk: int):
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=pk).first()
    if delivery is None or not services.may_manage(request.user, delivery.subscription.organization_id):
        raise Http404("未找到该投递记录 / delivery not found")
    try:
        services.resend_delivery(request.user, delivery)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已重新排队投递事件 {delivery.event_id}")
    return redirect("office_webhook", pk=delivery.subscription_id)
