"""Use cases of single sign-on client registration (接入应用登记), for platform administrators.

A client is django-oauth-toolkit's ``Application`` plus the platform's ``ClientPolicy``. Two
kinds exist:

- ``login`` — a website or app that signs people in (authorization code + PKCE, ID tokens
  signed RS256). Confidential (has a server that keeps a secret) or public (no secret).
- ``system`` — a department system calling the API as itself (client credentials); always
  confidential; no user, so no ``openid`` scopes.

The secret is shown once, when it is created or rotated: the toolkit stores only its hash.
Every change is audited (never with the secret).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from yiwang.core import audit
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.identity import scoping
from yiwang.identity.models import ClientPolicy
from yiwang.identity.oidc import SYSTEM_SCOPES, USER_SCOPES

LOGIN, SYSTEM = "login", "system"
KINDS = {LOGIN: Application.GRANT_AUTHORIZATION_CODE, SYSTEM: Application.GRANT_CLIENT_CREDENTIALS}
CLIENT_TYPES = (Application.CLIENT_CONFIDENTIAL, Application.CLIENT_PUBLIC)
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_URIS = 10
MAX_URI_LENGTH = 500
INVALID = "填写有误，请按提示修改 / please correct the marked fields"


def _require_platform_admin(user) -> None:
    if not scoping.is_platform_admin(user):
        raise NotPermitted("只有平台管理员可以登记接入应用 / only platform administrators may manage clients")


def kind_of(application: Application) -> str:
    return SYSTEM if application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS else LOGIN


def snapshot(application: Application) -> dict[str, Any]:
    policy = getattr(application, "policy", None)
    return {"client_id": application.client_id, "name": application.name, "kind": kind_of(application),
            "client_type": application.client_type, "redirect_uris": application.redirect_uris.split(),
            "post_logout_redirect_uris": application.post_logout_redirect_uris.split(),
            "algorithm": application.algorithm,
            "scopes": list(policy.allowed_scopes) if policy else [], "is_active": bool(policy and policy.is_active)}


# ----------------------------------------------------------------------------- validation
def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or None. https, or http to this machine only."""
    if len(uri) > MAX_URI_LENGTH:
        return f"地址不超过{MAX_URI_LENGTH}个字符 / at most {MAX_URI_LENGTH} characters"
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "不是有效的网址 / not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "须为 https:// 开头的完整网址 / must be an absolute https:// URL"
    if parts.fragment or "#" in uri:
        return "不能包含 # 片段 / must not contain a fragment"
    if "*" in uri:
        return "不能使用通配符 / wildcards are not allowed"
    if parts.username or parts.password:
        return "不能包含用户名或密码 / must not contain credentials"
    if any(c.isspace() for c in uri):
        return "不能包含空格 / must not contain spaces"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return "http 仅限本机调试地址（localhost、127.0.0.1），其他地址须用 https / http only for localhost"
    return None


def _uris(value: Any, field: str, errors: dict[str, list[str]], *, required: bool) -> list[str]:
    if isinstance(value, str):
        value = value.split()
    uris = [str(u).strip() for u in (value or []) if str(u).strip()]
    uris = list(dict.fromkeys(uris))
    if required and not uris:
        errors.setdefault(field, []).append("请至少填写一个回调地址 / enter at least one redirect URI")
    if len(uris) > MAX_URIS:
        errors.setdefault(field, []).append(f"最多{MAX_URIS}个地址 / at most {MAX_URIS} URIs")
    for uri in uris:
        problem = uri_problem(uri)
        if problem:
            errors.setdefault(field, []).append(f"{uri[:80]}：{problem}")
    return uris


