"""The second sign-in step for staff (动态口令): set up the authenticator once, then enter its code.

The login view checks the password and leaves the user in ``session["pending_2fa_user"]``
without signing in. This page signs them in once the code is right. A staff member already
signed in by another route (without the second factor) is asked for the code here too.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit

from yiwang.core.errors import DomainError, StateError
from yiwang.identity import totp

DEFAULT_NEXT = "/office/"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="动态口令", max_length=12, required=False,
        help_text="打开手机上的身份验证器应用，输入“一网 Yiwang”下显示的6位数字，口令每30秒更新一次。",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*",
                                      "autocapitalize": "off", "spellcheck": "false", "class": "code-input",
                                      "aria-describedby": "id_code_helptext"}))


def _rate_key(group, request) -> str:
    pending = request.session.get(totp.SESSION_PENDING)
    if pending:
        return f"pending:{pending}"
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def _rate(group, request) -> str:
    return getattr(settings, "YIWANG_TOTP_RATE", "10/10m")


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return DEFAULT_NEXT


def _login_url(target: str) -> str:
    return f"{settings.LOGIN_URL}?{urlencode({'next': target})}"


def _waiting_user(request):
    """The staff user this page is for and whether they are already signed in (without the code)."""
    pk = request.session.get(totp.SESSION_PENDING)
    if pk:
        user = get_user_model().objects.filter(pk=pk, is_active=True).first()
        if user is not None and totp.is_staff_user(user):
            return user, False
        _drop(request, signed_in=False)
        return None, False
    if request.user.is_authenticated and totp.is_staff_user(request.user) and not totp.second_factor_passed(request):
        return request.user, True
    return None, False


def _drop(request, *, signed_in: bool) -> None:
    """Forget the half-finished sign-in (and sign out a session that skipped the code)."""
    for key in (totp.SESSION_PENDING, totp.SESSION_BACKEND, totp.SESSION_FAILURES):
        request.session.pop(key, None)
    if signed_in:
        logout(request)


def _complete(request, user, *, signed_in: bool) -> None:
    if signed_in:
        request.session.cycle_key()  # a new session id for the raised privilege
    else:
        backend = request.session.get(totp.SESSION_BACKEND)
        if backend not in settings.AUTHENTICATION_BACKENDS:
            backend = settings.AUTHENTICATION_BACKENDS[0]
        login(request, user, backend=backend)
    for key in (totp.SESSION_PENDING, totp.SESSION_BACKEND, totp.SESSION_FAILURES):
        request.session.pop(key, None)
    request.session[totp.SESSION_OK] = True


def _locked(request, message: str):
    response = render(request, "identity/totp/locked.html", {"message": message})
    response.status_code = 403
    return response


@never_cache
@ratelimit(key=_rate_key, rate=_rate, method="POST", block=False)
def second_factor(request):
    target = _next(request)
    user, signed_in = _waiting_user(request)
    if user is None:
        if request.user.is_authenticated:
            return redirect(target)
        return redirect(_login_url(target))
    until = totp.locked_until(user)
    if until is not None:
        _drop(request, signed_in=signed_in)
        return _locked(request, totp.locked_message(until))

    enrolling = not totp.is_enrolled(user)
    secret = totp.start_enrolment(user) if enrolling else ""
    form = CodeForm(request.POST or None)
    context = {"form": form, "next": target, "enrolling": enrolling, "username": user.get_username()}
    if enrolling:
        context.update(secret=totp.grouped(secret), issuer=totp.ISSUER,
                       qr=totp.qr_data_uri(totp.provisioning_uri(user.get_username(), secret)))
    template = "identity/totp/enrol.html" if enrolling else "identity/totp/verify.html"

    if request.method != "POST":
        return render(request, template, context)
    if getattr(request, "limited", False):
        response = render(request, template, {**context, "message": "尝试次数过多，请10分钟后再试 / too many attempts, "
                                                                     "try again in 10 minutes"}, status=429)
        response["Retry-After"] = "600"
        return response
    form.is_valid()
    try:
        outcome = totp.verify_code(user, form.cleaned_data.get("code", ""), ip=request.META.get("REMOTE_ADDR"),
                                   user_agent=request.META.get("HTTP_USER_AGENT", ""))
    except totp.AccountLocked as exc:
        _drop(request, signed_in=signed_in)
        return _locked(request, exc.message)
    except StateError:
        return redirect(request.get_full_path())  # the secret was reset meanwhile: start again
    except DomainError as exc:
        if isinstance(exc, totp.WrongCode):
            failures = request.session.get(totp.SESSION_FAILURES, 0) + 1
            request.session[totp.SESSION_FAILURES] = failures
            if failures >= totp.max_failures():
                _drop(request, signed_in=signed_in)
                messages.error(request, "动态口令连续输错，请重新登录 / too many wrong codes: sign in again")
                return redirect(_login_url(target))
        for msg in exc.fields.get("code", [exc.message]):
            form.add_error("code", msg)
        form.fields["code"].widget.attrs.update({"aria-invalid": "true",
                                                 "aria-describedby": "id_code_helptext code-error"})
        return render(request, template, {**context, "form": form, "message": exc.message}, status=exc.status)

    _complete(request, user, signed_in=signed_in)
    if outcome.kind == "enrolled":
        messages.success(request, "动态口令已设置，今后登录时请输入手机应用显示的口令。")
    return redirect(target)
