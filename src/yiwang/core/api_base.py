"""API plumbing shared by every app: pagination and one error format.

Kept apart from the viewsets because DRF imports these while it is itself being imported.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from yiwang.core.errors import DomainError


class Pagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data):
        return Response({"count": self.page.paginator.count, "page": self.page.number,
                         "pages": self.page.paginator.num_pages, "next": self.get_next_link(),
                         "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "properties": {
            "count": {"type": "integer"}, "page": {"type": "integer"}, "pages": {"type": "integer"},
            "next": {"type": "string", "nullable": True}, "previous": {"type": "string", "nullable": True},
            "results": schema}}


_EN = {400: "Invalid request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
       405: "Method not allowed", 409: "Conflict", 415: "Unsupported media type", 429: "Too many requests"}
_ZH = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "未找到", 405: "不支持该请求方法", 409: "操作冲突",
       415: "不支持的内容类型", 429: "请求过于频繁"}


def _flatten(detail, prefix="") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for k, v in detail.items():
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


def exception_handler(exc, context):
    """Every error as ``{"detail": "中文 / English", "code": ..., "fields": {field: [messages]}}``."""
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code, "fields": exc.fields}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    title = f"{_ZH.get(status, '请求失败')} / {_EN.get(status, 'Request failed')}"
    body = {"detail": title, "code": getattr(exc, "default_code", "error"), "fields": {}}
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = _flatten(response.data)
        body["detail"] = "填写有误，请按提示修改 / please correct the marked fields"
    elif isinstance(exc, exceptions.ParseError):
        body["detail"] = "请求内容不是有效的JSON / the request body is not valid JSON"
    elif isinstance(response.data, dict) and "detail" in response.data:
        body["detail"] = f"{title}：{response.data['detail']}" if status not in _ZH else title
    response.data = body
    return response
