"""办件: cases from submission to completion, their steps, materials, documents and clock.

A case keeps everything it needs to be judged later: the published item version it was
applied for, the BPMN definition it runs on (by content hash, so replacing an item's process
never disturbs cases in flight), the engine state, every step with its handler and opinion,
and every event in its history. Personal data of the applicant is encrypted at rest.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from yiwang.core.fields import EncryptedTextField
from yiwang.core.models import Organization, Region


class ProcessDefinition(models.Model):
    """流程定义: one BPMN 2.0 document, stored once per content hash and never changed."""

    sha256 = models.CharField("内容摘要", max_length=64, unique=True)
    process_id = models.CharField("流程标识", max_length=100)
    name = models.CharField("名称", max_length=200)
    kind = models.CharField("类别", max_length=20, default="custom")  # instant | promised | custom
    xml = models.TextField("BPMN 文档")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name="上传人")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "流程定义"

    def __str__(self) -> str:
        return f"{self.name}（{self.sha256[:8]}）"


class ItemProcess(models.Model):
    """事项办理流程: the process new cases of an item start on (absent: the default for its case type)."""

    item = models.OneToOneField("catalog.ServiceItem", on_delete=models.CASCADE, related_name="process_binding")
    definition = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "事项办理流程"


class CaseNumberCounter(models.Model):
    """办件编号计数器: the last daily sequence used per implementation code and day."""

    implementation_code = models.CharField(max_length=31)
    day = models.CharField(max_length=8)  # yyyyMMdd, local date
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["implementation_code", "day"], name="unique_case_counter")]


def new_query_code() -> str:
    """查询码: six digits the applicant keeps beside the case number for the public progress page."""
    return f"{secrets.randbelow(10**6):06d}"


class Case(models.Model):
    """办件: one application's journey from submission to completion."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "待受理"
        CORRECTION = "correction", "需补正"
        NOT_ACCEPTED = "not_accepted", "不予受理"
        IN_REVIEW = "in_review", "审查中"
        DECIDING = "deciding", "待决定"
        PRODUCING = "producing", "制证中"
        DELIVERING = "delivering", "待送达"
        COMPLETED = "completed", "已办结"
        WITHDRAWN = "withdrawn", "已撤回"

    class Decision(models.TextChoices):
        NONE = "", "未决定"
        APPROVED = "approved", "准予"
        REFUSED = "refused", "不予"

    class Warning(models.TextChoices):
        NONE = "", "正常"
        YELLOW = "yellow", "黄牌预警"
        RED = "red", "红牌超期"

    class Delivery(models.TextChoices):
        WINDOW = "window", "窗口领取"
        MAIL = "mail", "邮寄送达"
        ELECTRONIC = "electronic", "电子送达"

    OPEN_STATUSES = ("submitted", "correction", "in_review", "deciding", "producing", "delivering")
    FINAL_STATUSES = ("not_accepted", "completed", "withdrawn")

    number = models.CharField("办件编号", max_length=50, unique=True)
    query_code = models.CharField("查询码", max_length=6, default=new_query_code)
    item = models.ForeignKey("catalog.ServiceItem", verbose_name="事项", on_delete=models.PROTECT, related_name="cases")
    item_version = models.ForeignKey("catalog.ItemVersion", verbose_name="申请时的事项版本", on_delete=models.PROTECT,
                                     related_name="cases")
    item_name = models.CharField("事项名称", max_length=200)
    organization = models.ForeignKey(Organization, verbose_name="实施机构", on_delete=models.PROTECT,
                                     related_name="cases")
    region = models.ForeignKey(Region, verbose_name="办理区域", on_delete=models.PROTECT, related_name="cases")
    bundle = models.ForeignKey("BundleCase", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="cases", verbose_name="一件事")

    # 申请人 (the applicant: a person, or an enterprise through a person acting for it)
    applicant_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申请账号", on_delete=models.PROTECT,
                                       related_name="cases")
    enterprise = models.ForeignKey("identity.Enterprise", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="cases", verbose_name="申请单位")
    applicant_name = models.CharField("申请人", max_length=100)
    applicant_id_number = EncryptedTextField("申请人证件号码", context="citizen_id")
    applicant_id_type = models.CharField("证件类型", max_length=3, default="111")  # 111 居民身份证, 001 USCC
    contact_name = models.CharField("联系人/经办人", max_length=60, blank=True)
    contact_mobile = EncryptedTextField("联系电话", context="mobile", blank=True, default="")
    form_data = EncryptedTextField("申请表数据（JSON）", context="case_form", blank=True, default="{}")
    channel = models.CharField("申请渠道", max_length=20, default="web")  # web | window | api
    delivery = models.CharField("送达方式", max_length=12, choices=Delivery.choices, default=Delivery.WINDOW)
    idempotency_key = models.CharField("幂等键", max_length=80, blank=True, default="")

    # 状态
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.SUBMITTED,
                              db_index=True)
    decision = models.CharField("决定", max_length=10, choices=Decision.choices, blank=True, default="")
    decision_reason = models.TextField("决定理由与依据", blank=True)
    status_reason = models.TextField("不予受理/撤回理由", blank=True)
    lock_version = models.PositiveIntegerField("修改序号", default=0)

    # 流程
    process = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="cases",
                                verbose_name="流程定义")
    engine_state = models.JSONField("流程状态", default=dict)

    # 时限 (dates are local working days; times are UTC)
    submitted_at = models.DateTimeField("提交时间")
    accepted_at = models.DateTimeField("受理时间", null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name="受理人")
    accepting_org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="accepted_cases", verbose_name="受理机构")
    acceptance_number = models.CharField("受理通知书编号", max_length=40, blank=True)
    limit_days = models.PositiveSmallIntegerField("承诺时限（工作日）", default=0)
    statutory_days = models.PositiveSmallIntegerField("法定时限（工作日）", default=0)
    extended_days = models.PositiveSmallIntegerField("延长（工作日）", default=0)
    paused_days = models.PositiveSmallIntegerField("不计时（工作日）", default=0)
    paused_since = models.DateField("暂停计时起", null=True, blank=True)
    due_date = models.DateField("办结期限", null=True, blank=True, db_index=True)
    warning = models.CharField("预警", max_length=6, choices=Warning.choices, blank=True, default="")
    decided_at = models.DateTimeField("决定时间", null=True, blank=True)
    completed_at = models.DateTimeField("办结时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "办件"
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["organization", "status", "due_date"], name="case_org_status_due"),
            models.Index(fields=["applicant_user", "-submitted_at"], name="case_applicant_recent"),
            models.Index(fields=["status", "due_date"], name="case_status_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["applicant_user", "idempotency_key"],
                                    condition=~models.Q(idempotency_key=""), name="unique_case_idempotency"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.item_name}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        if not adding and (fields is None or {"status", "warning"} & set(fields)):
            self.sync_open_steps()

    def sync_open_steps(self) -> int:
        """Copy the status and warning onto the open steps (the to-do list reads them there)."""
        return CaseStep.objects.filter(case=self, state=CaseStep.State.OPEN).exclude(
            case_status=self.status, case_warning=self.warning).update(
            case_status=self.status, case_warning=self.warning)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def clock_paused(self) -> bool:
        return self.paused_since is not None


