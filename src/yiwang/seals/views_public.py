"""Public key publication: the JWKS and the root CA certificate (cacheable, no login)."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from yiwang.seals import ca, signing

# Caches may keep these a few minutes: a newly created key appears (and a destroyed one goes) within that time.
_MAX_AGE = 300


@require_GET
@cache_control(public=True, max_age=_MAX_AGE)
def jwks(request):
    return JsonResponse(signing.jwks(), content_type="application/jwk-set+json")


@require_GET
@cache_control(public=True, max_age=_MAX_AGE)
def root_ca(request):
    response = HttpResponse(ca.root_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="yiwang-root-ca.pem"'
    return response
