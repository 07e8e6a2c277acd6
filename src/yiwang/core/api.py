"""Region and organisation endpoints (read-only, public)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from yiwang.core.api_base import ErrorSerializer, validated
from yiwang.core.models import Organization, Region
from yiwang.core.validators import InvalidCode, check_division_code, division_prefix

BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="查询参数有误 / invalid query parameters")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="未找到 / not found")


def division_code_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=12,
                                 validators=[_check_division], **kwargs)


def _check_division(value: str) -> None:
    if value:
        try:
            check_division_code(value)
        except InvalidCode as exc:
            raise serializers.ValidationError(str(exc)) from None


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="上级区划代码")
    level_name = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Region
        fields = ["code", "name", "level", "level_name", "parent"]


class RegionQuery(serializers.Serializer):
    parent = division_code_field(help_text="上级区划代码（12位）：只列其直接下级 / direct children of this division")
    level = serializers.ChoiceField(choices=Region.Level.choices, required=False,
                                    help_text="层级：1省 2市 3区县 4乡镇街道 5村社区 / level 1–5")


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="uscc", read_only=True, help_text="上级机构信用代码")
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="服务区域区划代码")
    kind_name = serializers.CharField(source="get_kind_display", read_only=True)
    nature_name = serializers.CharField(source="get_nature_display", read_only=True)

    class Meta:
        model = Organization
        fields = ["uscc", "name", "short_name", "kind", "kind_name", "nature", "nature_name", "department_code",
                  "parent", "region", "address", "phone"]


class OrganizationQuery(serializers.Serializer):
    region = division_code_field(
        help_text="区划代码（12位）：该区划及其下级区划的机构 / organisations in this division and below")


@extend_schema_view(
    list=extend_schema(summary="行政区划列表 / list regions", parameters=[RegionQuery],
                       responses={200: RegionSerializer(many=True), 400: BAD_REQUEST}),
    retrieve=extend_schema(summary="行政区划 / one region", responses={200: RegionSerializer, 404: NOT_FOUND}),
)
class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """行政区划: the five levels, by 12-digit division code. Filter with ``parent`` or ``level``."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    lookup_field = "code"

    def get_queryset(self) -> QuerySet:
        qs = Region.objects.select_related("parent").only("code", "name", "level", "parent__code").order_by("code")
        if self.action != "list":
            return qs
        query = validated(lambda: RegionQuery(data=self.request.query_params)).validated_data
        if query.get("parent"):
            qs = qs.filter(parent__code=query["parent"])
        if query.get("level"):
            qs = qs.filter(level=query["level"])
        return qs


@extend_schema_view(
    list=extend_schema(summary="组织机构列表 / list organisations", parameters=[OrganizationQuery],
                       responses={200: OrganizationSerializer(many=True), 400: BAD_REQUEST}),
    retrieve=extend_schema(summary="组织机构 / one organisation",
                           responses={200: OrganizationSerializer, 404: NOT_FOUND}),
)
class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """组织机构 by unified social credit code. Filter with ``region`` (and everything below it)."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    lookup_field = "uscc"

    def get_queryset(self) -> QuerySet:
        qs = Organization.objects.filter(is_active=True).select_related("parent", "region").order_by("uscc")
        if self.action != "list":
            return qs
        query = validated(lambda: OrganizationQuery(data=self.request.query_params)).validated_data
        if query.get("region"):
            qs = qs.filter(region__prefix__startswith=division_prefix(query["region"]))
        return qs
