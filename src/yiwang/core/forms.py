"""Back-office forms for regions and organisations, and the bilingual messages every office form uses.

Forms only parse input; the rules live in ``core.services``.
"""

from __future__ import annotations

from django import forms
from django.core import validators as dj_validators

from yiwang.core.models import Organization, Region

_MESSAGES = {
    "required": "请填写此项 / this field is required",
    "invalid": "格式不正确 / enter a valid value",
    "invalid_choice": "请从列表中选择 / choose one of the listed values",
    "invalid_list": "请从列表中选择 / choose from the list",
    "missing": "未收到文件 / no file was received",
    "empty": "文件内容为空 / the file is empty",
}
_TYPE_MESSAGES = {
    forms.IntegerField: "请输入整数 / enter a whole number",
    forms.DateField: "请输入有效日期，如 2025-01-31 / enter a valid date such as 2025-01-31",
    forms.URLField: "请输入有效网址，如 https://… / enter a valid web address",
}


def bilingual(field: forms.Field) -> forms.Field:
    """Replace Django's default (Chinese-only) messages with the platform's 中文 / English ones."""
    field.error_messages = {**field.error_messages, **_MESSAGES}
    for kind, message in _TYPE_MESSAGES.items():
        if isinstance(field, kind):
            field.error_messages["invalid"] = message
    for v in field.validators:
        if isinstance(v, dj_validators.MaxLengthValidator):
            v.message = f"不超过{v.limit_value}字 / at most {v.limit_value} characters"
        elif isinstance(v, dj_validators.MinValueValidator):
            v.message = f"不能小于{v.limit_value} / must be at least {v.limit_value}"
        elif isinstance(v, dj_validators.MaxValueValidator):
            v.message = f"不能大于{v.limit_value} / must be at most {v.limit_value}"
    return field


class RegionForm(forms.Form):
    code = bilingual(forms.CharField(label="区划代码", max_length=12, help_text=(
        "12位统计用区划代码，如乡镇街道 390102001000；层级和上级区划由代码自动确定")))
    name = bilingual(forms.CharField(label="名称", max_length=60))


class RegionNameForm(forms.Form):
    name = bilingual(forms.CharField(label="名称", max_length=60))


def region_choices() -> list[tuple[str, str]]:
    return [("", "请选择")] + [(r.code, f"{'　' * (r.level - 1)}{r.name}（{r.code}）")
                             for r in Region.objects.order_by("code")]


def parent_choices(exclude: Organization | None = None) -> list[tuple[str, str]]:
    qs = Organization.objects.filter(is_active=True).order_by("region__code", "name")
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return [("", "无（顶层机构）")] + [(o.uscc, o.name) for o in qs]


class OrganizationForm(forms.Form):
    """Region and parent are posted as codes (division code, USCC): the service resolves them."""

    uscc = bilingual(forms.CharField(label="统一社会信用代码", max_length=18, help_text="18位，校验位会自动核对"))
    name = bilingual(forms.CharField(label="机构名称", max_length=100))
    short_name = bilingual(forms.CharField(label="简称", max_length=40, required=False))
    kind = bilingual(forms.ChoiceField(label="类型", choices=Organization.Kind.choices,
                                       initial=Organization.Kind.DEPARTMENT))
    nature = bilingual(forms.ChoiceField(label="实施主体性质", choices=Organization.Nature.choices,
                                         initial=Organization.Nature.STATUTORY))
    department_code = bilingual(forms.CharField(label="部门编码", max_length=4, required=False,
                                                help_text="4位数字，生成事项基本编码时使用，如 0117"))
    region = bilingual(forms.CharField(label="服务区域", widget=forms.Select))
    parent = bilingual(forms.CharField(label="上级机构", required=False, widget=forms.Select))
    address = bilingual(forms.CharField(label="地址", max_length=200, required=False))
    phone = bilingual(forms.CharField(label="电话", max_length=40, required=False))

    def __init__(self, *args, organization: Organization | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].widget.choices = region_choices()
        self.fields["parent"].widget.choices = parent_choices(organization)

    @staticmethod
    def initial_for(org: Organization) -> dict:
        return {"uscc": org.uscc, "name": org.name, "short_name": org.short_name, "kind": org.kind,
                "nature": org.nature, "department_code": org.department_code, "region": org.region.code,
                "parent": org.parent.uscc if org.parent_id else "", "address": org.address, "phone": org.phone}


class DeactivateForm(forms.Form):
    reason = bilingual(forms.CharField(label="停用原因", max_length=200, required=False))
