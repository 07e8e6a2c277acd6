"""Catalog API: themes, the public list and guide of published items, and the staff workflow.

Reads of published items are public. Writes and drafts belong to the catalog administrators of
the implementing organisation (and its parents); everything that changes state goes through
``yiwang.catalog.services``, whose domain errors the shared exception handler turns into 4xx.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from yiwang.catalog import codes, search, services
from yiwang.catalog.models import BasicItem, ItemVersion, Material, SearchEntry, ServiceItem, Theme
from yiwang.core.api_base import ErrorSerializer, validated
from yiwang.core.errors import NotFound, StateError
from yiwang.core.models import Organization
from yiwang.core.validators import InvalidCode, check_basic_code, check_division_code, check_uscc
from yiwang.identity.api_auth import CatalogTokenScope
from yiwang.identity.totp import SecondFactorForStaffSession

SMALL_INT = 32767
MAX_TEXT = 20000
LIMIT_DAYS = 3650


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_REQUEST = _error("填写或参数有误（按字段列出）/ invalid input, per field")
NOT_SIGNED_IN = _error("未登录或CSRF校验失败 / not signed in, or CSRF check failed")
FORBIDDEN = _error("无权管理该机构的事项 / not allowed for this organisation")
NOT_FOUND = _error("事项或版本不存在，或不在本人管理范围内 / not found or not yours to manage")
CONFLICT = _error("状态不允许该操作，或已被他人修改 / wrong state or a concurrent change")
UNSUPPORTED = _error("请求内容类型应为 application/json / body must be JSON")


# ============================================================================= read serializers
class ThemeSerializer(serializers.ModelSerializer):
    audience_label = serializers.CharField(source="get_audience_display", read_only=True)

    class Meta:
        model = Theme
        fields = ["code", "name", "audience", "audience_label", "description"]


class ThemeQuery(serializers.Serializer):
    audience = serializers.ChoiceField(choices=Theme.Audience.choices, required=False,
                                       help_text="person 个人办事 / legal 法人办事")


class OrganizationRefSerializer(serializers.Serializer):
    uscc = serializers.CharField()
    name = serializers.CharField()


class RegionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


def item_url(request, implementation_code: str) -> str:
    return reverse("item-detail", kwargs={"implementation_code": implementation_code}, request=request)


def guide_url(request, implementation_code: str) -> str:
    """The portal's 办事指南 page of the item (same published version as the API)."""
    path = f"/items/{implementation_code}/"
    return request.build_absolute_uri(path) if request is not None else path


class ItemRowSerializer(serializers.Serializer):
    """One row of the item list, read from the search index and the published version."""

    implementation_code = serializers.CharField(source="item.implementation_code")
    basic_code = serializers.CharField(source="item.basic_item.basic_code")
    name = serializers.CharField(source="version.name")
    item_type = serializers.CharField(source="version.item_type")
    item_type_label = serializers.CharField(source="version.get_item_type_display")
    organization = OrganizationRefSerializer()
    region = serializers.CharField(source="region_code", help_text="实施区域区划代码")
    online_level = serializers.IntegerField(source="version.online_level")
    online_level_label = serializers.CharField(source="version.get_online_level_display")
    promised_limit_days = serializers.IntegerField(source="version.promised_limit_days")
    statutory_limit_days = serializers.IntegerField(source="version.statutory_limit_days")
    visits = serializers.IntegerField(source="version.visits")
    service_objects = serializers.ListField(child=serializers.CharField(), source="version.service_objects")
    version = serializers.IntegerField(source="version.number")
    url = serializers.SerializerMethodField()
    guide_url = serializers.SerializerMethodField()

    def get_url(self, entry: SearchEntry) -> str:
        return item_url(self.context.get("request"), entry.item.implementation_code)

    def get_guide_url(self, entry: SearchEntry) -> str:
        return guide_url(self.context.get("request"), entry.item.implementation_code)


