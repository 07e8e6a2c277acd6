"""Registration and sign-in pages: password, SMS code, password reset, sign-out.

Each page works without JavaScript. The code flows have two steps: the number (posted to
``/accounts/code/``, which texts the code and remembers the number, encrypted, in the session),
then the rest of the form. Staff sign in here too; after the password they finish at
``/accounts/totp/`` with their second factor.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from yiwang.core import audit, crypto
from yiwang.core.crypto import normalise_id_number, normalise_phone
from yiwang.core.errors import DomainError
from yiwang.core.masking import mask_phone
from yiwang.identity import passwords, services
from yiwang.identity.backends import identifier_kind
from yiwang.identity.forms import (
    CodeRequestForm,
    LoginForm,
    PasswordResetForm,
    RegisterForm,
    SmsLoginForm,
    client_meta,
)
from yiwang.identity.models import OneTimeCode

Purpose = OneTimeCode.Purpose
TOTP_URL = "/accounts/totp/"
CITIZEN_HOME = "/account/"
PAGES = {Purpose.REGISTER: "/accounts/register/", Purpose.LOGIN: "/accounts/login/sms/",
         Purpose.RESET: "/accounts/password/reset/"}
_SESSION_MOBILE = "sms_mobile_{}"
_MOBILE_CONTEXT = "identity.session.mobile"
LIMITED = "尝试次数过多，请5分钟后再试 / too many attempts, try again in 5 minutes"


def _rate(name: str, default: str):
    return lambda group, request: getattr(settings, name, default)


def _identifier_key(group, request) -> str:
    """One rate-limit bucket per account name, however it was typed (x or X, +86 or not)."""
    text = request.POST.get("username", "").strip()
    kind = identifier_kind(text)
    if kind == "mobile":
        return "m:" + normalise_phone(text)
    if kind == "id_number":
        return "i:" + normalise_id_number(text)
    return "u:" + text


def _mobile_key(group, request) -> str:
    return normalise_phone(request.POST.get("mobile", ""))


def _safe_next(request, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return ""


def _next(request) -> str:
    return _safe_next(request, request.POST.get("next") or request.GET.get("next"))


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _remember_mobile(request, purpose: str, mobile: str) -> None:
    request.session[_SESSION_MOBILE.format(purpose)] = crypto.encrypt(mobile, _MOBILE_CONTEXT)


def _remembered_mobile(request, purpose: str) -> str:
    token = request.session.get(_SESSION_MOBILE.format(purpose))
    if not token:
        return ""
    try:
        return crypto.decrypt(token, _MOBILE_CONTEXT)
    except DomainError:  # a key was rotated away: ask for the number again
        return ""


def _step_two_data(request, purpose: str):
    """The posted form, with the number from the session (step two shows it masked, not in a field)."""
    data = request.POST.copy()
    if not data.get("mobile"):
        data["mobile"] = _remembered_mobile(request, purpose)
    return data


def _forget_mobile(request, purpose: str) -> None:
    request.session.pop(_SESSION_MOBILE.format(purpose), None)


def _limited(request, template: str, context: dict, action: str, identifier: str = ""):
    response = render(request, template, {**context, "rate_limited": LIMITED}, status=429)
    response["Retry-After"] = "300"
    audit.record(action, "Account", services.mask_identifier(identifier), actor="anonymous",
                 detail={"ip": client_meta(request)["ip"] or ""})
    return response


def finish_sign_in(request, sign_in: services.SignIn, next_url: str) -> HttpResponseRedirect:
    """Start the session after a correct first factor, or hand staff over to the second factor."""
    user = sign_in.user
    if sign_in.second_factor_required:
        if request.user.is_authenticated:
            logout(request)
        else:
            request.session.cycle_key()
        request.session.pop("2fa_ok", None)
        request.session["pending_2fa_user"] = user.pk
        request.session["pending_2fa_backend"] = services.BACKEND
        return HttpResponseRedirect(_with_next(TOTP_URL, next_url))
    login(request, user, backend=services.BACKEND)
    if next_url:
        return HttpResponseRedirect(next_url)
    if hasattr(user, "person"):
        return HttpResponseRedirect(CITIZEN_HOME)
    return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)


# ============================================================================ password sign-in


class LoginView(auth_views.LoginView):
    """Password sign-in, limited per IP address and per account name; accounts lock after failures."""

    template_name = "registration/login.html"
    authentication_form = LoginForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "tab": "password"}

    @method_decorator(ratelimit(group="identity.login", key="ip", rate=_rate("YIWANG_LOGIN_RATE_IP", "30/m"),
                                method="POST", block=False))
    @method_decorator(ratelimit(group="identity.login.account", key=_identifier_key,
                                rate=_rate("YIWANG_LOGIN_RATE_ACCOUNT", "10/5m"), method="POST", block=False))
    def post(self, request, *args, **kwargs):
        if getattr(request, "limited", False):
            return _limited(request, self.template_name,
                            self.get_context_data(form=self.get_form_class()(request)),
                            "identity.login.limited", request.POST.get("username", ""))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        return finish_sign_in(self.request, form.sign_in, self.get_redirect_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=form.error_status)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default); redirects to settings.LOGOUT_REDIRECT_URL."""


