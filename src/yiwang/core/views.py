"""Health probes and friendly error pages."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception:  # noqa: BLE001 — any database failure means not ready
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


def _error(request, status: int, title: str, text: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"{title} / {text}", "code": status}, status=status)
    return render(request, "error.html", {"status": status, "title": title, "text": text}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "请求有误", "Bad request")


def forbidden(request, exception=None):
    return _error(request, 403, "没有权限访问此页面", "Forbidden")


def not_found(request, exception=None):
    return _error(request, 404, "页面不存在", "Not found")


def server_error(request):
    return _error(request, 500, "系统繁忙，请稍后再试", "Server error")
