"""Shared kernel data: regions, organisations, calendar overrides and the audit chain."""

from __future__ import annotations

from django.db import models

from yiwang.core import validators


def _validate_division(value: str) -> None:
    from django.core.exceptions import ValidationError

    try:
        validators.check_division_code(value)
    except validators.InvalidCode as exc:
        raise ValidationError(str(exc)) from None


def _validate_uscc(value: str) -> None:
    from django.core.exceptions import ValidationError

    try:
        validators.check_uscc(value)
    except validators.InvalidCode as exc:
        raise ValidationError(str(exc)) from None


class Region(models.Model):
    """行政区划: one of five levels, keyed by its 12-digit statistical division code."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, "省"
        CITY = 2, "市"
        COUNTY = 3, "区县"
        TOWN = 4, "乡镇街道"
        VILLAGE = 5, "村社区"

    code = models.CharField("区划代码", max_length=12, unique=True, validators=[_validate_division])
    name = models.CharField("名称", max_length=60)
    level = models.PositiveSmallIntegerField("层级", choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name="上级", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    prefix = models.CharField("区划前缀", max_length=12, db_index=True, editable=False)

    class Meta:
        verbose_name = verbose_name_plural = "行政区划"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.prefix = validators.division_prefix(self.code)
        super().save(*args, **kwargs)


class Organization(models.Model):
    """组织机构: a department or a service centre, identified by its credit code."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", "人民政府"
        DEPARTMENT = "department", "政府部门"
        CENTRE = "centre", "政务服务中心"
        TOWN_CENTRE = "town_centre", "便民服务中心"
        VILLAGE_STATION = "village_station", "便民服务站"
        INSTITUTION = "institution", "事业单位"

    class Nature(models.TextChoices):
        STATUTORY = "1", "法定机关"
        AUTHORISED = "2", "授权组织"
        ENTRUSTED = "3", "受委托组织"
        OTHER = "9", "其他"

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True, validators=[_validate_uscc])
    name = models.CharField("名称", max_length=100)
    short_name = models.CharField("简称", max_length=40, blank=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.DEPARTMENT)
    nature = models.CharField("实施主体性质", max_length=1, choices=Nature.choices, default=Nature.STATUTORY)
    department_code = models.CharField("部门编码", max_length=4, blank=True,
                                       help_text="基本编码中的4位部门代码")
    parent = models.ForeignKey("self", verbose_name="上级机构", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    region = models.ForeignKey(Region, verbose_name="服务区域", on_delete=models.PROTECT,
                               related_name="organizations")
    address = models.CharField("地址", max_length=200, blank=True)
    phone = models.CharField("电话", max_length=40, blank=True)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "组织机构"
        ordering = ["region__code", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def level(self) -> int:
        """行使层级 code (GB/T 39046): 2 省 3 市 4 县 5 乡镇 6 村, from the region served."""
        return self.region.level + 1


class HolidayOverride(models.Model):
    """An administrator's correction to the statutory calendar (e.g. next year's schedule)."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否工作日")
    name = models.CharField("说明", max_length=60, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "节假日调整"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '休息'} {self.name}"


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("审计日志不可修改 / the audit trail cannot be updated")

    def delete(self):
        raise PermissionError("审计日志不可删除 / the audit trail cannot be deleted")


class AuditEntry(models.Model):
    """审计日志: one append-only, hash-chained record of a write."""

    seq = models.PositiveBigIntegerField("序号", unique=True)
    created_at = models.DateTimeField("时间")
    actor = models.CharField("操作人", max_length=150)
    on_behalf_of = models.CharField("代表", max_length=150, blank=True)
    action = models.CharField("操作", max_length=60, db_index=True)
    object_type = models.CharField("对象类型", max_length=60)
    object_id = models.CharField("对象标识", max_length=64)
    before_digest = models.CharField("修改前摘要", max_length=64, blank=True)
    after_digest = models.CharField("修改后摘要", max_length=64, blank=True)
    detail = models.JSONField("说明", default=dict, blank=True)
    prev_hash = models.CharField("前一条哈希", max_length=64, unique=True)
    entry_hash = models.CharField("本条哈希", max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "审计日志"
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("审计日志不可修改 / the audit trail cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("审计日志不可删除 / the audit trail cannot be deleted")


class Job(models.Model):
    """后台任务: one unit of "do this later" in the database queue (docs/jobs.md).

    A worker claims a due job by setting ``locked_by`` and a lease; while the job runs the worker
    extends the lease. A job whose lease ran out (its worker died) is claimed again, so a killed
    worker loses nothing. Failures are retried with exponential backoff; after ``max_attempts``
    the job is kept as failed.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "执行中"
        SUCCEEDED = "succeeded", "已完成"
        FAILED = "failed", "失败"

    name = models.CharField("任务名称", max_length=200, db_index=True)
    kwargs = models.JSONField("参数", default=dict, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    run_after = models.DateTimeField("最早执行时间")
    attempts = models.PositiveIntegerField("已尝试次数", default=0)
    max_attempts = models.PositiveSmallIntegerField("最多尝试次数", default=5)
    last_error = models.TextField("最近错误", blank=True)
    locked_by = models.CharField("执行进程", max_length=120, blank=True)
    lease_until = models.DateTimeField("租约到期", null=True, blank=True)
    dedupe_key = models.CharField("去重键", max_length=200, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "后台任务"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "run_after"], name="core_job_due"),
            models.Index(fields=["status", "lease_until"], name="core_job_lease"),
        ]
        constraints = [
            # A second enqueue with the same key while the first has not started is a no-op.
            models.UniqueConstraint(
                fields=["dedupe_key"], name="core_job_dedupe_pending",
                condition=models.Q(status="queued", attempts=0) & ~models.Q(dedupe_key=""),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} ({self.get_status_display()})"


class PeriodicJob(models.Model):
    """周期任务: when a registered periodic job is next due; claimed atomically once per period."""

    name = models.CharField("任务名称", max_length=200, unique=True)
    every_seconds = models.PositiveIntegerField("周期（秒）")
    next_run_at = models.DateTimeField("下次执行时间")
    last_run_at = models.DateTimeField("上次触发时间", null=True, blank=True)
    last_claimed_by = models.CharField("上次触发进程", max_length=120, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "周期任务"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} / {self.every_seconds}s"
