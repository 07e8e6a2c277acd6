"""Public certificate verification page (证照核验): scan a QR code, paste its content or type an identifier."""

from __future__ import annotations

import os

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_ratelimit.core import is_ratelimited

from yiwang.certificates import services

DEFAULT_RATE = "60/m"
LIMITED = "查询过于频繁，请稍后再试 / too many verifications, try again in a minute"


def verify_rate(group=None, request=None) -> str:
    """Per client address; ``YIWANG_CERT_VERIFY_RATE`` (setting or environment) changes it."""
    return getattr(settings, "YIWANG_CERT_VERIFY_RATE", None) or os.environ.get(
        "YIWANG_CERT_VERIFY_RATE", DEFAULT_RATE)


def limited(request) -> bool:
    """Count this verification against the client's address; True once over the rate."""
    return is_ratelimited(request, group="certificates.verify", key="ip", rate=verify_rate,
                          increment=True)


@never_cache
@csrf_protect
def verify(request):
    """GET ``?p=<payload>`` (what the QR code opens) or ``?id=<identifier>``; POST the form."""
    source = request.POST if request.method == "POST" else request.GET
    qr = (source.get("p") or "").strip()[:4000]
    identifier = (source.get("id") or "").strip()[:120]
    context = {"p": qr, "id": identifier, "result": None}
    if qr or identifier:
        if limited(request):
            return render(request, "certificates/verify.html", {**context, "rate_limited": LIMITED}, status=429)
        context["result"] = services.verify(qr=qr, identifier=identifier)
    elif request.method == "POST":
        context["error"] = "请粘贴二维码内容或输入证照标识 / paste the QR content or enter an identifier"
        return render(request, "certificates/verify.html", context, status=400)
    return render(request, "certificates/verify.html", context)
