"""API authentication with the provider's bearer tokens (``Authorization: Bearer …``).

A token issued to a department system by the client-credentials grant has no user: its
requests are anonymous (public reads), identified by ``request.auth`` (the access token).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AccessToken
from rest_framework.permissions import SAFE_METHODS, BasePermission


class BearerTokenAuthentication(OAuth2Authentication):
    www_authenticate_realm = "yiwang"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and result[0] is None:
            return AnonymousUser(), result[1]
        return result


class CatalogTokenScope(BasePermission):
    """A bearer token needs ``catalog.read`` to read drafts and ``catalog.write`` to change anything
    (``catalog.write`` includes reading); a token without a user (client credentials) neither.
    Session users are not affected; the organisation scoping of the token's user applies as for
    the pages."""

    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return True
        if token.user_id is None:
            self.message = ("部门系统的令牌（客户端凭证）只能读取公开信息 / a client-credentials token reads "
                            "public data only")
            return False
        granted = set(token.scope.split())
        if request.method in SAFE_METHODS:
            ok = bool(granted & {"catalog.read", "catalog.write"})
            self.message = "令牌缺少 catalog.read 权限 / the token lacks the catalog.read scope"
        else:
            ok = "catalog.write" in granted
            self.message = "令牌缺少 catalog.write 权限 / the token lacks the catalog.write scope"
        return ok


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer tokens in the OpenAPI document: OAuth 2 flows and scopes per operation."""

    target_class = "yiwang.identity.api_auth.BearerTokenAuthentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        if any(isinstance(p, CatalogTokenScope) for p in auto_schema.view.get_permissions()):
            return {self.name: ["catalog.read" if auto_schema.method in SAFE_METHODS else "catalog.write"]}
        return {self.name: []}

    def get_security_definition(self, auto_schema):
        from oauth2_provider.settings import oauth2_settings

        scopes = dict(oauth2_settings.SCOPES)
        return {"type": "oauth2",
                "description": "本平台签发的访问令牌（Authorization: Bearer …），见 docs/sso.md / access tokens of "
                               "this platform's OpenID provider",
                "flows": {"authorizationCode": {"authorizationUrl": "/o/authorize/", "tokenUrl": "/o/token/",
                                                "refreshUrl": "/o/token/", "scopes": scopes},
                          "clientCredentials": {"tokenUrl": "/o/token/",
                                                "scopes": {"catalog.read": scopes["catalog.read"]}}}}
