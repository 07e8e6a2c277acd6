"""Certificate API: public verification (``POST /api/v1/certificates/verify/``).

Anyone may verify; requests are rate-limited per client address like the sign-in pages. The
answer always has a ``result`` — valid, revoked, suspended, expired, forged, unknown_key,
malformed or not_found — and a ``reason``; personal data is masked.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from yiwang.certificates import payload, services
from yiwang.certificates.views_portal import limited
from yiwang.core.api_base import ErrorSerializer, validated


class VerifyRequest(serializers.Serializer):
    payload = serializers.CharField(required=False, allow_blank=True, max_length=4000,
                                    help_text="二维码内容（YWC1.…）或扫码得到的核验网址 / QR payload or verification URL")
    identifier = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                       help_text="证照标识 / certificate identifier (GB/T 36904)")

    def validate(self, attrs):
        if not (attrs.get("payload") or "").strip() and not (attrs.get("identifier") or "").strip():
            raise serializers.ValidationError({"payload": ["请提供二维码内容或证照标识 / give a payload or an identifier"]})
        return attrs


class KeyField(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class VerifyResponse(serializers.Serializer):
    result = serializers.ChoiceField(choices=list(payload.Outcome.LABELS))
    result_label = serializers.CharField()
    reason = serializers.CharField()
    identifier = serializers.CharField(allow_blank=True)
    type_code = serializers.CharField(allow_blank=True)
    type_name = serializers.CharField(allow_blank=True)
    holder = serializers.CharField(allow_blank=True, help_text="持证主体（自然人脱敏）/ holder, masked for persons")
    key_fields = KeyField(many=True)
    issuer = serializers.CharField(allow_blank=True)
    issued_on = serializers.CharField(allow_blank=True)
    valid_from = serializers.CharField(allow_blank=True)
    valid_to = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_blank=True, help_text="01 有效 02 暂扣 03 撤销 04 注销 05 失效 07 吊销")
    status_label = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField(allow_null=True)
    signature_checked = serializers.BooleanField()


class CertificateViewSet(viewsets.ViewSet):
    """电子证照核验."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="核验电子证照 / verify a certificate", request=VerifyRequest,
        responses={200: VerifyResponse, 400: OpenApiResponse(ErrorSerializer, description="缺少内容 / nothing given"),
                   429: OpenApiResponse(ErrorSerializer, description="请求过于频繁 / rate limited")},
        description="提交二维码内容或证照标识，返回 valid / revoked / suspended / expired / forged / unknown_key / "
                    "malformed / not_found 之一及原因；在线状态优先于二维码内容。")
    @action(detail=False, methods=["post"], url_path="verify")
    def verify(self, request):
        if limited(request._request):
            return Response({"detail": "请求过于频繁，请稍后再试 / too many requests", "code": "rate_limited",
                             "fields": {}}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        data = validated(lambda: VerifyRequest(data=request.data)).validated_data
        result = services.verify(qr=data.get("payload", ""), identifier=data.get("identifier", ""))
        return Response(result.as_dict())
