"""Back-office forms for an item version and its materials.

The forms only parse input into the shapes the catalog services take; every rule about
what makes a version valid lives in ``catalog.services``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.forms.utils import ErrorDict

from yiwang.catalog import codes
from yiwang.catalog.models import ItemVersion, Material, Theme
from yiwang.catalog.services import MATERIAL_FIELDS, VERSION_FIELDS
from yiwang.core.forms import bilingual
from yiwang.core.models import Organization

# 办事指南 order: each section is (anchor, heading, fields); the materials formset sits in "materials".
SECTIONS: list[tuple[str, str, list[str]]] = [
    ("basic", "基本信息", ["name", "aliases", "item_type", "exercise_level", "power_source", "service_objects",
                       "themes", "entrusted_org", "joint_orgs", "result_name", "result_type", "intermediary"]),
    ("conditions", "受理条件", ["conditions", "quantity_limit", "min_assurance_level"]),
    ("materials", "申请材料", []),
    ("process", "办理流程", ["process", "special_procedures", "handling_forms", "online_depth", "visits",
                         "onsite_reason", "online_url", "scope", "in_hall", "supports_express", "supports_payment",
                         "supports_appointment", "supports_self_service"]),
    ("limits", "办理时限", ["case_type", "statutory_limit_days", "statutory_limit_note", "promised_limit_days",
                        "promised_limit_note"]),
    ("fees", "收费标准", ["charges_fee", "fee_standard", "fee_basis"]),
    ("basis", "设定依据", ["legal_basis"]),
    ("contact", "办理地点与咨询投诉", ["location", "hours", "consult_phone", "supervise_phone"]),
    ("effect", "生效日期", ["effective_date", "cancel_date"]),
]

MULTI_CHOICES = {
    "service_objects": codes.ServiceObject.choices,
    "handling_forms": codes.HandlingForm.choices,
    "online_depth": codes.OnlineDepth.choices,
}
HINTS = {
    "aliases": "群众常说的叫法，多个用“|”分隔，例如：开饭店|开餐馆",
    "process": "每行一个环节，例如：申请、受理、审查、决定、送达",
    "service_objects": "至少选择一项",
    "online_depth": "选择“互联网办理”且到现场次数为0时为全程网办（Ⅳ级）",
    "visits": "全程网办填 0",
    "onsite_reason": "到现场次数大于0且可互联网办理时必填",
    "promised_limit_days": "不能超过法定办结时限",
    "fee_standard": "收费事项必填",
    "min_assurance_level": "1 为最低实名等级",
    "change_note": "简要说明本次修改了什么，便于审核",
}


def _formfield(model_field, **kwargs):
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return model_field.formfield(**kwargs)


class QuietMixin:
    """A bound form that redisplays input without judging it (used when adding a material row)."""

    quiet = False

    def full_clean(self):
        if self.quiet:
            self._errors = ErrorDict()
            self.cleaned_data = {}
            return
        super().full_clean()


class ItemVersionForm(QuietMixin, forms.Form):
    """Every element of an item version; ``organizations`` adds the implementing-organisation choice."""

    def __init__(self, *args, organizations=None, quiet: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.quiet = quiet
        plain = [f for f in VERSION_FIELDS if f not in MULTI_CHOICES]
        generated = forms.fields_for_model(ItemVersion, fields=plain, formfield_callback=_formfield)
        fields: dict[str, forms.Field] = {}
        if organizations is not None:
            fields["organization"] = forms.ModelChoiceField(
                queryset=organizations, label="实施机构", empty_label=None,
                help_text="只列出您可以管理事项的机构")
        for name in [f for _, _, names in SECTIONS for f in names]:
            if name in MULTI_CHOICES:
                field = forms.MultipleChoiceField(
                    label=ItemVersion._meta.get_field(name).verbose_name, choices=MULTI_CHOICES[name],
                    required=name == "service_objects", widget=forms.CheckboxSelectMultiple)
            elif name == "themes":
                field = forms.MultipleChoiceField(
                    label="主题分类", required=False, widget=forms.CheckboxSelectMultiple,
                    choices=[(t.code, f"{t.name}（{t.get_audience_display()}）") for t in Theme.objects.all()])
            else:
                field = generated[name]
                if isinstance(field, forms.DateField):
                    field.widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
                elif isinstance(field.widget, forms.Textarea):
                    field.widget.attrs.update({"rows": 4 if name in ("conditions", "process", "legal_basis") else 2,
                                               "cols": 60})
            if name in HINTS:
                field.help_text = HINTS[name]
            fields[name] = bilingual(field)
        fields["change_note"] = bilingual(forms.CharField(label="修改说明", max_length=200, required=False,
                                                          help_text=HINTS["change_note"]))
        for field in fields.values():
            bilingual(field)
        self.fields = fields

    def sections(self):
        """(anchor, heading, bound fields) in 办事指南 order, for the template."""
        out = []
        for anchor, heading, names in SECTIONS:
            bound = [self[n] for n in names]
            if anchor == "basic" and "organization" in self.fields:
                bound.insert(0, self["organization"])
            if anchor == "effect":
                bound.append(self["change_note"])
            out.append((anchor, heading, bound))
        return out

    def version_data(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in VERSION_FIELDS if f in self.cleaned_data}
        for f in ("effective_date", "cancel_date"):
            data.setdefault(f, None)
        data["change_note"] = self.cleaned_data.get("change_note", "")
        return data

    def theme_codes(self) -> list[str]:
        return list(self.cleaned_data.get("themes") or [])

    @staticmethod
    def initial_for(version: ItemVersion) -> dict[str, Any]:
        initial = {f: getattr(version, f) for f in VERSION_FIELDS}
        initial["themes"] = list(version.themes.values_list("code", flat=True))
        initial["change_note"] = version.change_note
        return initial


class MaterialForm(QuietMixin, forms.Form):
    """One 申请材料 row. Files are judged by ``core.uploads.check_upload`` in the view."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        generated = forms.fields_for_model(Material, fields=[f for f in MATERIAL_FIELDS if f != "required"])
        fields: dict[str, forms.Field] = {}
        for name in MATERIAL_FIELDS:
            if name == "required":
                field = forms.TypedChoiceField(label="是否必要", choices=[("1", "必要"), ("0", "非必要")],
                                               coerce=lambda v: v == "1", initial="1")
            else:
                field = generated[name]
                if name in ("notes", "condition"):
                    field.widget = forms.Textarea(attrs={"rows": 2, "cols": 40})
            fields[name] = bilingual(field)
        fields["condition"].help_text = "非必要材料须写明何种情形下提交"
        fields["blank_form"] = bilingual(forms.FileField(label="空白表格", required=False,
                                                         help_text="PDF、Word、Excel、OFD 或图片"))
        fields["sample"] = bilingual(forms.FileField(label="示例样表", required=False))
        fields["existing_blank_form"] = forms.CharField(required=False, widget=forms.HiddenInput)
        fields["existing_sample"] = forms.CharField(required=False, widget=forms.HiddenInput)
        fields["clear_blank_form"] = forms.BooleanField(label="移除现有空白表格", required=False)
        fields["clear_sample"] = forms.BooleanField(label="移除现有示例样表", required=False)
        self.fields = fields

    LAYOUT = ("name", "kind", "media", "originals", "copies", "required", "condition", "source", "source_detail",
              "paper_size", "notes")

    def layout(self):
        return [self[n] for n in self.LAYOUT]

    @staticmethod
    def initial_for(material: Material) -> dict[str, Any]:
        initial = {f: getattr(material, f) for f in MATERIAL_FIELDS}
        initial["required"] = "1" if material.required else "0"
        initial["existing_blank_form"] = material.blank_form.name or ""
        initial["existing_sample"] = material.sample.name or ""
        return initial