OUTCOME_LABELS = {
    "accept": "受理", "reject": "不予受理", "correct": "一次性告知补正", "resubmit": "补正后重新提交",
    "pass": "审查通过", "approve": "准予", "refuse": "不予", "produced": "制证完成", "delivered": "已送达",
    "done": "完成", "back": "退回",
}


class CaseStep(models.Model):
    """办理环节: one user task of the case's process, with who handled it and how."""

    class State(models.TextChoices):
        OPEN = "open", "待办"
        DONE = "done", "已办"
        CANCELLED = "cancelled", "已取消"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    task_id = models.CharField("任务标识", max_length=64)
    key = models.CharField("环节标识", max_length=60)
    name = models.CharField("环节", max_length=60)
    role = models.CharField("角色", max_length=20)
    org_rule = models.CharField("机构规则", max_length=20)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="case_steps", verbose_name="办理机构")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.OPEN)
    started_at = models.DateTimeField("开始时间")
    limit_days = models.PositiveSmallIntegerField("环节时限（工作日）", default=0)
    due_date = models.DateField("环节期限", null=True, blank=True)
    completed_at = models.DateTimeField("完成时间", null=True, blank=True)
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name="办理人")
    handler_name = models.CharField("办理人姓名", max_length=60, blank=True)
    outcome = models.CharField("办理结果", max_length=20, blank=True)
    opinion = models.TextField("办理意见", blank=True)
    warning = models.CharField("预警", max_length=6, blank=True, default="")
    # The case's facts the to-do list filters and sorts by, kept on the step so that one index
    # serves the list (kept current on open steps by Case.save and the sweep; see docs/cases.md).
    case_status = models.CharField("办件状态", max_length=20, blank=True, default="")
    case_warning = models.CharField("办件预警", max_length=6, blank=True, default="")
    region_code = models.CharField("办件区划代码", max_length=12, blank=True, default="")
    submitted_at = models.DateTimeField("申请时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "办理环节"
        ordering = ["case", "started_at", "id"]
        indexes = [
            models.Index(fields=["organization", "state", "role", "due_date"], name="step_todo"),
            models.Index(fields=["state", "due_date"], name="step_state_due"),
        ]
        constraints = [models.UniqueConstraint(fields=["case", "task_id"], name="unique_case_task")]

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)


