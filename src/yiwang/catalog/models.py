"""The service catalog: basic-directory items, implementation items and their versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from yiwang.catalog import codes
from yiwang.core.models import Organization, Region


class Theme(models.Model):
    """主题: a life event (个人) or an enterprise stage (法人) used for navigation."""

    class Audience(models.TextChoices):
        PERSON = "person", "个人办事"
        LEGAL = "legal", "法人办事"

    code = models.SlugField("代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=40)
    audience = models.CharField("面向", max_length=10, choices=Audience.choices)
    description = models.CharField("说明", max_length=200, blank=True)
    order = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "主题"
        ordering = ["audience", "order", "code"]

    def __str__(self) -> str:
        return self.name


class Synonym(models.Model):
    """搜索同义词: an everyday word and the official terms it stands for (开饭店 → 食品经营许可)."""

    word = models.CharField("群众用语", max_length=40, unique=True)
    expansions = models.CharField("对应规范用语（以“|”分隔）", max_length=400)

    class Meta:
        verbose_name = verbose_name_plural = "搜索同义词"

    def __str__(self) -> str:
        return f"{self.word} → {self.expansions}"

    def terms(self) -> list[str]:
        return [t.strip() for t in self.expansions.split("|") if t.strip()]


class BasicItem(models.Model):
    """基本目录事项: the nationally or provincially standardised item behind local implementations."""

    basic_code = models.CharField("基本编码", max_length=12, unique=True)
    name = models.CharField("事项名称", max_length=200)
    item_type = models.CharField("事项类型", max_length=2, choices=codes.ItemType.choices)
    department_code = models.CharField("部门编码", max_length=4)
    parent = models.ForeignKey("self", verbose_name="主项", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="sub_items")
    legal_basis = models.TextField("设定依据", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "基本目录事项"
        ordering = ["basic_code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.basic_code}）"


class ServiceItem(models.Model):
    """实施清单事项: one organisation's implementation of a basic item, across its versions."""

    class State(models.TextChoices):
        ACTIVE = "active", "在用"
        RETIRED = "retired", "已取消"

    implementation_code = models.CharField("实施编码", max_length=31, unique=True)
    basic_item = models.ForeignKey(BasicItem, verbose_name="基本目录事项", on_delete=models.PROTECT,
                                   related_name="implementations")
    organization = models.ForeignKey(Organization, verbose_name="实施机构", on_delete=models.PROTECT,
                                     related_name="items")
    region = models.ForeignKey(Region, verbose_name="实施区域", on_delete=models.PROTECT, related_name="items")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.ACTIVE)
    published_version = models.ForeignKey("ItemVersion", verbose_name="现行版本", null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    retired_at = models.DateTimeField("取消时间", null=True, blank=True)
    retired_reason = models.CharField("取消原因", max_length=200, blank=True)
    popularity = models.PositiveIntegerField("热度", default=0)
    # 列表字段: copies of the latest and the open version, kept in step by the catalog services so that
    # the staff item list is one indexed query (see services.refresh_listing).
    latest_name = models.CharField("最新版本事项名称", max_length=200, blank=True, default="")
    latest_type = models.CharField("最新版本事项类型", max_length=2, blank=True, default="",
                                   choices=codes.ItemType.choices)
    latest_updated_at = models.DateTimeField("最近修改时间", null=True, blank=True)
    open_status = models.CharField("在办版本状态", max_length=12, blank=True, default="")
    open_number = models.PositiveIntegerField("在办版本号", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "实施清单事项"
        ordering = ["implementation_code"]
        indexes = [
            # "items of these organisations, newest first": one index range per organisation.
            models.Index(fields=["organization", "-latest_updated_at", "implementation_code"],
                         name="catalog_item_org_updated"),
            # The same order over every organisation (platform administrators); on PostgreSQL it also
            # carries the organisation and id, so a wide scope can be filtered from the index alone.
            models.Index(fields=["-latest_updated_at", "implementation_code"], include=["organization", "id"],
                         name="catalog_item_updated"),
        ]

    def __str__(self) -> str:
        v = self.published_version
        return f"{v.name if v else self.basic_item.name}（{self.implementation_code}）"


class ItemVersion(models.Model):
    """事项版本: one version of an implementation item's elements. Published versions never change."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "待审核"
        REVIEWED = "reviewed", "已审核待发布"
        PUBLISHED = "published", "已发布"
        SUPERSEDED = "superseded", "历史版本"
        RETIRED = "retired", "已取消"

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField("版本号")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.DRAFT)
    lock_version = models.PositiveIntegerField("修改序号", default=0)
    change_note = models.CharField("修改说明", max_length=200, blank=True)

    # 基本信息
    name = models.CharField("事项名称", max_length=200)
    aliases = models.CharField("俗称/群众用语（以“|”分隔）", max_length=400, blank=True)
    item_type = models.CharField("事项类型", max_length=2, choices=codes.ItemType.choices)
    exercise_level = models.CharField("行使层级", max_length=1, choices=codes.ExerciseLevel.choices)
    power_source = models.CharField("权力来源", max_length=1, choices=codes.PowerSource.choices,
                                    default=codes.PowerSource.STATUTORY)
    entrusted_org = models.CharField("委托部门", max_length=100, blank=True)
    joint_orgs = models.CharField("联办机构", max_length=200, blank=True)
    service_objects = models.JSONField("服务对象", default=list)
    themes = models.ManyToManyField(Theme, verbose_name="主题分类", blank=True, related_name="versions")
    legal_basis = models.TextField("设定依据")
    conditions = models.TextField("受理条件")
    process = models.TextField("办理流程", help_text="每行一个环节")
    special_procedures = models.TextField("特别程序", blank=True)
    # 时限
    case_type = models.CharField("办件类型", max_length=1, choices=codes.CaseType.choices,
                                 default=codes.CaseType.PROMISED)
    statutory_limit_days = models.PositiveSmallIntegerField("法定办结时限（工作日）")
    statutory_limit_note = models.CharField("法定时限说明", max_length=200, blank=True)
    promised_limit_days = models.PositiveSmallIntegerField("承诺办结时限（工作日）")
    promised_limit_note = models.CharField("承诺时限说明", max_length=200, blank=True)
    # 收费
    charges_fee = models.BooleanField("是否收费", default=False)
    fee_standard = models.TextField("收费标准", blank=True)
    fee_basis = models.TextField("收费依据", blank=True)
    # 办理方式
    handling_forms = models.JSONField("办理形式", default=list)
    online_depth = models.JSONField("网上办理深度", default=list)
    online_level = models.PositiveSmallIntegerField("网办深度等级", choices=codes.OnlineLevel.choices, default=1)
    visits = models.PositiveSmallIntegerField("到办事现场次数", default=1)
    onsite_reason = models.CharField("必须现场办理原因", max_length=200, blank=True)
    online_url = models.URLField("网上办理地址", blank=True)
    scope = models.CharField("通办范围", max_length=10, choices=codes.Scope.choices, default=codes.Scope.LOCAL)
    in_hall = models.BooleanField("是否进驻政务大厅", default=True)
    supports_express = models.BooleanField("支持物流快递", default=False)
    supports_payment = models.BooleanField("支持网上支付", default=False)
    supports_appointment = models.BooleanField("支持预约办理", default=True)
    supports_self_service = models.BooleanField("支持自助终端", default=False)
    quantity_limit = models.CharField("数量限制", max_length=200, blank=True)
    min_assurance_level = models.PositiveSmallIntegerField("申请所需实名等级", default=1)
    # 地点与咨询
    location = models.CharField("办理地点", max_length=300)
    hours = models.CharField("办理时间", max_length=200)
    consult_phone = models.CharField("咨询电话", max_length=100)
    supervise_phone = models.CharField("监督投诉电话", max_length=100)
    # 结果
    result_name = models.CharField("审批结果名称", max_length=200, blank=True)
    result_type = models.CharField("审批结果类型", max_length=2, choices=codes.ResultType.choices,
                                   default=codes.ResultType.OTHER)
    intermediary = models.CharField("中介服务", max_length=200, blank=True)
    effective_date = models.DateField("计划生效日期", null=True, blank=True)
    cancel_date = models.DateField("计划取消日期", null=True, blank=True)
    # 流转记录
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="起草人")
    created_at = models.DateTimeField("起草时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name="提交人")
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name="审核人")
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    review_opinion = models.CharField("审核意见", max_length=500, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name="发布人")
    published_at = models.DateTimeField("发布时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "事项版本"
        ordering = ["item", "-number"]
        constraints = [models.UniqueConstraint(fields=["item", "number"], name="unique_item_version_number")]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}（{self.get_status_display()}）"

    FROZEN = ("published", "superseded")

    def save(self, *args, **kwargs):
        # A published version is immutable: only its status may move on (to superseded).
        if self.pk is not None and set(kwargs.get("update_fields") or ()) - {"status", "lock_version"}:
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored in self.FROZEN:
                raise PermissionError("已发布的版本不可修改 / a published version cannot be changed")
        elif self.pk is not None and not kwargs.get("update_fields"):
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored in self.FROZEN:
                raise PermissionError("已发布的版本不可修改 / a published version cannot be changed")
        super().save(*args, **kwargs)

    @property
    def editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.split("|") if a.strip()]

    def process_steps(self) -> list[str]:
        return [s.strip() for s in self.process.splitlines() if s.strip()]

    def service_object_labels(self) -> list[str]:
        return [codes.ServiceObject(c).label for c in self.service_objects if c in codes.ServiceObject.values]

    def online_depth_labels(self) -> list[str]:
        return [codes.OnlineDepth(c).label for c in self.online_depth if c in codes.OnlineDepth.values]

    def handling_form_labels(self) -> list[str]:
        return [codes.HandlingForm(c).label for c in self.handling_forms if c in codes.HandlingForm.values]


def material_upload_path(instance: "Material", filename: str) -> str:
    return f"catalog/materials/{instance.version.item_id}/{filename}"


class Material(models.Model):
    """申请材料 of one item version."""

    version = models.ForeignKey(ItemVersion, on_delete=models.CASCADE, related_name="materials")
    order = models.PositiveSmallIntegerField("序号", default=1)
    name = models.CharField("材料名称", max_length=200)
    kind = models.CharField("材料类型", max_length=1, choices=codes.MaterialKind.choices,
                            default=codes.MaterialKind.ORIGINAL)
    media = models.CharField("材料形式", max_length=1, choices=codes.MaterialFormat.choices,
                             default=codes.MaterialFormat.BOTH)
    originals = models.PositiveSmallIntegerField("原件份数", default=1)
    copies = models.PositiveSmallIntegerField("复印件份数", default=0)
    required = models.BooleanField("是否必要", default=True)
    condition = models.CharField("非必要时的提交情形", max_length=300, blank=True)
    source = models.CharField("来源渠道", max_length=12, choices=codes.MaterialSource.choices,
                              default=codes.MaterialSource.APPLICANT)
    source_detail = models.CharField("来源说明（证照类型/共享数据/出具机构）", max_length=200, blank=True)
    paper_size = models.CharField("纸张规格", max_length=20, blank=True, default="A4")
    notes = models.CharField("填报须知", max_length=500, blank=True)
    blank_form = models.FileField("空白表格", upload_to=material_upload_path, blank=True)
    sample = models.FileField("示例样表", upload_to=material_upload_path, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "申请材料"
        ordering = ["version", "order", "id"]

    def __str__(self) -> str:
        return self.name


class CatalogRevision(models.Model):
    """A counter advanced by every publish or retirement: the version of the public catalog
    that cached search answers are keyed by."""

    counter = models.PositiveBigIntegerField(default=0)


class SearchEntry(models.Model):
    """搜索索引: one narrow row per published item (what ranking and facets read), kept in step by
    the publishing services; the text index itself lives beside it (see ``search``)."""

    item = models.OneToOneField(ServiceItem, on_delete=models.CASCADE, primary_key=True, related_name="search")
    version = models.ForeignKey(ItemVersion, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, db_index=True)
    aliases = models.CharField(max_length=400, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    region_code = models.CharField(max_length=12, db_index=True)
    item_type = models.CharField(max_length=2, db_index=True)
    for_person = models.BooleanField(default=False)
    for_legal = models.BooleanField(default=False)
    online_level = models.PositiveSmallIntegerField(default=1)
    popularity = models.PositiveIntegerField(default=0)
    themes = models.ManyToManyField(Theme, related_name="+", blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "item_type"]), models.Index(fields=["-popularity", "name"])]
