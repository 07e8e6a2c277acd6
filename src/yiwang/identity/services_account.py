"""The account holder's own records: sign-in history and the applications they authorised (SSO).

The OAuth models are looked up lazily, so these functions work (and return nothing) on an
installation where the OpenID Connect provider is not enabled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

from django.apps import apps
from django.conf import settings
from django.db import transaction

from yiwang.core import audit
from yiwang.core.errors import NotFound
from yiwang.identity.models import LoginEvent

LOGIN_HISTORY_LIMIT = 50

# Model settings of django-oauth-toolkit (swappable), with its defaults.
_OAUTH_MODELS = {
    "application": ("OAUTH2_PROVIDER_APPLICATION_MODEL", "oauth2_provider.Application"),
    "access": ("OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL", "oauth2_provider.AccessToken"),
    "refresh": ("OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL", "oauth2_provider.RefreshToken"),
    "id_token": ("OAUTH2_PROVIDER_ID_TOKEN_MODEL", "oauth2_provider.IDToken"),
    "grant": ("OAUTH2_PROVIDER_GRANT_MODEL", "oauth2_provider.Grant"),
}

def scope_label(scope: str) -> str:
    """The wording of the consent screen (the provider's SCOPES setting), else the scope itself."""
    labels = (getattr(settings, "OAUTH2_PROVIDER", None) or {}).get("SCOPES", {})
    return labels.get(scope, scope)


METHOD_LABELS = {"password": "密码", "sms": "短信验证码", "totp": "动态口令", "oidc": "单点登录", "register": "注册",
                 "reset": "找回密码"}


def _oauth_model(kind: str):
    setting, default = _OAUTH_MODELS[kind]
    label = getattr(settings, setting, None) or default
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def oauth_enabled() -> bool:
    return _oauth_model("access") is not None


# ----------------------------------------------------------------------------- login history
def mask_ip(value: str | None) -> str:
    """``203.0.113.45`` → ``203.0.*.*``; IPv6 keeps its first two groups."""
    if not value:
        return ""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if ip.version == 4:
        a, b, _c, _d = str(ip).split(".")
        return f"{a}.{b}.*.*"
    groups = ip.exploded.split(":")
    return f"{groups[0]}:{groups[1]}:*"


@dataclasses.dataclass(frozen=True)
class LoginRow:
    at: dt.datetime
    method: str
    success: bool
    reason: str
    ip: str


def login_history(user, limit: int = LOGIN_HISTORY_LIMIT) -> list[LoginRow]:
    events = LoginEvent.objects.filter(user=user).order_by("-created_at", "-pk")[:limit]
    return [LoginRow(e.created_at, METHOD_LABELS.get(e.method, e.method), e.success, e.reason, mask_ip(e.ip))
            for e in events]


# ----------------------------------------------------------------------------- authorised applications
@dataclasses.dataclass
class AuthorisedApplication:
    id: int
    name: str
    scopes: list[str] = dataclasses.field(default_factory=list)
    first_authorised: dt.datetime | None = None
    last_used: dt.datetime | None = None
    active_tokens: int = 0

    @property
    def scope_labels(self) -> list[str]:
        return [scope_label(s) for s in self.scopes]


def authorised_applications(user) -> list[AuthorisedApplication]:
    """Applications holding tokens of this user, one row each, most recently used first."""
    access, refresh = _oauth_model("access"), _oauth_model("refresh")
    if access is None:
        return []
    from django.utils import timezone

    now = timezone.now()
    rows: dict[int, AuthorisedApplication] = {}

    def row_for(app) -> AuthorisedApplication:
        if app.pk not in rows:
            rows[app.pk] = AuthorisedApplication(app.pk, app.name or app.client_id)
        return rows[app.pk]

    def note(row: AuthorisedApplication, created: dt.datetime, scope: str) -> None:
        row.first_authorised = min(filter(None, [row.first_authorised, created]))
        row.last_used = max(filter(None, [row.last_used, created]))
        for s in (scope or "").split():
            if s not in row.scopes:
                row.scopes.append(s)

    for token in access.objects.filter(user=user, application__isnull=False).select_related("application"):
        row = row_for(token.application)
        note(row, token.created, token.scope)
        if token.expires and token.expires > now:
            row.active_tokens += 1
    if refresh is not None:
        for token in (refresh.objects.filter(user=user, revoked__isnull=True, application__isnull=False)
                      .select_related("application")):
            row = row_for(token.application)
            note(row, token.created, "")
            row.active_tokens += 1
    return sorted(rows.values(), key=lambda r: r.last_used or now, reverse=True)


@transaction.atomic
def revoke_application(user, application_id: int) -> int:
    """撤销授权: delete every token and grant of this user for one application; returns how many."""
    application = _oauth_model("application")
    if application is None:
        raise NotFound("没有找到该应用 / application not found")
    app = application.objects.filter(pk=application_id).first()
    if app is None:
        raise NotFound("没有找到该应用 / application not found")
    deleted = 0
    for kind in ("access", "refresh", "id_token", "grant"):
        model = _oauth_model(kind)
        if model is not None:
            deleted += model.objects.filter(user=user, application=app).delete()[1].get(model._meta.label, 0)
    if not deleted:
        raise NotFound("您没有授权过该应用，或授权已撤销 / nothing to revoke for this application")
    audit.record("identity.oauth.revoke", "Application", app.client_id,
                 detail={"application": app.name, "deleted": deleted})
    return deleted
