"""OpenID Connect provider rules: subjects, claims, scopes and disabled clients.

django-oauth-toolkit runs the protocol; :class:`YiwangValidator` decides what it may say:

- ``sub`` is **pairwise**: each client sees its own stable identifier for a person, so two
  departments cannot join their records on it. For a citizen it is UUID5(person.subject,
  client_id) — ``person.subject`` is a random UUID that never leaves the platform. For other
  accounts (staff) the namespace is derived with the blind-index key from the user id.
- Claims by scope: ``openid`` → sub, acr, assurance_level; ``profile`` → name,
  preferred_username, id_number_masked (citizens) or organization (staff); ``phone`` → a masked
  phone_number; ``enterprise`` → acting_enterprise, when the person acted for one while
  authorising.
- A client may only ask for the scopes the platform allowed it (``ClientPolicy``); a disabled
  client can neither start a flow, get a token, nor use the tokens it already had.

The acting enterprise is read from the session when the person consents, bound to the
authorisation code, then to every access token issued from it and from its refresh tokens
(``ActingContext``); it is checked again whenever claims are produced, so a revoked agent
authorisation stops appearing at the next refresh.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from oauth2_provider.models import AbstractApplication, AccessToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from yiwang.core.crypto import index_key
from yiwang.core.masking import mask_id_number, mask_phone
from yiwang.identity.models import ActingContext, ClientPolicy, Enterprise, Person, StaffAccount

# Scopes a client of each kind may be allowed (docs/sso.md).
USER_SCOPES = ["openid", "profile", "phone", "enterprise", "catalog.read", "catalog.write"]
SYSTEM_SCOPES = ["catalog.read", "introspection", "cases:read", "cases:write", "certificates:read"]

_STAFF_NAMESPACE_CONTEXT = b"yiwang.oidc.pairwise.user"


def allowed_scopes(application) -> list[str]:
    """The scopes the platform lets ``application`` request; none when it is disabled."""
    policy = policy_of(application)
    if policy is None or not policy.is_active:
        return []
    known = oauth2_settings.SCOPES
    return [s for s in policy.allowed_scopes if s in known]


def policy_of(application) -> ClientPolicy | None:
    if application is None:
        return None
    try:
        return application.policy
    except ClientPolicy.DoesNotExist:
        return None


def is_enabled(application) -> bool:
    policy = policy_of(application)
    return policy is not None and policy.is_active


def pairwise_subject(user, client_id: str) -> str:
    """The subject identifier of ``user`` as the client ``client_id`` sees it (stable, unlinkable)."""
    person = _person(user)
    if person is not None:
        namespace = person.subject
    else:
        digest = hmac.new(index_key(), _STAFF_NAMESPACE_CONTEXT + b"|" + str(user.pk).encode(), hashlib.sha256)
        namespace = uuid.UUID(bytes=digest.digest()[:16])
    return str(uuid.uuid5(namespace, client_id))


def _person(user) -> Person | None:
    if user is None:
        return None
    try:
        return user.person
    except (Person.DoesNotExist, AttributeError):
        return None


def _staff(user) -> StaffAccount | None:
    if user is None:
        return None
    try:
        return user.staff
    except (StaffAccount.DoesNotExist, AttributeError):
        return None


def may_act_for(user, enterprise: Enterprise | None) -> bool:
    """Whether the person behind ``user`` may act for ``enterprise`` today."""
    if enterprise is None:
        return False
    from yiwang.identity.services_enterprise import can_act_for

    return can_act_for(_person(user), enterprise)


def user_claims(user, client_id: str, scopes, enterprise: Enterprise | None = None) -> dict[str, Any]:
    """Every claim about ``user`` that ``scopes`` release to the client ``client_id``."""
    scopes = set(scopes)
    claims: dict[str, Any] = {"sub": pairwise_subject(user, client_id)}
    person, staff = _person(user), _staff(user)
    if person is not None:
        claims["assurance_level"] = int(person.assurance_level)
        claims["acr"] = f"L{int(person.assurance_level)}"
    if "profile" in scopes:
        claims["preferred_username"] = user.get_username()
        if person is not None:
            claims["name"] = person.name
            claims["id_number_masked"] = mask_id_number(person.id_number)
        elif staff is not None:
            claims["name"] = staff.display_name or user.get_username()
            claims["organization"] = {"uscc": staff.organization.uscc, "name": staff.organization.name}
        else:
            claims["name"] = user.get_full_name() or user.get_username()
    if "phone" in scopes and person is not None:
        claims["phone_number"] = mask_phone(person.mobile)
        claims["phone_number_verified"] = True
    if "enterprise" in scopes and enterprise is not None and may_act_for(user, enterprise):
        claims["acting_enterprise"] = {"uscc": enterprise.uscc, "name": enterprise.name}
    return claims


CLAIMS_SUPPORTED = ["sub", "acr", "assurance_level", "name", "preferred_username", "id_number_masked",
                    "organization", "phone_number", "phone_number_verified", "acting_enterprise"]


class YiwangValidator(OAuth2Validator):
    # Claims are chosen by user_claims() from the granted scopes, not by this table.
    oidc_claim_scope = None

    # ------------------------------------------------------------------ clients
    def _load_application(self, client_id, request):
        application = super()._load_application(client_id, request)
        if application is not None and not is_enabled(application):
            request.client = None
            return None
        return application

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if not is_enabled(request.client):
            request.oauth2_error = {"error": "invalid_token", "error_description": "The client is disabled."}
            return False
        return True

    # ------------------------------------------------------------------ scopes
    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return bool(scopes) and set(scopes).issubset(allowed_scopes(client))

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        allowed = allowed_scopes(request.client)
        # A sign-in client that names no scope gets openid; a department system all it may have.
        return ["openid"] if "openid" in allowed else allowed

    # ------------------------------------------------------------------ acting enterprise
    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        enterprise = getattr(request, "acting_enterprise", None)
        if enterprise is not None and "enterprise" in request.scopes and may_act_for(request.user, enterprise):
            ActingContext.objects.create(grant=grant, enterprise=enterprise)
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        valid = super().validate_code(client_id, code, client, request, *args, **kwargs)
        if valid:
            context = (ActingContext.objects.select_related("enterprise")
                       .filter(grant__code=code, grant__application=client).first())
            request.acting_enterprise = context.enterprise if context else None
        return valid

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if valid:
            rt = request.refresh_token_instance
            request.acting_enterprise = _acting_for_token(rt.access_token_id) if rt.access_token_id else None
        return valid

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        enterprise = getattr(request, "acting_enterprise", None)
        if enterprise is not None and may_act_for(access_token.user, enterprise):
            ActingContext.objects.create(access_token=access_token, enterprise=enterprise)
        return access_token

    # ------------------------------------------------------------------ claims
    def get_additional_claims(self, request):
        enterprise = getattr(request, "acting_enterprise", None)
        if enterprise is None and isinstance(getattr(request, "access_token", None), AccessToken):
            enterprise = _acting_for_token(request.access_token.pk)
        return user_claims(request.user, request.client.client_id, request.scopes, enterprise)

    def get_userinfo_claims(self, request):
        return self.get_oidc_claims(request.access_token, None, request)

    def get_discovery_claims(self, request):
        return list(CLAIMS_SUPPORTED)


def _acting_for_token(access_token_id) -> Enterprise | None:
    if not access_token_id:
        return None
    context = ActingContext.objects.select_related("enterprise").filter(access_token_id=access_token_id).first()
    return context.enterprise if context else None


def client_kind(application) -> str:
    """"system" for a department system (client credentials), "login" for sign-in clients."""
    if application.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS:
        return "system"
    return "login"