def item_rows(request, entries) -> list[dict]:
    """``ItemRowSerializer(entries, many=True).data`` built directly: the same keys and values
    (tests compare them) at a fraction of the per-field cost of a serializer."""
    marker = "__code__"
    detail = item_url(request, marker)
    guide = guide_url(request, marker)

    def num(value):
        return None if value is None else int(value)

    rows = []
    for e in entries:
        v, code = e.version, e.item.implementation_code
        rows.append({
            "implementation_code": code, "basic_code": e.item.basic_item.basic_code, "name": v.name,
            "item_type": v.item_type, "item_type_label": str(v.get_item_type_display()),
            "organization": {"uscc": e.organization.uscc, "name": e.organization.name},
            "region": e.region_code, "online_level": num(v.online_level),
            "online_level_label": str(v.get_online_level_display()),
            "promised_limit_days": num(v.promised_limit_days), "statutory_limit_days": num(v.statutory_limit_days),
            "visits": num(v.visits), "service_objects": [str(o) for o in v.service_objects or []],
            "version": num(v.number), "url": detail.replace(marker, code), "guide_url": guide.replace(marker, code),
        })
    return rows


# Only the columns a list row shows: never the index document or its tokens.
ROW_COLUMNS = [
    "item", "version", "organization", "region_code", "version__online_level",
    "item__implementation_code", "item__basic_item", "item__basic_item__basic_code",
    "version__name", "version__number", "version__item_type", "version__promised_limit_days",
    "version__statutory_limit_days", "version__visits", "version__service_objects",
    "organization__uscc", "organization__name",
]


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class FacetsSerializer(serializers.Serializer):
    type = FacetValueSerializer(many=True)
    depth = FacetValueSerializer(many=True)
    object = FacetValueSerializer(many=True)
    organization = FacetValueSerializer(many=True)
    theme = FacetValueSerializer(many=True)
    region = FacetValueSerializer(many=True)


class ItemPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="匹配事项数；count_exact 为 false 时为下限（更多事项匹配，只可翻到此处）/ matching items; "
                  "a lower bound when count_exact is false (more match; pages end here)")
    count_exact = serializers.BooleanField(
        help_text=f"false：关键词匹配超过{search.COUNT_CAP}项，count 只计到此数，分面只统计其中前{search.COUNT_CAP}项 / "
                  f"false: more than {search.COUNT_CAP} items match the keywords; count stops there and facets "
                  f"count the first {search.COUNT_CAP} of them")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ItemRowSerializer(many=True)
    facets = FacetsSerializer(required=False, help_text="仅当 facets=true 时返回 / only with facets=true")


class MaterialSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    media_label = serializers.CharField(source="get_media_display", read_only=True)
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    blank_form = serializers.SerializerMethodField(help_text="空白表格下载地址 / blank form URL")
    sample = serializers.SerializerMethodField(help_text="示例样表下载地址 / sample URL")

    class Meta:
        model = Material
        fields = ["id", "order", *services.MATERIAL_FIELDS, "kind_label", "media_label", "source_label",
                  "blank_form", "sample"]

    def _url(self, file) -> str | None:
        if not file:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(file.url) if request else file.url

    def get_blank_form(self, obj: Material) -> str | None:
        return self._url(obj.blank_form)

    def get_sample(self, obj: Material) -> str | None:
        return self._url(obj.sample)


GUIDE_FIELDS = [
    "implementation_code", "basic_code", "version", "organization", "region", *services.VERSION_FIELDS,
    "online_level", "process_steps", "item_type_label", "exercise_level_label", "power_source_label",
    "case_type_label", "scope_label", "result_type_label", "online_level_label", "service_objects_labels",
    "handling_forms_labels", "online_depth_labels", "themes", "materials", "published_at", "url", "guide_url",
]
WORKFLOW_FIELDS = ["status", "status_label", "lock_version", "change_note", "created_at", "updated_at",
                   "submitted_at", "reviewed_at", "review_opinion"]


def _labels(method: str | None = None) -> serializers.ListField:
    """The labels of a multi-valued code field, from the model's ``*_labels`` method."""
    return serializers.ListField(child=serializers.CharField(), read_only=True,
                                 **({"source": method} if method else {}))