# ============================================================================ one-time codes


def _code_page(request, purpose: str, *, code_form=None, form=None, status: int = 200, rate_limited: str = ""):
    """The page of a code flow: step one (the number) until a code was sent, then the form."""
    mobile = _remembered_mobile(request, purpose)
    next_url = _next(request)
    step = 2 if (form is not None or (mobile and code_form is None)) else 1
    if step == 1 and code_form is None:
        code_form = CodeRequestForm(initial={"purpose": purpose, "mobile": mobile})
    if step == 2 and form is None:
        form = {Purpose.REGISTER: RegisterForm, Purpose.LOGIN: SmsLoginForm,
                Purpose.RESET: PasswordResetForm}[purpose](initial={"mobile": mobile})
    template = {Purpose.REGISTER: "identity/auth/register.html", Purpose.LOGIN: "identity/auth/login_sms.html",
                Purpose.RESET: "identity/auth/password_reset.html"}[purpose]
    context = {"step": step, "code_form": code_form, "form": form, "purpose": purpose, "next": next_url,
               "page_url": PAGES[purpose], "sent_to": mask_phone(mobile) if mobile else "", "mobile": mobile,
               "policy": passwords.policy_text(), "tab": "sms", "rate_limited": rate_limited}
    response = render(request, template, context, status=status)
    if status == 429:
        response.setdefault("Retry-After", "300")
    return response


@never_cache
@csrf_protect
@require_POST
@ratelimit(group="identity.code.ip", key="ip", rate=_rate("YIWANG_CODE_RATE_IP", "30/h"), method="POST", block=False)
def request_code(request):
    """获取验证码: text a code to the number and return to the page of that purpose."""
    purpose = request.POST.get("purpose", "")
    if purpose not in PAGES:
        purpose = Purpose.REGISTER
    form = CodeRequestForm(_step_two_data(request, purpose))  # "resend" posts no number
    if getattr(request, "limited", False):
        form = CodeRequestForm(initial={"purpose": purpose, "mobile": request.POST.get("mobile", "")})
        return _code_page(request, purpose, code_form=form, status=429, rate_limited=LIMITED)
    if form.is_valid():
        mobile = form.cleaned_data["mobile"]
        try:
            services.issue_code(mobile, purpose, client_meta(request)["ip"])
        except DomainError as exc:
            form.attach(exc)
            response = _code_page(request, purpose, code_form=form, status=exc.status)
            if isinstance(exc, services.CodeRateLimited):
                response["Retry-After"] = str(exc.retry_after)
            return response
        mobile = services.check_mobile(mobile)
        _remember_mobile(request, purpose, mobile)
        minutes = services.code_ttl() // 60
        if purpose == Purpose.REGISTER:
            messages.success(request, f"验证码已发送至 {mask_phone(mobile)}，{minutes}分钟内有效。")
        else:
            messages.success(request, f"如果 {mask_phone(mobile)} 已注册，验证码已发送，{minutes}分钟内有效。")
        return HttpResponseRedirect(_with_next(PAGES[purpose], _next(request)))
    return _code_page(request, purpose, code_form=form, status=400)


def _restart(request, purpose: str):
    if request.GET.get("change"):
        _forget_mobile(request, purpose)
        return HttpResponseRedirect(_with_next(PAGES[purpose], _next(request)))
    return None


# ============================================================================ registration


@never_cache
@csrf_protect
@ratelimit(group="identity.register", key="ip", rate=_rate("YIWANG_REGISTER_RATE_IP", "20/h"), method="POST",
           block=False)