def _clean(data: dict[str, Any], *, kind: str, client_type: str, current: Application | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors.setdefault("name", []).append("请填写应用名称 / enter the name")
    elif len(name) > 100:
        errors.setdefault("name", []).append("名称不超过100字 / at most 100 characters")
    elif Application.objects.filter(name__iexact=name).exclude(pk=current.pk if current else None).exists():
        errors.setdefault("name", []).append("已有同名应用，请换一个名称 / another client has this name")
    description = str(data.get("description") or "").strip()
    if len(description) > 200:
        errors.setdefault("description", []).append("说明不超过200字 / at most 200 characters")
    if kind not in KINDS:
        errors.setdefault("kind", []).append("请选择应用类别 / choose the kind")
    if client_type not in CLIENT_TYPES:
        errors.setdefault("client_type", []).append("请选择客户端类型 / choose the client type")
    elif kind == SYSTEM and client_type != Application.CLIENT_CONFIDENTIAL:
        errors.setdefault("client_type", []).append(
            "部门系统须为机密客户端（用密钥认证）/ a department system must be a confidential client")
    redirect_uris = _uris(data.get("redirect_uris"), "redirect_uris", errors, required=kind == LOGIN)
    logout_uris = _uris(data.get("post_logout_redirect_uris"), "post_logout_redirect_uris", errors, required=False)
    if kind == SYSTEM and (redirect_uris or logout_uris):
        errors.setdefault("redirect_uris", []).append(
            "部门系统不用回调地址，请留空 / a department system has no redirect URIs")
    scopes = list(dict.fromkeys(str(s) for s in (data.get("scopes") or [])))
    allowed = USER_SCOPES if kind == LOGIN else SYSTEM_SCOPES
    wrong = [s for s in scopes if s not in allowed]
    if wrong:
        errors.setdefault("scopes", []).append(
            f"该类应用不能使用这些权限：{'、'.join(wrong)} / scopes not available to this kind: {' '.join(wrong)}")
    if kind == LOGIN and "openid" not in scopes:
        errors.setdefault("scopes", []).append("登录类应用须包含 openid / sign-in clients need the openid scope")
    if kind == SYSTEM and not scopes:
        errors.setdefault("scopes", []).append("请至少选择一项权限 / choose at least one scope")
    if "introspection" in scopes and client_type != Application.CLIENT_CONFIDENTIAL:
        errors.setdefault("scopes", []).append("令牌核验仅限机密客户端 / introspection needs a confidential client")
    if errors:
        raise ValidationFailed(INVALID, fields=errors)
    return {"name": name, "description": description, "redirect_uris": redirect_uris,
            "post_logout_redirect_uris": logout_uris, "scopes": [s for s in allowed if s in scopes]}


def _check_model(application: Application) -> None:
    try:
        application.clean()
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        raise ValidationFailed(INVALID, fields=fields) from None


# ----------------------------------------------------------------------------- use cases
@transaction.atomic
def register_client(user, data: dict[str, Any]) -> tuple[Application, str]:
    """登记接入应用. Returns the client and its secret in clear text (empty for public clients):
    the only moment the secret can be read."""
    _require_platform_admin(user)
    kind, client_type = str(data.get("kind") or ""), str(data.get("client_type") or "")
    cd = _clean(data, kind=kind, client_type=client_type, current=None)
    # A public client never uses a secret; it still gets an unknown random one, so that an
    # empty secret can never match.
    stored = generate_client_secret()
    secret = stored if client_type == Application.CLIENT_CONFIDENTIAL else ""
    application = Application(
        name=cd["name"], client_type=client_type, authorization_grant_type=KINDS[kind],
        redirect_uris=" ".join(cd["redirect_uris"]), post_logout_redirect_uris=" ".join(cd["post_logout_redirect_uris"]),
        client_secret=stored, hash_client_secret=True, skip_authorization=False,
        algorithm=Application.RS256_ALGORITHM if kind == LOGIN else Application.NO_ALGORITHM)
    _check_model(application)
    application.save()
    ClientPolicy.objects.create(application=application, allowed_scopes=cd["scopes"],
                                description=cd["description"], created_by=user)
    audit.record("identity.oidc_client.create", "Application", application.client_id,
                 after=snapshot(application), actor=audit.actor_name(user))
    return application, secret


def _locked(application: Application) -> Application:
    """The client and its policy, locked against a concurrent change."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    locked.policy = ClientPolicy.objects.select_for_update().get(application_id=locked.pk)
    return locked


@transaction.atomic
def update_client(user, application: Application, data: dict[str, Any]) -> Application:
    """修改接入应用: name, description, redirect URIs and scopes. The kind and client type are
    fixed at registration (register a new client to change them)."""
    _require_platform_admin(user)
    application = _locked(application)
    before = snapshot(application)
    cd = _clean(data, kind=kind_of(application), client_type=application.client_type, current=application)
    application.name = cd["name"]
    application.redirect_uris = " ".join(cd["redirect_uris"])
    application.post_logout_redirect_uris = " ".join(cd["post_logout_redirect_uris"])
    _check_model(application)
    application.save()
    policy = application.policy
    policy.allowed_scopes, policy.description = cd["scopes"], cd["description"]
    policy.save(update_fields=["allowed_scopes", "description"])
    audit.record("identity.oidc_client.update", "Application", application.client_id, before=before,
                 after=snapshot(application), actor=audit.actor_name(user))
    return application


@transaction.atomic
def rotate_secret(user, application: Application) -> str:
    """更换密钥: the old secret stops working at once. Returns the new one (shown once)."""
    _require_platform_admin(user)
    application = _locked(application)
    if application.client_type != Application.CLIENT_CONFIDENTIAL:
        raise StateError("公开客户端没有密钥 / a public client has no secret")
    secret = generate_client_secret()
    application.client_secret = secret
    application.save()
    application.policy.secret_rotated_at = timezone.now()
    application.policy.save(update_fields=["secret_rotated_at"])
    audit.record("identity.oidc_client.rotate_secret", "Application", application.client_id,
                 actor=audit.actor_name(user))
    return secret


def _revoke_tokens(application: Application) -> int:
    RefreshToken.objects.filter(application=application, revoked__isnull=True).update(revoked=timezone.now())
    Grant.objects.filter(application=application).delete()
    deleted, _ = AccessToken.objects.filter(application=application).delete()
    return deleted


@transaction.atomic
def disable_client(user, application: Application, *, reason: str = "") -> Application:
    """停用: no new sign-ins or tokens, and every token it holds is revoked."""
    _require_platform_admin(user)
    application = _locked(application)
    policy = application.policy
    if not policy.is_active:
        raise StateError("该应用已停用 / the client is already disabled")
    reason = (reason or "").strip()[:200]
    policy.is_active, policy.disabled_at = False, timezone.now()
    policy.save(update_fields=["is_active", "disabled_at"])
    revoked = _revoke_tokens(application)
    audit.record("identity.oidc_client.disable", "Application", application.client_id,
                 detail={"reason": reason, "tokens_revoked": revoked}, actor=audit.actor_name(user))
    return application


@transaction.atomic
def enable_client(user, application: Application) -> Application:
    _require_platform_admin(user)
    application = _locked(application)
    policy = application.policy
    if policy.is_active:
        raise StateError("该应用已在用 / the client is already enabled")
    policy.is_active, policy.disabled_at = True, None
    policy.save(update_fields=["is_active", "disabled_at"])
    audit.record("identity.oidc_client.enable", "Application", application.client_id, actor=audit.actor_name(user))
    return application
