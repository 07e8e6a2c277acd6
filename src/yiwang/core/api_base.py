"""API plumbing shared by every app: pagination, bilingual validation and one error format.

Kept apart from the viewsets because DRF imports these while it is itself being imported.
Every error leaves the API as ``{"detail": "中文 / English", "code": ..., "fields": {field: [messages]}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.utils import translation
from rest_framework import exceptions, pagination, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from yiwang.core.errors import DomainError
from yiwang.core.i18n import pair_messages

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100


class ErrorSerializer(serializers.Serializer):
    """The one error body (documentation only)."""

    detail = serializers.CharField(help_text="中文 / English")
    code = serializers.CharField(help_text="机器可读的错误代码 / machine-readable code")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="按字段的错误信息 / messages per field")


# ----------------------------------------------------------------------------- bilingual validation
def validated(make: Callable[[], serializers.Serializer]) -> serializers.Serializer:
    """Validate a fresh serializer from ``make()``; on failure raise its errors in Chinese then English.

    The serializer is built again under English only when the first pass failed, so valid
    requests pay nothing extra.
    """
    with translation.override("zh-hans"):
        serializer = make()
        if serializer.is_valid():
            return serializer
        zh = serializer.errors
    with translation.override("en"):
        again = make()
        again.is_valid()
        en = again.errors
    raise exceptions.ValidationError(pair_messages(zh, en))


# ----------------------------------------------------------------------------- pagination
class Pagination(pagination.PageNumberPagination):
    """Numbered pages; a malformed ``page`` or ``page_size`` is a 400, never silently replaced."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            message = (f"每页条数应为1至{self.max_page_size}的整数 / page_size must be an integer "
                       f"from 1 to {self.max_page_size}")
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw not in (None, "") and not (raw.isdigit() and int(raw) >= 1):
            raise exceptions.ValidationError({self.page_query_param: [
                "页码应为正整数 / page must be a positive integer"]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            pages = self.django_paginator_class(queryset, self.get_page_size(request)).num_pages
            raise exceptions.ValidationError({self.page_query_param: [
                f"页码超出范围（共{pages}页） / page out of range ({pages} pages)"]}) from None

    def get_paginated_response(self, data):
        return Response({"count": self.page.paginator.count, "page": self.page.number,
                         "pages": self.page.paginator.num_pages, "next": self.get_next_link(),
                         "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["count", "page", "pages", "next", "previous", "results"],
                "properties": {
                    "count": {"type": "integer"}, "page": {"type": "integer"}, "pages": {"type": "integer"},
                    "next": {"type": "string", "format": "uri", "nullable": True},
                    "previous": {"type": "string", "format": "uri", "nullable": True},
                    "results": schema}}


# ----------------------------------------------------------------------------- errors
_EN = {400: "Invalid request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
       405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 415: "Unsupported media type",
       429: "Too many requests"}
_ZH = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "未找到", 405: "不支持该请求方法",
       406: "无法提供所要求的格式", 409: "操作冲突", 415: "不支持的内容类型", 429: "请求过于频繁"}


def _flatten(detail, prefix="") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for k, v in detail.items():
            if isinstance(k, int):  # a ListField child: service_objects[1]
                key = f"{prefix}[{k}]"
            elif k == "non_field_errors" and prefix:  # a nested list or object as a whole: materials
                key = prefix
            else:
                key = f"{prefix}.{k}" if prefix else str(k)
            out.update(_flatten(v, key))
    elif isinstance(detail, list) and detail and all(isinstance(x, (dict, list)) for x in detail):
        for i, v in enumerate(detail):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    elif isinstance(detail, list):
        out[prefix or "non_field_errors"] = [str(x) for x in detail]
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _bilingual(message: str, status: int) -> str:
    return message if "/ " in message else f"{message} / {_EN.get(status, 'Request failed')}"


def exception_handler(exc, context):
    """Every error as ``{"detail": "中文 / English", "code": ..., "fields": {field: [messages]}}``."""
    if isinstance(exc, DomainError):
        return Response({"detail": _bilingual(exc.message, exc.status), "code": exc.code, "fields": exc.fields},
                        status=exc.status)
    if isinstance(exc, IntegrityError):
        # Two requests raced past a uniqueness check: the loser is told to retry, not given a 500.
        logger.warning("integrity error answered as 409: %s", exc)
        return Response({"detail": "数据已被他人同时修改，请刷新后重试 / a concurrent change won; reload and retry",
                         "code": "conflict", "fields": {}}, status=409)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    title = f"{_ZH.get(status, '请求失败')} / {_EN.get(status, 'Request failed')}"
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    body = {"detail": title, "code": codes if isinstance(codes, str) else getattr(exc, "default_code", "error"),
            "fields": {}}
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = _flatten(response.data)
        body["code"] = "invalid"
        body["detail"] = "填写有误，请按提示修改 / please correct the marked fields"
    elif isinstance(exc, exceptions.ParseError):
        body["detail"] = "请求内容不是有效的JSON / the request body is not valid JSON"
    elif isinstance(exc, exceptions.NotAuthenticated):
        body["detail"] = "请先登录 / please sign in"
    elif isinstance(exc, exceptions.PermissionDenied) and "CSRF" in str(exc.detail):
        body["detail"] = ("CSRF校验失败：会话认证的写请求须带 X-CSRFToken 请求头 / CSRF check failed: "
                          "session-authenticated writes need the X-CSRFToken header")
        body["code"] = "csrf_failed"
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        body["detail"] = "请求内容类型应为 application/json / the request body must be application/json"
    response.data = body
    return response