def register(request):
    """注册: number and code, then name, ID number and password; signs the new citizen in."""
    if request.method == "GET":
        return _restart(request, Purpose.REGISTER) or _code_page(request, Purpose.REGISTER)
    if getattr(request, "limited", False):
        return _code_page(request, Purpose.REGISTER, form=RegisterForm(initial=request.POST.dict()), status=429,
                          rate_limited="注册尝试次数过多，请1小时后再试 / too many attempts, try again in an hour")
    form = RegisterForm(_step_two_data(request, Purpose.REGISTER))
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "password2"}
        try:
            user = services.register_person(**data, **client_meta(request))
        except DomainError as exc:
            form.attach(exc)
        else:
            _forget_mobile(request, Purpose.REGISTER)
            login(request, user, backend=services.BACKEND)
            messages.success(request, f"注册成功，欢迎！您的用户名是 {user.get_username()}，"
                                      "也可以用身份证号码或手机号码登录。")
            return HttpResponseRedirect(_next(request) or CITIZEN_HOME)
    else:
        # Name every problem at once, not only the missing fields.
        fields = ("name", "id_number", "mobile", "username", "password")
        problems = services.registration_problems(**{k: form.data.get(k, "") for k in fields})
        for key, messages_ in problems.items():
            if key not in form.errors:
                form.add_error(key, messages_)
        form.mark_errors()
    return _code_page(request, Purpose.REGISTER, form=form, status=form.error_status)


# ============================================================================ SMS sign-in


@never_cache
@csrf_protect
@ratelimit(group="identity.login", key="ip", rate=_rate("YIWANG_LOGIN_RATE_IP", "30/m"), method="POST", block=False)
@ratelimit(group="identity.login.sms", key=_mobile_key, rate=_rate("YIWANG_LOGIN_RATE_ACCOUNT", "10/5m"),
           method="POST", block=False)
def login_sms(request):
    """短信验证码登录."""
    if request.method == "GET":
        return _restart(request, Purpose.LOGIN) or _code_page(request, Purpose.LOGIN)
    if getattr(request, "limited", False):
        audit.record("identity.login.limited", "Account", services.mask_identifier(request.POST.get("mobile", "")),
                     actor="anonymous", detail={"ip": client_meta(request)["ip"] or ""})
        form = SmsLoginForm(initial={"mobile": request.POST.get("mobile", "")})
        return _code_page(request, Purpose.LOGIN, form=form, status=429, rate_limited=LIMITED)
    form = SmsLoginForm(_step_two_data(request, Purpose.LOGIN))
    if form.is_valid():
        try:
            sign_in = services.sign_in_with_code(**form.cleaned_data, **client_meta(request))
        except DomainError as exc:
            form.attach(exc)
        else:
            _forget_mobile(request, Purpose.LOGIN)
            return finish_sign_in(request, sign_in, _next(request))
    return _code_page(request, Purpose.LOGIN, form=form, status=form.error_status)


# ============================================================================ password reset


@never_cache
@csrf_protect
@ratelimit(group="identity.reset", key="ip", rate=_rate("YIWANG_LOGIN_RATE_IP", "30/m"), method="POST", block=False)
def password_reset(request):
    """找回密码: number and code, then a new password; every session of the account ends."""
    if request.method == "GET":
        return _restart(request, Purpose.RESET) or _code_page(request, Purpose.RESET)
    if getattr(request, "limited", False):
        form = PasswordResetForm(initial={"mobile": request.POST.get("mobile", "")})
        return _code_page(request, Purpose.RESET, form=form, status=429, rate_limited=LIMITED)
    form = PasswordResetForm(_step_two_data(request, Purpose.RESET))
    if form.is_valid():
        try:
            services.reset_password(mobile=form.cleaned_data["mobile"], code=form.cleaned_data["code"],
                                    password=form.cleaned_data["password"], **client_meta(request))
        except DomainError as exc:
            form.attach(exc)
        else:
            _forget_mobile(request, Purpose.RESET)
            if request.user.is_authenticated:
                logout(request)
            messages.success(request, "密码已重设，其他设备上的登录已失效。请用新密码登录。")
            return HttpResponseRedirect("/accounts/login/")
    return _code_page(request, Purpose.RESET, form=form, status=form.error_status)