class VersionSerializer(serializers.ModelSerializer):
    """办事指南: every element of one version, with the labels of coded values."""

    implementation_code = serializers.CharField(source="item.implementation_code", read_only=True)
    basic_code = serializers.CharField(source="item.basic_item.basic_code", read_only=True)
    organization = OrganizationRefSerializer(source="item.organization", read_only=True)
    region = RegionRefSerializer(source="item.region", read_only=True)
    version = serializers.IntegerField(source="number", read_only=True)
    service_objects = serializers.ListField(child=serializers.CharField(), read_only=True)
    handling_forms = serializers.ListField(child=serializers.CharField(), read_only=True)
    online_depth = serializers.ListField(child=serializers.CharField(), read_only=True)
    process_steps = serializers.ListField(child=serializers.CharField(), read_only=True)
    item_type_label = serializers.CharField(source="get_item_type_display", read_only=True)
    exercise_level_label = serializers.CharField(source="get_exercise_level_display", read_only=True)
    power_source_label = serializers.CharField(source="get_power_source_display", read_only=True)
    case_type_label = serializers.CharField(source="get_case_type_display", read_only=True)
    scope_label = serializers.CharField(source="get_scope_display", read_only=True)
    result_type_label = serializers.CharField(source="get_result_type_display", read_only=True)
    online_level_label = serializers.CharField(source="get_online_level_display", read_only=True)
    service_objects_labels = _labels("service_object_labels")
    handling_forms_labels = _labels("handling_form_labels")
    online_depth_labels = _labels()
    themes = ThemeSerializer(many=True, read_only=True)
    materials = MaterialSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()
    guide_url = serializers.SerializerMethodField()

    class Meta:
        model = ItemVersion
        fields = GUIDE_FIELDS

    def get_url(self, version: ItemVersion) -> str:
        return item_url(self.context.get("request"), version.item.implementation_code)

    def get_guide_url(self, version: ItemVersion) -> str:
        return guide_url(self.context.get("request"), version.item.implementation_code)


class StaffVersionSerializer(VersionSerializer):
    """A version as its administrators see it: workflow state included."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta(VersionSerializer.Meta):
        fields = [*GUIDE_FIELDS[:3], *WORKFLOW_FIELDS, *GUIDE_FIELDS[3:]]


class VersionSummarySerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number")
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = ItemVersion
        fields = ["version", "status", "status_label", "name", "lock_version", "change_note", "created_at",
                  "submitted_at", "reviewed_at", "review_opinion", "published_at"]


class DiffEntrySerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()
    lines = serializers.ListField(child=serializers.CharField())


class RetiredItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceItem
        fields = ["implementation_code", "state", "retired_at", "retired_reason"]


# ============================================================================= query serializers
class ItemQuery(serializers.Serializer):
    """Query parameters of the item list. Every value is checked: a bad one is a 400, never ignored."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                              help_text="关键词（事项名称、俗称、材料…）/ keywords")
    region = serializers.CharField(required=False, allow_blank=True, max_length=12,
                                   help_text="区划代码（12位），含下级 / division code, including below")
    organization = serializers.CharField(required=False, allow_blank=True, max_length=18,
                                         help_text="实施机构统一社会信用代码 / implementing organisation USCC")
    type = serializers.ChoiceField(choices=codes.ItemType.choices, required=False,
                                   help_text="事项类型代码 / item type code")
    theme = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="主题代码 / theme code")
    object = serializers.ChoiceField(choices=[("person", "个人"), ("legal", "法人")], required=False,
                                     help_text="服务对象 / person or legal entity")
    depth = serializers.IntegerField(required=False, min_value=1, max_value=4,
                                     help_text="网办深度等级1–4 / online level")
    facets = serializers.BooleanField(required=False, default=False,
                                      help_text="true 时返回分面统计 / add facet counts")
    page = serializers.IntegerField(required=False, min_value=1, help_text="页码 / page number")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                         help_text="每页条数（≤100）/ page size")

    def validate_region(self, value: str) -> str:
        if value:
            try:
                return check_division_code(value)
            except InvalidCode as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_organization(self, value: str) -> str:
        if value:
            try:
                return check_uscc(value)
            except InvalidCode as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_theme(self, value: str) -> str:
        if value and not Theme.objects.filter(code=value).exists():
            raise serializers.ValidationError("没有这个主题 / unknown theme")
        return value

    def filters(self) -> search.Filters:
        data = self.validated_data
        org_id = None
        if data.get("organization"):
            # A well-formed code nobody uses matches nothing: -1 is never an id.
            org_id = Organization.objects.filter(uscc=data["organization"]).values_list("id", flat=True).first() or -1
        return search.Filters(region=data.get("region", ""), organization=org_id, item_type=data.get("type", ""),
                              theme=data.get("theme", ""), object=data.get("object", ""), depth=data.get("depth"))