class CaseEvent(models.Model):
    """办件记录 (全程留痕): every thing that happened to a case, in order."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("时间")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField("操作人", max_length=100)
    role = models.CharField("角色", max_length=30, blank=True)
    on_behalf_of = models.CharField("代表", max_length=150, blank=True)
    action = models.CharField("操作", max_length=40)
    label = models.CharField("说明", max_length=100)
    from_status = models.CharField("原状态", max_length=16, blank=True)
    to_status = models.CharField("新状态", max_length=16, blank=True)
    opinion = models.TextField("意见", blank=True)
    detail = models.JSONField("详情", default=dict)

    class Meta:
        verbose_name = verbose_name_plural = "办件记录"
        ordering = ["case", "at", "id"]


def case_file_path(instance: "CaseMaterial", filename: str) -> str:
    # Stored names never come from the user: the case id and a random token.
    import os

    return f"cases/{instance.case_id}/{secrets.token_hex(12)}{os.path.splitext(filename)[1].lower()}"


class CaseMaterial(models.Model):
    """申请材料: a file (or certificate/shared-data reference) given for one material of the list."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "申请人上传"
        CERTIFICATE = "certificate", "电子证照"
        SHARED = "shared", "共享数据"
        WINDOW = "window", "窗口收取"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="materials")
    material = models.ForeignKey("catalog.Material", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name="材料清单项")
    name = models.CharField("材料名称", max_length=200)
    source = models.CharField("来源", max_length=12, choices=Source.choices, default=Source.UPLOAD)
    file = models.FileField("文件", upload_to=case_file_path, blank=True)
    original_name = models.CharField("原文件名", max_length=120, blank=True)
    size = models.PositiveIntegerField("大小（字节）", default=0)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    content_type = models.CharField("类型", max_length=60, blank=True)
    reference = models.CharField("证照/共享数据标识", max_length=200, blank=True)
    uploaded_at = models.DateTimeField("上传时间")
    superseded = models.BooleanField("已被补正替换", default=False)
    checked = models.CharField("窗口核验", max_length=10, blank=True)  # "" | ok | problem

    class Meta:
        verbose_name = verbose_name_plural = "申请材料"
        ordering = ["case", "id"]


def step_file_path(instance: "StepAttachment", filename: str) -> str:
    import os

    return f"cases/{instance.step.case_id}/steps/{secrets.token_hex(12)}{os.path.splitext(filename)[1].lower()}"


