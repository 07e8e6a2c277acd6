"""Case API for department systems (部门系统办件接口): read the organisation's cases, report step results.

A department system authenticates with an access token from the client-credentials grant
(``/o/token/``) of a client registered as a ``DepartmentClient``. Its requests act as the
client's service staff account, so ``yiwang.cases.services`` applies the same organisation
scoping and step permissions as at the workbench: another department's case is a 404, a step
the account may not handle a 403, a stale ``lock_version`` a 409. Personal data is masked.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from yiwang.cases import services as case_services
from yiwang.cases.models import Case, CaseEvent, CaseStep
from yiwang.core.api_base import ErrorSerializer, validated
from yiwang.core.errors import NotFound
from yiwang.core.masking import mask_name
from yiwang.exchange.services import client_for_token
from yiwang.identity.api_auth import BearerTokenAuthentication


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_REQUEST = _error("填写或参数有误（按字段列出）/ invalid input, per field")
NOT_SIGNED_IN = _error("缺少、过期或无效的访问令牌 / missing, expired or invalid access token")
FORBIDDEN = _error("令牌缺少所需权限范围，不是部门系统的令牌，或无权办理该环节 / missing scope, not a department "
                   "system's token, or not allowed to handle this step")
NOT_FOUND = _error("办件或环节不存在，或不属于本机构 / case or step not found, or not this organisation's")
CONFLICT = _error("环节已被办理、状态不允许，或 lock_version 已过期 / step already handled, wrong state, or stale "
                  "lock_version")
UNSUPPORTED = _error("请求内容类型应为 application/json / body must be JSON")


# ============================================================================= authentication
class DepartmentClientAuthentication(BearerTokenAuthentication):
    """A client-credentials token of a registered department system acts as its service account.

    Other valid tokens (a person's, or a client that is not a department system) authenticate
    as before; :class:`CaseTokenScope` then refuses them.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        _user, token = result
        client = client_for_token(token)
        if client is None:
            return result
        account = client.service_account.user
        if not account.is_active:
            raise exceptions.AuthenticationFailed("部门系统的服务账号已停用 / the system's service account is disabled")
        token.department_client = client
        return account, token


class CaseTokenScope(BasePermission):
    """Reads need ``cases:read`` (or ``cases:write``); reporting a step result needs ``cases:write``."""

    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if token is None:
            return False  # not signed in: answered 401 with the bearer challenge
        if getattr(token, "department_client", None) is None:
            self.code = "not_a_department_system"
            self.message = ("仅限已登记的部门系统使用客户端凭证令牌访问 / only registered department systems "
                            "(client-credentials tokens) may use this API")
            return False
        granted = set((token.scope or "").split())
        if request.method in SAFE_METHODS:
            self.message = "令牌缺少 cases:read 权限 / the token lacks the cases:read scope"
            return bool(granted & {"cases:read", "cases:write"})
        self.message = "令牌缺少 cases:write 权限 / the token lacks the cases:write scope"
        return "cases:write" in granted


class DepartmentClientScheme(OpenApiAuthenticationExtension):
    target_class = "yiwang.exchange.api.DepartmentClientAuthentication"
    name = "departmentSystem"

    def get_security_requirement(self, auto_schema):
        return {self.name: ["cases:read" if auto_schema.method in SAFE_METHODS else "cases:write"]}

    def get_security_definition(self, auto_schema):
        return {"type": "oauth2",
                "description": "部门系统以客户端凭证获取的访问令牌（Authorization: Bearer …），见 docs/api.md / "
                               "client-credentials tokens of a registered department system",
                "flows": {"clientCredentials": {"tokenUrl": "/o/token/", "scopes": {
                    "cases:read": "读取本机构的办件 / read the organisation's cases",
                    "cases:write": "报送环节办理结果 / report step results"}}}}


# ============================================================================= serializers
class CaseRowSerializer(serializers.ModelSerializer):
    item_code = serializers.CharField(source="item.implementation_code")
    organization = serializers.CharField(source="organization.uscc", help_text="实施机构统一社会信用代码")
    status_label = serializers.CharField(source="get_status_display")
    applicant = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["number", "item_code", "item_name", "organization", "status", "status_label", "decision",
                  "warning", "applicant", "channel", "submitted_at", "accepted_at", "due_date", "decided_at",
                  "completed_at", "updated_at", "lock_version"]

    def get_applicant(self, case: Case) -> dict[str, str]:
        masked = case_services.masked_applicant(case)
        return {"type": "person" if case.applicant_id_type == "111" else "enterprise", "name": masked["name"],
                "id_number": masked["id_number"]}


class CaseStepSerializer(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.uscc", allow_null=True, default=None)
    outcomes = serializers.SerializerMethodField(help_text="待办环节可选的办理结果 / outcomes of an open step")

    class Meta:
        model = CaseStep
        fields = ["id", "key", "name", "role", "state", "organization", "started_at", "limit_days", "due_date",
                  "completed_at", "handler_name", "outcome", "opinion", "warning", "outcomes"]

    def get_outcomes(self, step: CaseStep) -> list[str]:
        if step.state != CaseStep.State.OPEN:
            return []
        return [o for o, _label in case_services.outcomes_for(self.context["case"], step)]


class CaseMaterialSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    superseded = serializers.BooleanField(help_text="已被补正材料替换 / replaced by a correction")


class CaseDocumentSerializer(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    number = serializers.CharField()
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()


class CaseEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.SerializerMethodField()
    role = serializers.CharField()
    action = serializers.CharField()
    label = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    opinion = serializers.CharField()

    def get_actor(self, event: CaseEvent) -> str:
        # The applicant's own actions carry their name: masked like everywhere else.
        if event.actor_id is not None and event.actor_id == self.context["case"].applicant_user_id:
            return mask_name(event.actor_name)
        return event.actor_name


class CaseDetailSerializer(CaseRowSerializer):
    steps = serializers.SerializerMethodField()
    materials = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(CaseRowSerializer.Meta):
        fields = [*CaseRowSerializer.Meta.fields, "limit_days", "extended_days", "paused_days", "paused_since",
                  "acceptance_number", "decision_reason", "status_reason", "steps", "materials", "documents",
                  "history"]

    def _ctx(self, case: Case) -> dict:
        return {**self.context, "case": case}

    @extend_schema_field(CaseStepSerializer(many=True))
    def get_steps(self, case: Case):
        return CaseStepSerializer(case.steps.all(), many=True, context=self._ctx(case)).data

    @extend_schema_field(CaseMaterialSerializer(many=True))
    def get_materials(self, case: Case):
        return CaseMaterialSerializer(case.materials.all(), many=True).data

    @extend_schema_field(CaseDocumentSerializer(many=True))
    def get_documents(self, case: Case):
        return CaseDocumentSerializer(case.documents.all(), many=True).data

    @extend_schema_field(CaseEventSerializer(many=True))
    def get_history(self, case: Case):
        return CaseEventSerializer(case.events.all(), many=True, context=self._ctx(case)).data


class CaseQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False, help_text="办件状态 / status")
    updated_since = serializers.DateTimeField(required=False, help_text="只列此时刻（含）之后有变化的办件，ISO 8601 / "
                                                                        "changed at or after (ISO 8601)")
    item = serializers.CharField(required=False, max_length=33, help_text="实施编码 / implementation code")


class CorrectionProblemInput(serializers.Serializer):
    material = serializers.IntegerField(required=False, allow_null=True, help_text="材料清单项 id / material id")
    text = serializers.CharField(max_length=300)


class StepResultInput(serializers.Serializer):
    outcome = serializers.CharField(max_length=20, help_text="环节的办理结果，见 steps[].outcomes / one of the "
                                                             "step's outcomes")
    opinion = serializers.CharField(required=False, allow_blank=True, max_length=case_services.MAX_OPINION,
                                    default="")
    lock_version = serializers.IntegerField(min_value=0, help_text="读取办件时的 lock_version / the case's "
                                                                   "lock_version as read")
    decision_reason = serializers.CharField(required=False, allow_blank=True, max_length=case_services.MAX_OPINION,
                                            default="", help_text="不予许可的理由和法律依据 / grounds of a refusal")
    problems = CorrectionProblemInput(many=True, required=False, help_text="补正内容（outcome=correct）/ what to correct")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: ["不支持的字段 / unknown field"] for k in unknown})
        return super().to_internal_value(data)


class CasePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CaseRowSerializer(many=True)


# ============================================================================= views
_CASE_NUMBER = OpenApiParameter("number", OpenApiTypes.STR, OpenApiParameter.PATH, description="办件编号 / case number")
_STEP_ID = OpenApiParameter("step_id", OpenApiTypes.INT, OpenApiParameter.PATH,
                            description="环节 id（steps[].id）/ step id")
_READ_ERRORS = {401: NOT_SIGNED_IN, 403: FORBIDDEN}


class CaseViewSet(viewsets.GenericViewSet):
    """办件: the cases of the calling department system's organisation."""

    queryset = Case.objects.none()
    lookup_field = "number"
    serializer_class = CaseDetailSerializer
    authentication_classes = [DepartmentClientAuthentication]
    permission_classes = [CaseTokenScope]
    parser_classes = [JSONParser]

    def _case(self, number: str) -> Case:
        return case_services.get_case_for(self.request.user, number)

    def _detail(self, case: Case) -> Response:
        case = (Case.objects.select_related("item", "organization", "process").prefetch_related(
            Prefetch("steps", queryset=CaseStep.objects.select_related("organization").order_by("started_at", "id")),
            "materials", "documents", "events").get(pk=case.pk))
        return Response(CaseDetailSerializer(case, context={"request": self.request}).data)

    @extend_schema(summary="本机构的办件 / the organisation's cases", parameters=[CaseQuery],
                   responses={200: CasePageSerializer, 400: BAD_REQUEST, **_READ_ERRORS},
                   description="按更新时间从早到晚排列；用 updated_since 增量同步。/ Oldest change first; poll with "
                               "updated_since for changes.")
    def list(self, request):
        query = validated(lambda: CaseQuery(data=request.query_params)).validated_data
        qs = case_services.visible_cases(request.user).select_related("item", "organization")
        if query.get("status"):
            qs = qs.filter(status=query["status"])
        if query.get("updated_since"):
            qs = qs.filter(updated_at__gte=query["updated_since"])
        if query.get("item"):
            qs = qs.filter(item__implementation_code=query["item"])
        page = self.paginate_queryset(qs.order_by("updated_at", "id"))
        return self.get_paginated_response(CaseRowSerializer(page, many=True).data)

    @extend_schema(summary="办件详情 / one case", parameters=[_CASE_NUMBER],
                   responses={200: CaseDetailSerializer, **_READ_ERRORS, 404: NOT_FOUND},
                   description="环节、材料（元数据和 SHA-256）、文书和办理记录；个人信息脱敏。/ Steps, materials "
                               "(metadata with SHA-256), documents and history; personal data masked.")
    def retrieve(self, request, number: str):
        return self._detail(self._case(number))

    @extend_schema(summary="报送环节办理结果 / report a step's result", parameters=[_CASE_NUMBER, _STEP_ID],
                   request=StepResultInput,
                   responses={200: CaseDetailSerializer, 400: BAD_REQUEST, **_READ_ERRORS, 404: NOT_FOUND,
                              409: CONFLICT, 415: UNSUPPORTED},
                   description="与工作台“办理”相同：须带读取时的 lock_version，过期返回409。/ The workbench's action: "
                               "send the lock_version you read; a stale one is a 409.")
    @action(detail=True, methods=["post"], url_path=r"steps/(?P<step_id>[0-9]{1,18})", url_name="step")
    def step(self, request, number: str, step_id: str):
        data = validated(lambda: StepResultInput(data=request.data)).validated_data
        case = self._case(number)
        if not case.steps.filter(pk=int(step_id)).exists():
            raise NotFound("未找到该环节 / step not found")
        case = case_services.act(request.user, case, step_id=int(step_id), outcome=data["outcome"],
                                 opinion=data.get("opinion", ""), lock_version=data["lock_version"],
                                 problems=data.get("problems"), decision_reason=data.get("decision_reason", ""))
        return self._detail(case)