def _public_facets(facets: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Facet values as the filters take them: organisations by credit code, not database id."""
    ids = [row["value"] for row in facets.get("organization", [])]
    uscc = dict(Organization.objects.filter(id__in=ids).values_list("id", "uscc"))
    facets["organization"] = [{**row, "value": uscc.get(row["value"], "")} for row in facets.get("organization", [])]
    for row in facets.get("depth", []):
        row["value"] = str(row["value"])
    return facets


class DiffQuery(serializers.Serializer):
    a = serializers.IntegerField(min_value=1, help_text="旧版本号 / older version number")
    b = serializers.IntegerField(min_value=1, help_text="新版本号 / newer version number")


# ============================================================================= write serializers
class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, so a misspelt field is reported instead of dropped."""

    def to_internal_value(self, data):
        unknown = {k: ["未知字段 / unknown field"] for k in sorted(set(data) - set(self.fields))} \
            if isinstance(data, dict) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class MaterialInput(StrictSerializer, serializers.ModelSerializer):
    id = serializers.IntegerField(required=False, help_text="保留原有材料的空白表格和样表时填写其 id / keep the files "
                                                             "of an existing material")

    class Meta:
        model = Material
        fields = ["id", *services.MATERIAL_FIELDS]
        extra_kwargs = {"originals": {"max_value": 99}, "copies": {"max_value": 99}}


_TEXT = ["legal_basis", "conditions", "process", "special_procedures", "fee_standard", "fee_basis"]
_CODE_LISTS = {"service_objects": codes.ServiceObject, "handling_forms": codes.HandlingForm,
               "online_depth": codes.OnlineDepth}


class VersionInput(StrictSerializer, serializers.ModelSerializer):
    """The editable elements of a version, type- and length-checked before any service runs."""

    service_objects = serializers.ListField(child=serializers.ChoiceField(codes.ServiceObject.choices),
                                            required=False, help_text="服务对象代码 / service object codes")
    handling_forms = serializers.ListField(child=serializers.ChoiceField(codes.HandlingForm.choices),
                                           required=False, help_text="办理形式代码 / handling form codes")
    online_depth = serializers.ListField(child=serializers.ChoiceField(codes.OnlineDepth.choices),
                                         required=False, help_text="网上办理深度代码 / online depth codes")
    themes = serializers.ListField(child=serializers.CharField(max_length=40), required=False,
                                   help_text="主题代码 / theme codes")
    materials = MaterialInput(many=True, required=False, help_text="申请材料（整体替换）/ materials (replace all)")
    change_note = serializers.CharField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = ItemVersion
        fields = [*services.VERSION_FIELDS, "themes", "materials", "change_note"]
        extra_kwargs = {
            "exercise_level": {"required": False},
            "statutory_limit_days": {"max_value": LIMIT_DAYS},
            "promised_limit_days": {"max_value": LIMIT_DAYS},
            "visits": {"max_value": 99},
            "min_assurance_level": {"max_value": 9},
            **{f: {"max_length": MAX_TEXT} for f in _TEXT},
        }

    def validate(self, attrs):
        promised, statutory = attrs.get("promised_limit_days"), attrs.get("statutory_limit_days")
        if promised is not None and statutory is not None and promised > statutory:
            raise serializers.ValidationError({"promised_limit_days": [
                "承诺时限不能超过法定时限 / the promised limit cannot exceed the statutory limit"]})
        return attrs


class ItemCreateInput(VersionInput):
    organization = serializers.CharField(max_length=18, help_text="实施机构统一社会信用代码 / organisation USCC")
    basic_code = serializers.CharField(max_length=12, required=False, allow_blank=True,
                                       help_text="基本目录编码；不填则自动生成 / basic code; allocated when empty")

    class Meta(VersionInput.Meta):
        fields = ["organization", "basic_code", *VersionInput.Meta.fields]

    def validate_organization(self, value: str) -> Organization:
        try:
            uscc = check_uscc(value)
        except InvalidCode as exc:
            raise serializers.ValidationError(str(exc)) from None
        org = Organization.objects.select_related("region").filter(uscc=uscc, is_active=True).first()
        if org is None:
            raise serializers.ValidationError("没有该信用代码的机构 / no organisation with this credit code")
        return org

    def validate_basic_code(self, value: str) -> BasicItem | None:
        if not value:
            return None
        try:
            code = check_basic_code(value)
        except InvalidCode as exc:
            raise serializers.ValidationError(str(exc)) from None
        basic = BasicItem.objects.filter(basic_code=code).first()
        if basic is None:
            raise serializers.ValidationError("基本目录中没有该编码 / no basic item with this code")
        return basic


class DraftInput(VersionInput):
    """A change to a draft: any subset of the elements, plus the lock_version the editor read."""

    lock_version = serializers.IntegerField(min_value=0, help_text="读取草稿时的 lock_version / as last read")

    class Meta(VersionInput.Meta):
        fields = [*VersionInput.Meta.fields, "lock_version"]

    def get_fields(self):
        # Not ``partial=True``: that would also excuse the required keys of each material.
        fields = super().get_fields()
        for name, field in fields.items():
            field.required = name == "lock_version"
        return fields


class ReviewInput(StrictSerializer):
    approve = serializers.BooleanField(help_text="true 通过，false 退回修改 / approve or return")
    opinion = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                    help_text="审核意见；退回时必填 / opinion, required to return")


