"""Forms of the sign-in pages: they parse what was typed; the rules live in ``identity.services``."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import RegexValidator

from yiwang.core.errors import DomainError
from yiwang.identity import passwords, services
from yiwang.identity.models import OneTimeCode


def _text(label: str, required: str, *, help_text: str = "", max_length: int = 64, **attrs) -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, max_length=max_length, strip=True,
                           error_messages={"required": required,
                                           "max_length": f"不超过{max_length}个字符 / at most {max_length} characters"},
                           widget=forms.TextInput(attrs=attrs))


def _mobile() -> forms.CharField:
    return _text("手机号码", "请输入手机号码 / enter a mobile number", max_length=20, type="tel", inputmode="numeric",
                 autocomplete="tel-national")


def _code() -> forms.CharField:
    field = _text("短信验证码", "请输入短信验证码 / enter the code from the text message",
                  help_text="短信中的6位数字，5分钟内有效", max_length=6, inputmode="numeric",
                  autocomplete="one-time-code", pattern="[0-9]*", maxlength="6", **{"class": "input-code"})
    field.validators.append(RegexValidator(r"^[0-9]{6}$", "请输入短信中的6位数字验证码 / enter the 6-digit code "
                                                          "from the text message"))
    return field


def _new_password(label: str = "设置密码") -> forms.CharField:
    return forms.CharField(label=label, strip=False, max_length=128, help_text=passwords.policy_text(),
                           error_messages={"required": "请设置密码 / enter a password"},
                           widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


def _confirm_password() -> forms.CharField:
    return forms.CharField(label="确认密码", strip=False, max_length=128, help_text="再输入一次，以免输错",
                           error_messages={"required": "请再次输入密码 / enter the password again"},
                           widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class AccessibleForm:
    """Marks fields in error for assistive technology and takes a service's per-field errors."""

    error_status = 400

    def full_clean(self):
        super().full_clean()
        self.mark_errors()

    def mark_errors(self) -> None:
        for name, field in self.fields.items():
            described = [f"id_{name}_helptext"] if field.help_text else []
            if name in self.errors:
                described.insert(0, f"{name}-error")
                field.widget.attrs["aria-invalid"] = "true"
            else:
                field.widget.attrs.pop("aria-invalid", None)
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)

    def attach(self, exc: DomainError) -> None:
        """Show a service's errors beside their fields (the rest above the form)."""
        self.error_status = exc.status
        placed = False
        for key, messages in exc.fields.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)
        self.mark_errors()


class LoginForm(AccessibleForm, AuthenticationForm):
    """Password sign-in with one field for a username, an ID number or a mobile number."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.sign_in = None
        username = self.fields["username"]
        username.label = "账号"
        username.help_text = "用户名、身份证号码或手机号码"
        username.max_length = 64
        username.widget.attrs.update({"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false",
                                      "maxlength": "64"})
        username.error_messages["required"] = "请输入账号 / enter your username, ID number or mobile number"
        password = self.fields["password"]
        password.label = "密码"
        password.widget = forms.PasswordInput(attrs={"autocomplete": "current-password"})
        password.error_messages["required"] = "请输入密码 / enter your password"

    def clean(self):
        identifier = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if identifier and password:
            try:
                self.sign_in = services.sign_in_with_password(
                    identifier=identifier, password=password, request=self.request, **client_meta(self.request))
            except DomainError as exc:
                self.error_status = exc.status
                raise forms.ValidationError(exc.message, code=exc.code) from None
            self.user_cache = self.sign_in.user
        return self.cleaned_data


class CodeRequestForm(AccessibleForm, forms.Form):
    """Step one of every code flow: the number to text."""

    mobile = _mobile()
    purpose = forms.ChoiceField(choices=[(p, p) for p in (OneTimeCode.Purpose.REGISTER, OneTimeCode.Purpose.LOGIN,
                                                           OneTimeCode.Purpose.RESET)],
                                widget=forms.HiddenInput,
                                error_messages={"required": "验证码用途无效 / unknown purpose",
                                                "invalid_choice": "验证码用途无效 / unknown purpose"})


class RegisterForm(AccessibleForm, forms.Form):
    name = _text("姓名", "请输入姓名 / enter your name", help_text="与身份证上的姓名一致", max_length=30,
                 autocomplete="name")
    id_number = _text("公民身份号码", "请输入身份证号码 / enter your ID number",
                      help_text="18位，末位可能是字母X", max_length=20, autocomplete="off", autocapitalize="characters",
                      spellcheck="false")
    mobile = _mobile()
    code = _code()
    username = forms.CharField(label="用户名（选填）", required=False, max_length=30,
                               help_text="4–30位，以字母开头，可含字母、数字和下划线；不填则自动生成。也可以用身份证号码或手机号码登录。",
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                                             "spellcheck": "false"}),
                               error_messages={"max_length": "用户名不超过30位 / at most 30 characters"})
    password = _new_password()
    password2 = _confirm_password()

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password2") is not None and data["password"] != data["password2"]:
            self.add_error("password2", "两次输入的密码不一致 / the two passwords differ")
        return data


class SmsLoginForm(AccessibleForm, forms.Form):
    mobile = _mobile()
    code = _code()


class PasswordResetForm(AccessibleForm, forms.Form):
    mobile = _mobile()
    code = _code()
    password = _new_password("新密码")
    password2 = _confirm_password()

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password2") is not None and data["password"] != data["password2"]:
            self.add_error("password2", "两次输入的密码不一致 / the two passwords differ")
        return data


def client_meta(request) -> dict[str, str | None]:
    """The client's address and browser, for sign-in records and limits."""
    if request is None:
        return {"ip": None, "user_agent": ""}
    return {"ip": request.META.get("REMOTE_ADDR") or None, "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}