class BaseMaterialFormSet(forms.BaseFormSet):
    quiet = False

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.quiet = self.quiet
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "删除此材料"
        return form

    def full_clean(self):
        if self.quiet:
            self._errors = [ErrorDict() for _ in self.forms]
            self._non_form_errors = self.error_class(error_class="nonform", renderer=self.renderer)
            return
        super().full_clean()


MaterialFormSet = forms.formset_factory(MaterialForm, formset=BaseMaterialFormSet, extra=1, can_delete=True,
                                        max_num=60, validate_max=True)
MATERIAL_PREFIX = "m"
# Values a new, untouched material row posts (so an added row does not count as filled in).
NEW_ROW_DEFAULTS = {"kind": "1", "media": "3", "originals": "1", "copies": "0", "required": "1",
                    "source": "applicant", "paper_size": "A4"}


class ReviewForm(forms.Form):
    opinion = bilingual(forms.CharField(label="审核意见", max_length=500, required=False,
                                        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                                        help_text="退回修改时必填，写明需要修改之处"))


class RetireForm(forms.Form):
    reason = bilingual(forms.CharField(label="取消原因", max_length=200, required=False,
                                       widget=forms.Textarea(attrs={"rows": 2, "cols": 60})))


def organizations_for_choice(ids: set[int] | None):
    qs = Organization.objects.filter(is_active=True).select_related("region").order_by("region__code", "name")
    return qs if ids is None else qs.filter(pk__in=ids)
