"""授权用证 API: ``GET /api/v1/shared-certificates/`` (+ ``/{id}/``, ``/{id}/file/``) for OIDC clients.

A client authenticates with an access token from the client-credentials grant (``/o/token/``)
carrying the scope ``certificates:read``. It sees only the grants a holder made to it (``id`` is
the grant's id), while they are in force. Each read gives the purpose of use (``?purpose=``, at
most 200 characters; the grant's purpose when absent) and is logged for the holder to see — a
refused attempt too: no such grant or another party's grant → 404, revoked or expired grant or a
file the grant does not cover → 403, each with a bilingual ``detail``.
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from yiwang.certificates import grants
from yiwang.core.api_base import ErrorSerializer
from yiwang.core.errors import NotFound
from yiwang.identity.api_auth import BearerTokenAuthentication

SCOPE = "certificates:read"


class SharedCertificateScope(BasePermission):
    """A client-credentials token (no user) with ``certificates:read``."""

    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if token is None:
            return False
        if token.user_id is not None or not token.application_id:
            self.code = "not_a_client_token"
            self.message = "仅限应用以客户端凭证令牌访问 / only client-credentials tokens of an application may use this API"
            return False
        self.message = f"令牌缺少 {SCOPE} 权限 / the token lacks the {SCOPE} scope"
        return SCOPE in (token.scope or "").split()


class SharedRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", help_text="授权编号 / grant id")
    type_code = serializers.CharField(source="certificate.certificate_type.type_code")
    type_name = serializers.CharField(source="certificate.certificate_type.name")
    number = serializers.CharField(source="certificate.number")
    purpose = serializers.CharField(help_text="持证人授权的用证事由 / the purpose the holder granted for")
    scope = serializers.CharField(help_text="face：仅照面信息；face_file：照面信息和证照文件 / data only, or data and file")
    valid_until = serializers.DateField()


class FieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField()


class SharedDetailSerializer(SharedRowSerializer):
    identifier = serializers.CharField(source="certificate.identifier")
    holder_name = serializers.CharField(source="certificate.holder_name")
    holder_code_type = serializers.CharField(source="certificate.holder_code_type")
    issuer = serializers.CharField(source="certificate.issuing_organization.name")
    issuer_code = serializers.CharField(source="certificate.issuing_organization.uscc")
    issued_on = serializers.DateField(source="certificate.issued_on")
    valid_from = serializers.DateField(source="certificate.valid_from")
    valid_to = serializers.DateField(source="certificate.valid_to", allow_null=True)
    status = serializers.CharField(source="certificate.status", help_text="01 有效 02 暂扣 03 撤销 04 注销 05 失效 07 吊销")
    status_label = serializers.CharField(source="certificate.get_status_display")
    version = serializers.IntegerField(source="certificate.version")
    fields = serializers.SerializerMethodField(method_name="get_face_fields", help_text="照面信息 / the data fields")
    file_url = serializers.SerializerMethodField()

    def get_face_fields(self, g) -> list[dict]:
        cert = g.certificate
        labels = cert.certificate_type.field_labels()
        return [{"name": k, "label": labels.get(k, k), "value": str(v)} for k, v in cert.data.items()]

    def get_file_url(self, g) -> str:
        return f"/api/v1/shared-certificates/{g.pk}/file/" if g.includes_file and g.certificate.pdf else ""


GRANT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="授权编号 / grant id")
PURPOSE = OpenApiParameter("purpose", OpenApiTypes.STR, description="本次用证事由（≤200 字）/ purpose of this use")
ERRORS = {401: OpenApiResponse(ErrorSerializer, description="缺少或无效的令牌 / missing or invalid token"),
          403: OpenApiResponse(ErrorSerializer, description="权限范围不足、授权已撤销或已过期、授权不含文件 / scope "
                                                             "missing, grant revoked or expired, file not granted"),
          404: OpenApiResponse(ErrorSerializer, description="没有该授权 / no such grant for this client")}


class SharedCertificateViewSet(viewsets.ViewSet):
    """授权用证: certificates that holders let this application read."""

    authentication_classes = [BearerTokenAuthentication]
    lookup_value_regex = r"[0-9]+"  # so ``int(pk)`` always works
    permission_classes = [SharedCertificateScope]

    def _application(self, request):
        return request.auth.application

    @extend_schema(summary="授权给本应用的证照 / certificates granted to this client",
                   responses={200: SharedRowSerializer(many=True), **ERRORS})
    def list(self, request):
        rows = grants.list_for_client(self._application(request))
        return Response(SharedRowSerializer(rows, many=True).data)

    @extend_schema(summary="查看一张授权证照的照面信息 / read a granted certificate", parameters=[GRANT_ID, PURPOSE],
                   responses={200: SharedDetailSerializer, **ERRORS})
    def retrieve(self, request, pk=None):
        g = grants.open_for_client(self._application(request), int(pk), purpose=request.query_params.get("purpose", ""))
        return Response(SharedDetailSerializer(g).data)

    @extend_schema(summary="下载授权证照的签章 PDF / the signed PDF of a granted certificate", parameters=[GRANT_ID, PURPOSE],
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS})
    @action(detail=True, methods=["get"], url_path="file")
    def file(self, request, pk=None):
        g = grants.open_for_client(self._application(request), int(pk), purpose=request.query_params.get("purpose", ""),
                                   what=grants.What.FILE)
        cert = g.certificate
        if not cert.pdf:
            raise NotFound("证照文件不存在 / the certificate has no file")
        return FileResponse(cert.pdf.open("rb"), content_type="application/pdf",
                            filename=f"{cert.number}-{cert.version:03d}.pdf")
