"""Sign-in and sign-out for staff (a later release replaces this with the full identity flow)."""

from __future__ import annotations

from typing import ClassVar

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit

from yiwang.core import audit


class LoginForm(AuthenticationForm):
    error_messages: ClassVar[dict[str, str]] = {
        "invalid_login": "用户名或密码不正确，请重新输入（注意区分大小写）。",
        "inactive": "该账号已停用，请联系本单位管理员。",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "用户名"
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none",
                                                     "spellcheck": "false"})
        self.fields["username"].error_messages["required"] = "请输入用户名"
        self.fields["password"].label = "密码"
        self.fields["password"].widget = forms.PasswordInput(attrs={"autocomplete": "current-password"})
        self.fields["password"].error_messages["required"] = "请输入密码"

    def full_clean(self):
        super().full_clean()
        # Point assistive technology at the message shown beside each field in error.
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update({"aria-invalid": "true",
                                                       "aria-describedby": f"{name}-error"})


def _rate(name: str, default: str) -> str:
    return getattr(settings, name, default)


@method_decorator(ratelimit(key="ip", rate=lambda g, r: _rate("YIWANG_LOGIN_RATE_IP", "30/m"),
                            method="POST", block=False), name="post")
@method_decorator(ratelimit(key="post:username", rate=lambda g, r: _rate("YIWANG_LOGIN_RATE_ACCOUNT", "10/5m"),
                            method="POST", block=False), name="post")
class LoginView(auth_views.LoginView):
    """Password sign-in, limited per IP address and per account name."""

    template_name = "registration/login.html"
    authentication_form = LoginForm

    def post(self, request, *args, **kwargs):
        if getattr(request, "limited", False):
            response = self.render_to_response(self.get_context_data(
                form=self.get_form_class()(request),
                rate_limited="尝试次数过多，请5分钟后再试 / too many attempts, try again in 5 minutes"))
            response.status_code = 429
            response["Retry-After"] = "300"
            audit.record("identity.login.limited", "Account", request.POST.get("username", "")[:64],
                         actor="anonymous")
            return response
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default); redirects to settings.LOGOUT_REDIRECT_URL."""
