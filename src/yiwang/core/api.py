"""Region and organisation endpoints."""

from __future__ import annotations

from rest_framework import exceptions, mixins, serializers, viewsets

from yiwang.core.models import Organization, Region


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    level_name = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Region
        fields = ["code", "name", "level", "level_name", "parent"]


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="uscc", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    kind_name = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Organization
        fields = ["uscc", "name", "short_name", "kind", "kind_name", "nature", "department_code", "parent",
                  "region", "address", "phone"]


class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """行政区划: the five levels, by 12-digit division code. Filter with ``parent`` or ``level``."""

    serializer_class = RegionSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{12}"

    def get_queryset(self):
        qs = Region.objects.select_related("parent").order_by("code")
        parent = self.request.query_params.get("parent")
        level = self.request.query_params.get("level")
        if parent:
            qs = qs.filter(parent__code=parent)
        if level:
            if level not in {"1", "2", "3", "4", "5"}:
                raise exceptions.ValidationError({"level": ["层级应为1至5 / level must be 1–5"]})
            qs = qs.filter(level=int(level))
        return qs


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """组织机构 by unified social credit code. Filter with ``region`` (and everything below it)."""

    serializer_class = OrganizationSerializer
    lookup_field = "uscc"
    lookup_value_regex = r"[0-9A-Z]{18}"

    def get_queryset(self):
        from yiwang.core.validators import InvalidCode, check_division_code, division_prefix

        qs = Organization.objects.filter(is_active=True).select_related("parent", "region").order_by("uscc")
        region = self.request.query_params.get("region")
        if region:
            try:
                qs = qs.filter(region__code__startswith=division_prefix(check_division_code(region)))
            except InvalidCode as exc:
                raise exceptions.ValidationError({"region": [str(exc)]}) from None
        return qs
