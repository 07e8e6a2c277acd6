"""电子证照: the certificate catalog (types), issued certificates, their history and counters.

A :class:`CertificateType` (证照类型) says who defines and who issues a certificate, whom it is
for, which data fields it carries (a small JSON schema), how long it is valid and which catalog
items produce it. A :class:`Certificate` is one issued version of one certificate, identified by
its GB/T 36904 identifier (see ``identifiers``); a change or a reissue makes a new version and the
previous one stops being valid. Every state change is a :class:`CertificateEvent`.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models

from yiwang.core.crypto import normalise_id_number
from yiwang.core.fields import BlindIndexField, EncryptedTextField
from yiwang.core.models import Organization


class HolderKind(models.TextChoices):
    PERSON = "person", "自然人"
    ENTERPRISE = "enterprise", "法人"


class HolderCodeType(models.TextChoices):
    """持证主体代码类型 (GB/T 36903)."""

    CITIZEN_ID = "111", "公民身份号码"
    USCC = "001", "统一社会信用代码"


class FieldType(models.TextChoices):
    TEXT = "string", "文本"
    DATE = "date", "日期"
    INTEGER = "integer", "整数"
    MONEY = "number", "数值"


class Template(models.TextChoices):
    """Layout of the certificate PDF."""

    LICENCE = "licence", "执照（横版，带正副本字样）"
    PERMIT = "permit", "许可证（竖版）"
    CARD = "card", "证件（竖版，个人）"


class CertificateType(models.Model):
    """证照类型 (证照目录): one kind of certificate, its data fields, validity and producing items.

    ``fields`` is a list of ``{"name", "label", "type", "required", "key", "hint"}`` in display
    order; :meth:`json_schema` turns it into the JSON schema that every certificate's data is
    validated against. ``key`` fields are shown (masked where personal) on verification and go
    into the QR payload. ``form_mapping`` says where each field comes from when a case issues the
    certificate: ``form.<key>`` (the application form), ``applicant.name``, ``applicant.code``,
    ``case.number``, ``case.decided_on``, ``item.name`` or ``=literal text``; unmapped fields are
    taken from the form key of the same name.
    """

    name = models.CharField("证照名称", max_length=100)
    type_code = models.CharField("证照类型代码", max_length=21, unique=True,
                                 help_text="定义机构统一社会信用代码 + 3位顺序码")
    defining_organization = models.ForeignKey(Organization, verbose_name="证照定义机构", on_delete=models.PROTECT,
                                              related_name="+")
    issuing_organization = models.ForeignKey(Organization, verbose_name="颁发机构", on_delete=models.PROTECT,
                                             related_name="certificate_types")
    holder_kind = models.CharField("持证主体类别", max_length=10, choices=HolderKind.choices)
    fields = models.JSONField("照面信息项", default=list)
    form_mapping = models.JSONField("数据来源（字段 → 来源）", default=dict, blank=True)
    validity_years = models.PositiveSmallIntegerField("有效期（年，0 为长期）", default=0)
    template = models.CharField("版式", max_length=10, choices=Template.choices, default=Template.PERMIT)
    basic_items = models.ManyToManyField("catalog.BasicItem", verbose_name="产生该证照的基本目录事项", blank=True,
                                         related_name="certificate_types")
    service_items = models.ManyToManyField("catalog.ServiceItem", verbose_name="产生该证照的实施清单事项",
                                           blank=True, related_name="certificate_types")
    stands_for_materials = models.JSONField("可替代的申请材料（材料名称或来源说明）", default=list, blank=True)
    description = models.CharField("说明", max_length=300, blank=True)
    is_active = models.BooleanField("启用", default=True)
    lock_version = models.PositiveIntegerField("修改序号", default=0)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "证照类型"
        ordering = ["type_code"]

    def __str__(self) -> str:
        return self.name

    @property
    def holder_code_type(self) -> str:
        return HolderCodeType.CITIZEN_ID if self.holder_kind == HolderKind.PERSON else HolderCodeType.USCC

    @property
    def is_permanent(self) -> bool:
        return not self.validity_years

    def field_labels(self) -> dict[str, str]:
        return {f["name"]: f.get("label", f["name"]) for f in self.fields}

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema (draft 2020-12) of a certificate's data."""
        properties: dict[str, Any] = {}
        for f in self.fields:
            kind = f.get("type", FieldType.TEXT)
            if kind == FieldType.DATE:
                prop: dict[str, Any] = {"type": "string", "format": "date"}
            elif kind == FieldType.INTEGER:
                prop = {"type": "integer"}
            elif kind == FieldType.MONEY:
                prop = {"type": "number"}
            else:
                prop = {"type": "string", "maxLength": int(f.get("max_length", 200))}
            if f.get("required", True) and kind == FieldType.TEXT:
                prop["minLength"] = 1
            prop["title"] = f.get("label", f["name"])
            properties[f["name"]] = prop
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
            "required": [f["name"] for f in self.fields if f.get("required", True)],
            "additionalProperties": False,
        }


class SerialCounter(models.Model):
    """证照序列号计数器: the last serial drawn per certificate type and year."""

    type_code = models.CharField(max_length=21)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["type_code", "year"], name="unique_certificate_serial")]


