"""The provider's own pages and endpoints, where they differ from django-oauth-toolkit's.

- Consent (同意授权): names the application, the scopes in plain words and, when the person is
  acting for an enterprise, which one; records the consent in the audit trail and hands the
  acting enterprise to the validator (``yiwang.identity.oidc``).
- Discovery: adds the introspection and revocation endpoints and the grant types.
- Introspection (RFC 7662): a client may look at its own tokens; a resource server (a client
  allowed the ``introspection`` scope) at any. The answer names the subject pairwise, never
  the username.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from urllib.parse import unquote_plus

from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView, RPInitiatedLogoutView

from yiwang.core import audit
from yiwang.core.masking import mask_name
from yiwang.identity import oidc
from yiwang.identity.oidc import YiwangValidator


class ConsentView(AuthorizationView):
    template_name = "oauth2_provider/authorize.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        descriptions = oauth2_settings.SCOPES
        context["scope_items"] = [{"name": s, "text": descriptions.get(s, s)} for s in kwargs.get("scopes", [])]
        context["acting"] = getattr(self.request, "acting", None)
        user = self.request.user
        person = getattr(user, "person", None) if user.is_authenticated else None
        context["who"] = mask_name(person.name) if person is not None else user.get_username()
        return context

    def create_authorization_response(self, request, scopes, credentials, allow):
        if allow:
            # The validator binds it to the code (only when the "enterprise" scope is granted).
            credentials["acting_enterprise"] = getattr(request, "acting", None)
        result = super().create_authorization_response(request, scopes, credentials, allow)
        enterprise = credentials.get("acting_enterprise")
        with audit.acting_as(audit.actor_name(request.user), f"enterprise:{enterprise.uscc}" if enterprise else ""):
            audit.record("identity.oidc.consent", "Application", credentials.get("client_id", ""),
                         detail={"scopes": scopes.split() if isinstance(scopes, str) else list(scopes or []),
                                 "acting_for": enterprise.uscc if enterprise else ""})
        return result


class DiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["introspection_endpoint"] = request.build_absolute_uri("/o/introspect/")
        data["revocation_endpoint"] = request.build_absolute_uri("/o/revoke_token/")
        data["grant_types_supported"] = ["authorization_code", "refresh_token", "client_credentials"]
        data["acr_values_supported"] = ["L1", "L2", "L3"]
        data["token_endpoint_auth_methods_supported"] = ["client_secret_basic", "client_secret_post", "none"]
        data["service_documentation"] = request.build_absolute_uri("/api/docs/")
        data["ui_locales_supported"] = ["zh-CN"]
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out


class LogoutView(RPInitiatedLogoutView):
    def form_valid(self, form):
        if not form.cleaned_data.get("allow"):
            return redirect("/")  # "暂不退出": stay signed in
        return super().form_valid(form)

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        user = token_user or self.request.user
        if getattr(user, "is_authenticated", False):
            with audit.acting_as(audit.actor_name(user)):
                audit.record("identity.oidc.logout", "Application", application.client_id if application else "",
                             detail={"redirect": bool(post_logout_redirect_uri)})
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)


def _error(status: int, error: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="yiwang", Bearer realm="yiwang"'
    response["Cache-Control"] = "no-store"
    return response


def _token(value: str) -> AccessToken | None:
    checksum = hashlib.sha256(value.encode("utf-8")).hexdigest()
    # No ORDER BY (as .first() would add): the look-up stays on the checksum index.
    rows = AccessToken.objects.select_related("application__policy", "user").filter(token_checksum=checksum)[:1]
    return next(iter(rows), None)


def _client_from_credentials(request) -> Application | None:
    """The confidential client authenticating with HTTP Basic or client_id/client_secret in the body."""
    client_id = client_secret = None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
            client_id, client_secret = (unquote_plus(p) for p in decoded.split(":", 1))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    elif request.POST.get("client_id") and request.POST.get("client_secret"):
        client_id, client_secret = request.POST["client_id"], request.POST["client_secret"]
    if not client_id or not client_secret:
        return None
    app = Application.objects.select_related("policy").filter(client_id=client_id).first()
    if app is None or app.client_type != Application.CLIENT_CONFIDENTIAL or not oidc.is_enabled(app):
        return None
    return app if YiwangValidator()._check_secret(client_secret, app.client_secret) else None


def _client_from_bearer(request) -> Application | None:
    """A resource server presenting its own access token with the ``introspection`` scope."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        return None
    token = _token(header[7:].strip())
    if token is None or not token.is_valid(["introspection"]) or not oidc.is_enabled(token.application):
        return None
    return token.application


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(View):
    http_method_names = ("post",)

    def post(self, request, *args, **kwargs):
        caller = _client_from_bearer(request) or _client_from_credentials(request)
        if caller is None:
            return _error(401, "invalid_client", "客户端认证失败 / client authentication failed")
        value = request.POST.get("token", "")
        if not value:
            return _error(400, "invalid_request", "缺少 token 参数 / the token parameter is missing")
        token = _token(value)
        inactive = JsonResponse({"active": False}, headers={"Cache-Control": "no-store"})
        if token is None or not token.is_valid() or not oidc.is_enabled(token.application):
            return inactive
        if token.application_id != caller.pk and "introspection" not in oidc.allowed_scopes(caller):
            return inactive
        data = {"active": True, "scope": token.scope, "client_id": token.application.client_id,
                "token_type": "Bearer", "exp": int(token.expires.timestamp()), "iat": int(token.created.timestamp())}
        if token.user is not None:
            data["sub"] = oidc.pairwise_subject(token.user, token.application.client_id)
        return JsonResponse(data, headers={"Cache-Control": "no-store"})
