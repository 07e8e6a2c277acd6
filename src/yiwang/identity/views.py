"""Sign-in and sign-out for staff (a later release replaces this with the full identity flow)."""

from __future__ import annotations

from typing import ClassVar

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm


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


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default); redirects to settings.LOGOUT_REDIRECT_URL."""