class Status(models.TextChoices):
    """证照状态 (GB/T 36903 practice)."""

    VALID = "01", "有效"
    SUSPENDED = "02", "暂扣"
    REVOKED = "03", "撤销"
    CANCELLED = "04", "注销"
    EXPIRED = "05", "失效"
    WITHDRAWN = "07", "吊销"
    OTHER = "99", "其他"


def certificate_upload_path(instance: "Certificate", filename: str) -> str:
    return f"certificates/{instance.issued_on:%Y}/{filename}"


class Certificate(models.Model):
    """电子证照: one version of one certificate, with its signed PDF and QR payload."""

    identifier = models.CharField("证照标识", max_length=120, unique=True)
    certificate_type = models.ForeignKey(CertificateType, verbose_name="证照类型", on_delete=models.PROTECT,
                                         related_name="certificates")
    number = models.CharField("证照编号", max_length=60, db_index=True,
                              help_text="照面上的编号；同一证照的各版本相同")
    serial = models.CharField("序列号", max_length=40)
    version = models.PositiveSmallIntegerField("版本", default=1)
    holder_kind = models.CharField("持证主体类别", max_length=10, choices=HolderKind.choices)
    person = models.ForeignKey("identity.Person", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="certificates", verbose_name="持证人")
    enterprise = models.ForeignKey("identity.Enterprise", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="certificates", verbose_name="持证单位")
    holder_name = models.CharField("持证主体", max_length=100)
    holder_code = EncryptedTextField("持证主体代码", context="certificate_holder_code")
    # Same blind-index context as identity's ID numbers, so a person's certificates are found by
    # Person.id_number_index without decrypting anything.
    holder_code_index = BlindIndexField(source="holder_code", normaliser=normalise_id_number,
                                        context="citizen_id")
    holder_code_type = models.CharField("持证主体代码类型", max_length=3, choices=HolderCodeType.choices)
    data_json = EncryptedTextField("照面信息（JSON）", context="certificate_data", default="{}")
    issuing_organization = models.ForeignKey(Organization, verbose_name="颁发机构", on_delete=models.PROTECT,
                                             related_name="certificates")
    area_code = models.CharField("颁发机构行政区划代码", max_length=12, blank=True)
    issued_on = models.DateField("颁证日期")
    valid_from = models.DateField("有效期起")
    valid_to = models.DateField("有效期至", null=True, blank=True, help_text="空为长期有效")
    status = models.CharField("状态", max_length=2, choices=Status.choices, default=Status.VALID, db_index=True)
    status_reason = models.CharField("状态原因", max_length=300, blank=True)
    status_changed_at = models.DateTimeField("状态变更时间", null=True, blank=True)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="certificates", verbose_name="办件")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="next_versions", verbose_name="上一版本")
    superseded = models.BooleanField("已被新版本取代", default=False)
    pdf = models.FileField("证照文件（已签章 PDF）", upload_to=certificate_upload_path, blank=True)
    pdf_sha256 = models.CharField("文件摘要", max_length=64, blank=True)
    qr_payload = models.TextField("二维码载荷", blank=True)
    kid = models.CharField("签名密钥标识", max_length=100, blank=True)
    lock_version = models.PositiveIntegerField("修改序号", default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="制证人")
    created_at = models.DateTimeField("制证时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "电子证照"
        ordering = ["-issued_on", "-id"]
        indexes = [
            models.Index(fields=["issuing_organization", "status"]),
            models.Index(fields=["status", "valid_to"]),
            models.Index(fields=["certificate_type", "serial"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["certificate_type", "serial", "version"],
                                    name="unique_certificate_version"),
        ]

    def __str__(self) -> str:
        return f"{self.certificate_type.name} {self.number}"

    @property
    def data(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data_json or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self.data_json = json.dumps(value, ensure_ascii=False, sort_keys=True)

    @property
    def is_valid(self) -> bool:
        return self.status == Status.VALID

    def face_rows(self) -> list[tuple[str, Any]]:
        """The type's fields that have a value, as (label, value) in display order (照面信息)."""
        data = self.data
        return [(f.get("label", f["name"]), data[f["name"]]) for f in self.certificate_type.fields
                if data.get(f["name"]) not in (None, "")]


class CertificateEvent(models.Model):
    """证照记录: issue, change, reissue, suspension, resumption, revocation, expiry."""

    class Kind(models.TextChoices):
        ISSUED = "issued", "颁发"
        CHANGED = "changed", "变更"
        REISSUED = "reissued", "补发"
        SUPERSEDED = "superseded", "被新版本取代"
        SUSPENDED = "suspended", "暂扣"
        RESUMED = "resumed", "恢复"
        REVOKED = "revoked", "撤销"
        WITHDRAWN = "withdrawn", "吊销"
        CANCELLED = "cancelled", "注销"
        EXPIRED = "expired", "到期失效"

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField("事件", max_length=12, choices=Kind.choices)
    reason = models.CharField("原因", max_length=300, blank=True)
    from_status = models.CharField("原状态", max_length=2, blank=True)
    to_status = models.CharField("新状态", max_length=2, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name="操作人")
    actor_name = models.CharField("操作人姓名", max_length=60, blank=True)
    detail = models.JSONField("详情", default=dict, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "证照记录"
        ordering = ["created_at", "id"]
from yiwang.certificates.models_sharing import *  # noqa: E402,F401,F403