class StepAttachment(models.Model):
    """环节附件: a file a handler adds to their step (a site inspection record, an expert opinion…)."""

    step = models.ForeignKey(CaseStep, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField("文件", upload_to=step_file_path)
    original_name = models.CharField("原文件名", max_length=120)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_at = models.DateTimeField("上传时间")

    class Meta:
        verbose_name = verbose_name_plural = "环节附件"
        ordering = ["step", "id"]


class Correction(models.Model):
    """补正告知: one notice listing every problem at once; the clock stops until resubmission."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="corrections")
    problems = models.JSONField("补正内容", default=list)  # [{"material": id|None, "text": "..."}]
    requested_at = models.DateTimeField("告知时间")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    resubmitted_at = models.DateTimeField("补正提交时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "补正告知"
        ordering = ["case", "requested_at"]


class Suspension(models.Model):
    """特别程序: hearing, inspection, expert review… — the statutory clock does not run meanwhile."""

    class Kind(models.TextChoices):
        HEARING = "hearing", "听证"
        INSPECTION = "inspection", "检验检测"
        QUARANTINE = "quarantine", "检疫"
        APPRAISAL = "appraisal", "鉴定"
        EXPERT = "expert", "专家评审"
        SITE = "site", "现场勘查"
        TENDER = "tender", "招标拍卖"
        OTHER = "other", "其他"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="suspensions")
    kind = models.CharField("程序", max_length=12, choices=Kind.choices)
    reason = models.TextField("理由")
    expected_days = models.PositiveSmallIntegerField("预计所需（工作日）", default=0)
    started_at = models.DateTimeField("开始")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField("结束", null=True, blank=True)
    working_days = models.PositiveSmallIntegerField("用时（工作日）", default=0)
    result = models.TextField("结果", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "特别程序"
        ordering = ["case", "started_at"]


class Extension(models.Model):
    """延期: more working days, requested with a reason and approved by an approver."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "待批准"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "未批准"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    days = models.PositiveSmallIntegerField("延长（工作日）")
    reason = models.TextField("理由")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField("申请时间")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField("批准时间", null=True, blank=True)
    opinion = models.TextField("意见", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "延期"
        ordering = ["case", "requested_at"]


class CaseDocument(models.Model):
    """文书: a notice or decision issued on the case, as a PDF with its document number."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "收件回执"
        ACCEPTANCE = "acceptance", "受理通知书"
        NON_ACCEPTANCE = "non_acceptance", "不予受理决定书"
        CORRECTION = "correction", "补正材料通知书"
        APPROVAL = "approval", "准予行政许可决定书"
        REFUSAL = "refusal", "不予行政许可决定书"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField("文书", max_length=16, choices=Kind.choices)
    number = models.CharField("文号", max_length=60, unique=True)
    file = models.FileField("文件", upload_to="case-documents/%Y/%m/")
    sha256 = models.CharField("SHA-256", max_length=64)
    created_at = models.DateTimeField("生成时间")

    class Meta:
        verbose_name = verbose_name_plural = "办件文书"
        ordering = ["case", "created_at"]


class DocumentCounter(models.Model):
    """文号计数器: yearly sequence per organisation and document kind."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "kind", "year"], name="unique_doc_counter")]


class Message(models.Model):
    """站内消息: what the platform told a user about a case (also sent by SMS/e-mail when configured)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_messages")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    text = models.CharField("内容", max_length=300)
    created_at = models.DateTimeField("时间")
    read_at = models.DateTimeField("已读", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "站内消息"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="message_user_recent")]


class Bundle(models.Model):
    """一件事: items of several departments applied for together (e.g. opening a restaurant)."""

    code = models.SlugField("标识", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    description = models.TextField("说明", blank=True)
    items = models.ManyToManyField("catalog.ServiceItem", related_name="bundles", verbose_name="包含事项")
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "一件事"

    def __str__(self) -> str:
        return self.name


class BundleCase(models.Model):
    """一件事申请: one application that became a sub-case per item, handled in parallel."""

    bundle = models.ForeignKey(Bundle, on_delete=models.PROTECT, related_name="applications")
    number = models.CharField("一件事编号", max_length=40, unique=True)
    applicant_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField("提交时间")
    completed_at = models.DateTimeField("全部办结时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "一件事申请"
