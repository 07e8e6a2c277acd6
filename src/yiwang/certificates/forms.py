"""Office forms of the certificate catalog and lifecycle; they parse input, the services decide."""

from __future__ import annotations

from django import forms

from yiwang.certificates.models import CertificateType, HolderKind, Status, Template
from yiwang.core.forms import bilingual
from yiwang.core.models import Organization


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class TypeForm(forms.Form):
    name = bilingual(forms.CharField(label="证照名称", max_length=100))
    type_code = bilingual(forms.CharField(
        label="证照类型代码", max_length=21, help_text="定义机构的18位统一社会信用代码加3位顺序码，如 …001"))
    defining_organization = bilingual(forms.ChoiceField(label="证照定义机构"))
    issuing_organization = bilingual(forms.ChoiceField(label="颁发机构"))
    holder_kind = bilingual(forms.ChoiceField(label="持证主体类别", choices=HolderKind.choices))
    template = bilingual(forms.ChoiceField(label="版式", choices=Template.choices))
    validity_years = bilingual(forms.IntegerField(label="有效期（年）", min_value=0, max_value=100, initial=0,
                                                  help_text="0 表示长期有效"))
    fields_text = bilingual(forms.CharField(
        label="照面信息项", widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="每行一项：标识|名称|类型(string/date/integer/number)|required 或 optional[,key]|脱敏方式"
                  "(name/id_number/address/uscc/phone，可空)。带 key 的项在核验时显示。"))
    mapping_text = bilingual(forms.CharField(
        label="数据来源", required=False, widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="每行一项：标识=来源，来源可为 form.表单字段、applicant.name、applicant.code、enterprise.name、"
                  "enterprise.uscc、enterprise.legal_representative、enterprise.address、case.number、"
                  "case.decided_on、item.name、=固定文字；多个来源用 | 分隔，取第一个有值的。未写的项取同名表单字段。"))
    item_codes = bilingual(forms.CharField(
        label="产生该证照的事项", required=False, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="每行一个基本编码（12位）或实施编码（31位）"))
    materials_text = bilingual(forms.CharField(
        label="可替代的申请材料", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="每行一个材料名称（或材料的来源说明），办事时可用本证照代替"))
    description = bilingual(forms.CharField(label="说明", max_length=300, required=False))
    is_active = forms.BooleanField(label="启用", required=False, initial=True)
    lock_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organizations: list[Organization], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "请选择")] + [(o.uscc, o.name) for o in organizations]
        self.fields["issuing_organization"].choices = choices
        everyone = Organization.objects.filter(is_active=True).order_by("region__code", "name")
        self.fields["defining_organization"].choices = [("", "请选择")] + [(o.uscc, o.name) for o in everyone]

    def clean_mapping_text(self) -> dict[str, str]:
        mapping = {}
        for line in _lines(self.cleaned_data.get("mapping_text", "")):
            name, sep, source = line.partition("=")
            if not sep or not name.strip() or not source.strip():
                raise forms.ValidationError(f"“{line}”应写成 标识=来源 / write name=source")
            mapping[name.strip()] = source.strip()
        return mapping

    def item_code_list(self) -> list[str]:
        return [c.upper() for c in _lines(self.cleaned_data.get("item_codes", ""))]

    def material_list(self) -> list[str]:
        return _lines(self.cleaned_data.get("materials_text", ""))

    @staticmethod
    def initial_for(ctype: CertificateType) -> dict:
        from yiwang.certificates.services import fields_text

        codes = [b.basic_code for b in ctype.basic_items.all()] + [
            s.implementation_code for s in ctype.service_items.all()]
        return {"name": ctype.name, "type_code": ctype.type_code,
                "defining_organization": ctype.defining_organization.uscc,
                "issuing_organization": ctype.issuing_organization.uscc, "holder_kind": ctype.holder_kind,
                "template": ctype.template, "validity_years": ctype.validity_years,
                "fields_text": fields_text(ctype.fields),
                "mapping_text": "\n".join(f"{k}={v}" for k, v in ctype.form_mapping.items()),
                "item_codes": "\n".join(codes), "materials_text": "\n".join(ctype.stands_for_materials),
                "description": ctype.description, "is_active": ctype.is_active,
                "lock_version": ctype.lock_version}


class SearchForm(forms.Form):
    q = forms.CharField(label="证照标识、编号、持证主体名称或证件号码", required=False, max_length=120)
    type = forms.CharField(label="证照类型", required=False)
    status = forms.ChoiceField(label="状态", required=False, choices=[("", "全部")] + list(Status.choices))


ACTIONS = {
    "suspend": "暂扣",
    "resume": "恢复（发还）",
    "revoke": "撤销",
    "withdraw": "吊销",
    "cancel": "注销",
    "reissue": "补发",
    "change": "变更",
}


class ActionForm(forms.Form):
    action = bilingual(forms.ChoiceField(label="操作", choices=list(ACTIONS.items())))
    reason = bilingual(forms.CharField(label="原因", max_length=300, widget=forms.Textarea(attrs={"rows": 2})))
    lock_version = forms.IntegerField(widget=forms.HiddenInput)


def change_form(ctype: CertificateType, data: dict, post=None) -> forms.Form:
    """One text box per data field, filled with the current value."""
    form = forms.Form(post, prefix="d")
    for f in ctype.fields:
        form.fields[f["name"]] = bilingual(forms.CharField(
            label=f.get("label", f["name"]), required=False, max_length=int(f.get("max_length", 200)),
            initial=data.get(f["name"], "")))
    return form