class RetireInput(StrictSerializer):
    reason = serializers.CharField(max_length=200, help_text="取消原因 / reason")


def _split(data: dict) -> tuple[dict, list[str] | None, list[dict] | None]:
    """Version fields, themes and materials as the services take them."""
    data = dict(data)
    themes = data.pop("themes", None)
    materials = data.pop("materials", None)
    return data, themes, [dict(m) for m in materials] if materials is not None else None


def _keep_files(version: ItemVersion, materials: list[dict] | None) -> list[dict] | None:
    """A material sent back with its ``id`` keeps the blank form and sample it had."""
    if not materials:
        return materials
    existing = {m.id: m for m in version.materials.all()}
    for m in materials:
        old = existing.get(m.pop("id", None))
        if old is not None:
            m["blank_form"], m["sample"] = old.blank_form.name or "", old.sample.name or ""
    return materials


# ============================================================================= viewsets
@extend_schema_view(
    list=extend_schema(summary="主题列表 / list themes", parameters=[ThemeQuery],
                       responses={200: ThemeSerializer(many=True), 400: BAD_REQUEST}),
)
class ThemeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """主题: life events (个人办事) and enterprise stages (法人办事), for navigation and filtering."""

    queryset = Theme.objects.all()
    serializer_class = ThemeSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet:
        query = validated(lambda: ThemeQuery(data=self.request.query_params)).validated_data
        qs = Theme.objects.order_by("audience", "order", "code")
        if query.get("audience"):
            qs = qs.filter(audience=query["audience"])
        return qs


_ITEM_CODE = OpenApiParameter("implementation_code", OpenApiTypes.STR, OpenApiParameter.PATH,
                              description="实施编码（31位）/ implementation code")
_NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="版本号 / version number")
_STAFF = {401: NOT_SIGNED_IN, 403: FORBIDDEN, 404: NOT_FOUND}


class ItemViewSet(viewsets.GenericViewSet):
    """实施清单事项: published guides for everyone; drafts and the workflow for catalog staff."""

    queryset = ServiceItem.objects.all()
    lookup_field = "implementation_code"
    parser_classes = [JSONParser]
    serializer_class = VersionSerializer

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [permissions.AllowAny()]
        return [CatalogTokenScope(), permissions.IsAuthenticated(), SecondFactorForStaffSession()]

    # ------------------------------------------------------------------ public reads
    @extend_schema(
        summary="查询事项 / search published items", parameters=[ItemQuery],
        responses={200: ItemPageSerializer, 400: BAD_REQUEST},
        description=f"已发布、在用的事项，按相关度和热度排序。关键词匹配超过{search.COUNT_CAP}项时 count 为"
                    f"{search.COUNT_CAP}、count_exact 为 false，只可翻到第{search.COUNT_CAP}项。任何无效的筛选值返回400。"
                    f"/ Published, active items, best match first. When more than {search.COUNT_CAP:,} items match "
                    f"the keywords, count is {search.COUNT_CAP:,} with count_exact false, and pages end at the "
                    f"{search.COUNT_CAP:,}th item. Any invalid filter value is a 400.")
    def list(self, request):
        query = validated(lambda: ItemQuery(data=request.query_params))
        filters = query.filters()
        q = query.validated_data.get("q", "")
        rows = search.SearchResults(q, filters, related=("item__basic_item", "version", "organization"),
                                    only=ROW_COLUMNS)
        page = self.paginate_queryset(rows)
        response = self.get_paginated_response(item_rows(request, page))
        response.data = {"count": response.data["count"], "count_exact": rows.count_exact,
                         **{k: v for k, v in response.data.items() if k != "count"}}
        if query.validated_data.get("facets"):
            response.data["facets"] = _public_facets(search.cached_facets(q, filters))
        return response

    @extend_schema(summary="办事指南 / the published guide of one item", parameters=[_ITEM_CODE],
                   responses={200: VersionSerializer, 404: NOT_FOUND})
    def retrieve(self, request, implementation_code: str):
        item = (ServiceItem.objects.filter(implementation_code=implementation_code, state=ServiceItem.State.ACTIVE,
                                           published_version__isnull=False)
                .select_related("published_version", "organization", "region", "basic_item").first())
        if item is None:
            raise NotFound("事项不存在或已取消 / item not found or retired")
        version = self._with_related(ItemVersion.objects.filter(pk=item.published_version_id)).get()
        return Response(VersionSerializer(version, context={"request": request}).data)

    # ------------------------------------------------------------------ staff
    @staticmethod
    def _with_related(qs: QuerySet) -> QuerySet:
        return qs.select_related("item__organization", "item__region", "item__basic_item").prefetch_related(
            Prefetch("themes", queryset=Theme.objects.order_by("audience", "order", "code")),
            Prefetch("materials", queryset=Material.objects.order_by("order", "id")))

    def _item(self, implementation_code: str) -> ServiceItem:
        return services.get_item_for(self.request.user, implementation_code)

    def _version(self, item: ServiceItem, number: int) -> ItemVersion:
        version = self._with_related(item.versions.filter(number=number)).first()
        if version is None:
            raise NotFound("版本不存在 / version not found")
        return version

    def _open_version(self, item: ServiceItem) -> ItemVersion:
        version = item.versions.filter(status__in=[ItemVersion.Status.DRAFT, ItemVersion.Status.SUBMITTED,
                                                   ItemVersion.Status.REVIEWED]).order_by("-number").first()
        if version is None:
            raise StateError("没有待处理的版本；如需修改请先修订 / no open version; start a revision first")
        return version

    def _staff_version(self, version: ItemVersion, code=status.HTTP_200_OK) -> Response:
        version = self._with_related(ItemVersion.objects.filter(pk=version.pk)).get()
        return Response(StaffVersionSerializer(version, context={"request": self.request}).data, status=code)

    @extend_schema(summary="新建事项（草稿）/ create an item as a draft", request=ItemCreateInput,
                   responses={201: StaffVersionSerializer, 400: BAD_REQUEST, 401: NOT_SIGNED_IN, 403: FORBIDDEN,
                              409: CONFLICT, 415: UNSUPPORTED})
    def create(self, request):
        data = dict(validated(lambda: ItemCreateInput(data=request.data)).validated_data)
        organization, basic_item = data.pop("organization"), data.pop("basic_code", None)
        fields, themes, materials = _split(data)
        for m in materials or []:
            m.pop("id", None)
        draft = services.create_item(request.user, organization=organization, data=fields, basic_item=basic_item,
                                     themes=themes, materials=materials)
        response = self._staff_version(draft, status.HTTP_201_CREATED)
        response["Location"] = reverse("item-version", kwargs={"implementation_code": draft.item.implementation_code,
                                                               "number": draft.number}, request=request)
        return response

    @extend_schema(summary="版本列表（含草稿）/ all versions, drafts included", parameters=[_ITEM_CODE],
                   responses={200: VersionSummarySerializer(many=True), **_STAFF})
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, implementation_code: str):
        item = self._item(implementation_code)
        versions = item.versions.order_by("-number")
        return Response(VersionSummarySerializer(versions, many=True).data)

    @extend_schema(summary="某一版本 / one version", parameters=[_ITEM_CODE, _NUMBER],
                   responses={200: StaffVersionSerializer, **_STAFF})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]{1,9})", url_name="version")
    def version(self, request, implementation_code: str, number: str):
        item = self._item(implementation_code)
        return self._staff_version(self._version(item, int(number)))

    @extend_schema(summary="修改草稿 / edit the draft", parameters=[_ITEM_CODE], request=DraftInput,
                   responses={200: StaffVersionSerializer, 400: BAD_REQUEST, **_STAFF, 409: CONFLICT,
                              415: UNSUPPORTED},
                   description="只传要改的字段和读取时的 lock_version；过期的 lock_version 返回409。materials 整体替换。"
                               " / Send the changed fields and the lock_version you read; a stale one is a 409.")
    @action(detail=True, methods=["patch"])
    def draft(self, request, implementation_code: str):
        item = self._item(implementation_code)
        data = dict(validated(lambda: DraftInput(data=request.data)).validated_data)
        lock = data.pop("lock_version")
        version = self._open_version(item)
        fields, themes, materials = _split(data)
        version = services.update_draft(request.user, version, data=fields, expected_lock=lock, themes=themes,
                                        materials=_keep_files(version, materials))
        return self._staff_version(version)

    @extend_schema(summary="提交审核 / submit the draft for review", parameters=[_ITEM_CODE], request=None,
                   responses={200: StaffVersionSerializer, 400: BAD_REQUEST, **_STAFF, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def submit(self, request, implementation_code: str):
        item = self._item(implementation_code)
        return self._staff_version(services.submit_version(request.user, self._open_version(item)))

    @extend_schema(summary="审核 / review the submitted version", parameters=[_ITEM_CODE], request=ReviewInput,
                   responses={200: StaffVersionSerializer, 400: BAD_REQUEST, **_STAFF, 409: CONFLICT,
                              415: UNSUPPORTED})
    @action(detail=True, methods=["post"])
    def review(self, request, implementation_code: str):
        item = self._item(implementation_code)
        data = validated(lambda: ReviewInput(data=request.data)).validated_data
        version = services.review_version(request.user, self._open_version(item), approve=data["approve"],
                                          opinion=data.get("opinion", ""))
        return self._staff_version(version)

    @extend_schema(summary="发布 / publish the reviewed version", parameters=[_ITEM_CODE], request=None,
                   responses={200: StaffVersionSerializer, **_STAFF, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def publish(self, request, implementation_code: str):
        item = self._item(implementation_code)
        return self._staff_version(services.publish_version(request.user, self._open_version(item)))

    @extend_schema(summary="修订 / start a revision of the published version", parameters=[_ITEM_CODE],
                   request=None, responses={200: StaffVersionSerializer, **_STAFF, 409: CONFLICT},
                   description="已有未发布版本时返回该版本 / returns the open version if there is one")
    @action(detail=True, methods=["post"])
    def revise(self, request, implementation_code: str):
        item = self._item(implementation_code)
        return self._staff_version(services.start_revision(request.user, item))

    @extend_schema(summary="取消事项 / retire the item", parameters=[_ITEM_CODE], request=RetireInput,
                   responses={200: RetiredItemSerializer, 400: BAD_REQUEST, **_STAFF, 409: CONFLICT,
                              415: UNSUPPORTED})
    @action(detail=True, methods=["post"])
    def retire(self, request, implementation_code: str):
        item = self._item(implementation_code)
        data = validated(lambda: RetireInput(data=request.data)).validated_data
        return Response(RetiredItemSerializer(services.retire_item(request.user, item, reason=data["reason"])).data)

    @extend_schema(summary="版本比较 / differences between two versions", parameters=[_ITEM_CODE, DiffQuery],
                   responses={200: DiffEntrySerializer(many=True), 400: BAD_REQUEST, **_STAFF})
    @action(detail=True, methods=["get"], pagination_class=None)
    def diff(self, request, implementation_code: str):
        item = self._item(implementation_code)
        data = validated(lambda: DiffQuery(data=request.query_params)).validated_data
        a, b = self._version(item, data["a"]), self._version(item, data["b"])
        return Response(DiffEntrySerializer(services.diff_versions(a, b), many=True).data)
