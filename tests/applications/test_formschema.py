"""The application form engine (申请表单): definitions, rendering, parsing, validation, prefill,
and 一表申请 merging, specified by behaviour."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yiwang.applications import formschema as fs
from yiwang.applications.formschema import FormDefinitionError
from yiwang.core.validators import make_citizen_id, make_uscc

GOOD_ID = make_citizen_id("110105", dt.date(1990, 3, 7), "123")
GOOD_USCC = make_uscc("9", "1", "390102", "MA0AB12C")


def bad_check_char(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


# A definition that uses every supported feature.
RICH = {
    "title": "餐饮服务许可申请",
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "applicant_name": {"type": "string", "title": "申请人姓名", "minLength": 2,
                               "maxLength": 20, "x-prefill": "applicant.name"},
            "id_number": {"type": "string", "title": "公民身份号码", "format": "id_number"},
            "mobile": {"type": "string", "title": "手机号码", "format": "mobile",
                       "x-title-en": "Mobile number"},
            "email": {"type": "string", "title": "电子邮箱", "format": "email"},
            "uscc": {"type": "string", "title": "统一社会信用代码"},
            "opening_date": {"type": "string", "title": "开业日期", "format": "date"},
            "licence_code": {"type": "string", "title": "许可编号", "pattern": "^[A-Z]{2}[0-9]{4}$"},
            "seats": {"type": "integer", "title": "座位数", "minimum": 1, "maximum": 500},
            "area": {"type": "number", "title": "经营面积", "minimum": 0, "maximum": 100000},
            "gender": {"type": "string", "title": "性别", "enum": ["M", "F"],
                       "x-enum-labels": ["男", "女"]},
            "district": {"type": "string", "title": "所在区县",
                         "enum": ["滨江区", "临江区", "江北区", "江南区", "新城区", "老城区"]},
            "services": {"type": "array", "title": "经营项目", "minItems": 1,
                         "items": {"type": "string", "enum": ["热食", "冷食", "生食", "饮品"]},
                         "uniqueItems": True},
            "delivery": {"type": "boolean", "title": "是否提供外卖", "x-title-en": "Delivery"},
            "newsletter": {"type": "boolean", "title": "接收办理提醒"},
            "agree": {"type": "boolean", "title": "我承诺所填信息真实", "const": True},
            "note": {"type": "string", "title": "补充说明", "maxLength": 500},
        },
        "required": ["applicant_name", "id_number", "mobile", "seats", "gender", "services",
                     "agree", "delivery"],
        "additionalProperties": False,
    },
    "layout": [
        {"title": "申请人", "fields": [
            "applicant_name",
            {"name": "id_number", "prefill": "applicant.id_number", "hint": "18位，最后一位可能是X"},
            {"name": "mobile", "prefill": "applicant.mobile"},
            "email",
            "gender",
        ]},
        {"title": "经营信息", "description": "按营业执照填写", "fields": [
            {"name": "uscc", "widget": "uscc", "prefill": "enterprise.uscc"},
            "opening_date", "licence_code", "seats", "area", "district", "services",
            {"name": "delivery", "widget": "radio"},
            "newsletter",
            {"name": "note", "widget": "textarea"},
            "agree",
        ]},
    ],
}

VALID = {
    "applicant_name": "张明华", "id_number": GOOD_ID, "mobile": "13800138000",
    "email": "zhang@example.cn", "uscc": GOOD_USCC, "opening_date": "2026-01-31",
    "licence_code": "JY1234", "seats": 40, "area": 85.5, "gender": "F", "district": "江北区",
    "services": ["热食", "饮品"], "delivery": False, "newsletter": True, "agree": True,
    "note": "第一行\n第二行 <b>不是标签</b> & 符号",
}


# ---------------------------------------------------------------- a browser, for round trips

class _Browser(HTMLParser):
    """Collects what a browser would submit for the rendered fields (successful controls)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self.select: dict | None = None
        self.option: dict | None = None
        self.textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if "name" in a:
                self.pairs.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self.select = {"name": a.get("name"), "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self.select["options"].append(self.option)
        elif tag == "textarea":
            self.textarea = {"name": a.get("name"), "text": ""}

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea["text"] += data
        elif self.option is not None:
            self.option["text"] += data

    def handle_endtag(self, tag):
        if tag == "select" and self.select is not None:
            chosen = [o for o in self.select["options"] if o["selected"]]
            if not chosen and not self.select["multiple"] and self.select["options"]:
                chosen = self.select["options"][:1]
            for o in chosen:
                self.pairs.append((self.select["name"],
                                   o["value"] if o["value"] is not None else o["text"]))
            self.select = None
        elif tag == "option":
            self.option = None
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea["text"]
            text = text[1:] if text.startswith("\n") else text  # HTML drops the first newline
            self.pairs.append((self.textarea["name"], text.replace("\n", "\r\n")))
            self.textarea = None


def submit(html: str, **changes: str) -> QueryDict:
    browser = _Browser()
    browser.feed(str(html))
    browser.close()
    qd = QueryDict(mutable=True)
    qd["csrfmiddlewaretoken"] = "token"
    for name, value in browser.pairs:
        if name not in changes:
            qd.appendlist(name, value)
    for name, value in changes.items():
        qd[name] = value
    return qd


def field_html(html: str, name: str) -> str:
    """The markup of one field's block."""
    match = re.search(rf'<(div|fieldset) class="field[^"]*"[^>]*data-field="{name}".*?'
                      rf'(?=<(?:div|fieldset) class="field(?: field-error)?"|</section>)', str(html), re.S)
    assert match, f"no field {name}"
    return match.group(0)


# ---------------------------------------------------------------- definitions

def test_rich_and_default_definitions_are_accepted():
    fs.check_definition(RICH)
    fs.check_definition(json.dumps(RICH, ensure_ascii=False))
    fs.check_definition(fs.default_definition("person"))
    fs.check_definition(fs.default_definition("legal"))


def test_default_person_form_asks_name_id_mobile_address_and_description():
    defn = fs.default_definition("person")
    assert fs.field_names(defn) == ["applicant_name", "id_number", "mobile", "address",
                                    "description"]
    titles = {n: p["title"] for n, p in defn["schema"]["properties"].items()}
    assert titles["description"] == "申请事项说明"


def test_default_legal_person_form_asks_enterprise_details_and_contact():
    defn = fs.default_definition("legal")
    assert set(fs.field_names(defn)) == {"enterprise_name", "uscc", "legal_representative",
                                         "contact_name", "mobile", "address", "description"}
    assert fs.default_definition("enterprise") == defn
    defn["schema"]["properties"].clear()  # each call gives a fresh copy
    assert fs.default_definition("legal")["schema"]["properties"]


def test_unknown_applicant_kind_is_refused():
    with pytest.raises(ValueError, match="person 或 legal"):
        fs.default_definition("robot")


def errors_of(defn) -> dict[str, list[str]]:
    with pytest.raises(FormDefinitionError) as info:
        fs.check_definition(defn)
    assert info.value.errors
    return info.value.errors


def with_schema(**props) -> dict:
    return {"schema": {"type": "object", "properties": props},
            "layout": [{"title": "分组", "fields": list(props)}]}


def test_definition_must_be_an_object_with_schema_and_layout():
    assert "__all__" in errors_of([1, 2])
    assert "__all__" in errors_of("not json")
    assert "schema" in errors_of({"layout": [{"title": "a", "fields": ["x"]}]})
    assert "__all__" in errors_of({**with_schema(a={"type": "string"}), "extra": 1})


def test_schema_breaking_the_metaschema_is_refused_per_field():
    errors = errors_of(with_schema(age={"type": "integer", "minimum": "ten"}))
    assert "age" in errors and "JSON Schema 2020-12" in errors["age"][0]


def test_layout_naming_an_unknown_field_is_refused():
    defn = with_schema(a={"type": "string"})
    defn["layout"][0]["fields"].append("ghost")
    assert "不在 schema 中" in errors_of(defn)["ghost"][0]


def test_schema_field_missing_from_layout_is_refused():
    defn = with_schema(a={"type": "string"}, b={"type": "string"})
    defn["layout"][0]["fields"] = ["a"]
    assert "missing from the layout" in errors_of(defn)["b"][0]


def test_field_placed_twice_is_refused():
    defn = with_schema(a={"type": "string"})
    defn["layout"].append({"title": "又一次", "fields": [{"name": "a"}]})
    assert "more than once" in errors_of(defn)["a"][0]


def test_duplicate_names_in_json_text_are_refused():
    text = ('{"schema": {"type": "object", "properties": {"a": {"type": "string"}, '
            '"a": {"type": "integer"}}}, "layout": [{"title": "t", "fields": ["a"]}]}')
    assert "重复" in errors_of(text)["__all__"][0]


def test_more_than_200_fields_is_refused():
    defn = with_schema(**{f"f{i}": {"type": "string"} for i in range(201)})
    assert "200" in errors_of(defn)["schema"][0]


def test_definition_over_64_kb_is_refused():
    defn = with_schema(**{f"f{i}": {"type": "string", "description": "说明" * 80}
                          for i in range(160)})
    assert len(json.dumps(defn, ensure_ascii=False).encode()) > 64 * 1024
    assert "64 KB" in errors_of(defn)["__all__"][0]


@pytest.mark.parametrize("prop, fragment", [
    ({"$ref": "#/$defs/x"}, "$ref"),
    ({"type": "string", "allOf": [{"minLength": 1}]}, "allOf"),
    ({"type": "object", "properties": {}}, "type"),
    ({"type": ["string", "null"]}, "type"),
    ({"type": "string", "format": "uri"}, "format"),
    ({"type": "string", "pattern": "(a+)+$"}, "pattern"),
    ({"type": "string", "pattern": r"(a)\1"}, "pattern"),
    ({"type": "string", "pattern": "[unclosed"}, "pattern"),
    ({"type": "string", "pattern": "^(ab|cd)+$"}, "pattern"),
    ({"type": "string", "pattern": "^[0-9]*[0-9]*[0-9]*x"}, "maxLength"),
    ({"type": "string", "pattern": "[A-Z]+"}, "anchor it with ^"),
    ({"type": "string", "minLength": 5, "maxLength": 2}, "minLength"),
    ({"type": "string", "maxLength": 1_000_000}, "maxLength"),
    ({"type": "integer", "minimum": 10, "maximum": 1}, "minimum"),
    ({"type": "string", "enum": [1, 2]}, "enum"),
    ({"type": "string", "enum": ["a", "a"]}, "enum"),
    ({"type": "string", "enum": ["a", "b"], "x-enum-labels": ["甲"]}, "x-enum-labels"),
    ({"type": "array", "items": {"type": "integer"}}, "items"),
    ({"type": "boolean", "const": False}, "const"),
    ({"type": "string", "x-prefill": "applicant.salary"}, "prefill"),
    ({"type": "string", "title": "<" * 101}, "title"),
])
def test_unsupported_or_unsafe_field_content_is_refused_with_a_message_for_that_field(prop,
                                                                                       fragment):
    messages = errors_of(with_schema(field=prop)).get("field", [])
    assert any(fragment in m for m in messages), messages


def test_patterns_that_stay_fast_are_accepted():
    for pattern, max_length in [("^[A-Z]{2}[0-9]{4}$", None), ("^(a|b)+$", None),
                                ("^[^<>]*$", None), ("[A-Z]+", 100), ("^.+@.+$", 1000),
                                ("^(?:https?|ftp)://[^ ]+$", 500)]:
        prop = {"type": "string", "pattern": pattern}
        if max_length:
            prop["maxLength"] = max_length
        fs.check_definition(with_schema(a=prop))


def test_an_accepted_pattern_answers_quickly_on_the_longest_allowed_answer():
    import time

    defn = with_schema(a={"type": "string", "pattern": "^[0-9]*[0-9]*x", "maxLength": 1400})
    started = time.perf_counter()
    assert fs.validate(defn, {"a": "1" * 1400})
    assert time.perf_counter() - started < 0.5


def test_top_level_schema_keywords_outside_the_supported_set_are_refused():
    defn = with_schema(a={"type": "string"})
    defn["schema"]["$defs"] = {"x": {"type": "string"}}
    defn["schema"]["additionalProperties"] = True
    messages = errors_of(defn)["schema"]
    assert any("$defs" in m for m in messages)
    assert any("additionalProperties" in m for m in messages)


@pytest.mark.parametrize("entry, fragment", [
    ({"name": "a", "widget": "slider"}, "unknown widget"),
    ({"name": "a", "widget": "checkbox"}, "does not fit"),
    ({"name": "a", "widget": "select"}, "needs enum"),
    ({"name": "a", "prefill": "enterprise.secret"}, "unknown prefill"),
    ({"name": "a", "colour": "red"}, "colour"),
])
def test_layout_options_are_checked(entry, fragment):
    defn = with_schema(a={"type": "string"})
    defn["layout"][0]["fields"] = [entry]
    assert any(fragment in m for m in errors_of(defn)["a"])


def test_field_names_must_be_safe_identifiers():
    errors = errors_of(with_schema(**{'x" onmouseover="alert(1)': {"type": "string"}}))
    assert any("字段名" in m for messages in errors.values() for m in messages)


def test_error_carries_every_problem_at_once():
    defn = with_schema(a={"type": "string", "format": "uri"}, b={"type": "integer",
                                                                 "pattern": "x"})
    defn["layout"][0]["fields"].append("c")
    assert {"a", "b", "c"} <= set(errors_of(defn))


# ---------------------------------------------------------------- rendering

def test_render_puts_label_above_hint_and_error_beside_the_field():
    errors = fs.validate(RICH, {**VALID, "id_number": bad_check_char(GOOD_ID)})
    html = str(fs.render(RICH, {**VALID, "id_number": bad_check_char(GOOD_ID)}, errors))
    block = field_html(html, "id_number")
    label = block.index('<label for="id_id_number">公民身份号码')
    hint = block.index('<p class="hint" id="id_id_number_hint">18位，最后一位可能是X')
    error = block.index('class="error-message"')
    control = block.index("<input")
    assert label < hint < error < control
    assert 'class="field field-error"' in block
    assert 'aria-describedby="id_id_number_hint id_id_number_error"' in block
    assert 'aria-invalid="true"' in block
    assert " required" in block


def test_render_shows_an_error_summary_linking_to_each_field_when_asked():
    html = str(fs.render(RICH, {}, fs.validate(RICH, {}), error_summary=True))
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#id_applicant_name"' in summary
    # each message names its field already, as it does beside the field
    assert ">请填写申请人姓名 / Applicant name is required</a>" in summary
    assert 'href="#id_gender_0"' in summary  # a group links to its first option


def test_pages_with_their_own_summary_link_to_each_field_block():
    errors = fs.validate(RICH, {**VALID, "seats": 0, "gender": None})
    html = str(fs.render(RICH, {**VALID, "seats": 0}, errors))
    assert "error-summary" not in html  # the page shows the summary, at its top
    entries = fs.summarise_errors(RICH, {**errors, "__all__": ["请检查 / check"]})
    assert entries == [
        {"label": "", "text": "请检查 / check", "href": ""},
        {"label": "性别", "text": "请选择性别 / Choose Gender", "href": "#f-gender"},
        {"label": "座位数", "text": "座位数不能小于1 / Seats must be at least 1", "href": "#f-seats"},
    ]
    assert 'id="f-seats"' in field_html(html, "seats")
    assert field_html(html, "gender").startswith('<fieldset class="field field-error" id="f-gender"')


def test_render_without_errors_has_no_summary_and_marks_optional_fields():
    html = str(fs.render(RICH, VALID, {}, error_summary=True))
    assert "error-summary" not in html
    assert "（选填）" in field_html(html, "email")
    assert "（选填）" not in field_html(html, "applicant_name")


def test_render_uses_the_portal_form_classes_and_fitting_inputs():
    html = str(fs.render(RICH, VALID, {}))
    assert 'type="tel"' in field_html(html, "mobile")
    assert 'inputmode="numeric"' in field_html(html, "seats")
    assert 'type="date"' in field_html(html, "opening_date")
    assert 'type="email"' in field_html(html, "email")
    assert "<select" in field_html(html, "district")
    assert field_html(html, "gender").startswith("<fieldset")
    assert 'type="radio"' in field_html(html, "gender")
    assert field_html(html, "services").count('type="checkbox"') == 4
    assert 'maxlength="20"' in field_html(html, "applicant_name")
    assert '<h2 id="form-section-2">经营信息</h2>' in html
    assert "applications/form.js" in html


def test_render_escapes_everything_administrators_and_applicants_write():
    defn = with_schema(a={"type": "string", "title": "<script>alert(1)</script>",
                          "description": "<img src=x onerror=alert(1)>"})
    html = str(fs.render(defn, {"a": '"><script>alert(2)</script>'}, {"a": ["<b>x</b>"]}))
    assert "<script>alert" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_render_tolerates_data_of_the_wrong_type():
    html = str(fs.render(RICH, {"seats": "很多", "services": "热食", "agree": "yes",
                                "area": float("nan"), "gender": ["M"]}, None))
    assert 'value="很多"' in field_html(html, "seats")


def test_render_offers_autosave_to_the_script_when_asked():
    html = str(fs.render(RICH, {}, {}, autosave_url="/applications/7/draft/"))
    assert 'data-autosave-url="/applications/7/draft/"' in html
    assert 'data-autosave-status' in html
    assert 'data-autosave-status' not in str(fs.render(RICH, {}, {}))


def test_render_accepts_a_single_message_as_text():
    html = str(fs.render(RICH, {}, {"seats": "请填写座位数 / Seats is required"}))
    assert "请填写座位数 / Seats is required</p>" in field_html(html, "seats")
    assert fs.summarise_errors(RICH, {"seats": "整数"})[0]["text"] == "整数"


def test_render_returns_a_safe_string():
    from django.utils.safestring import SafeString
    assert isinstance(fs.render(RICH, {}, {}), SafeString)


# ---------------------------------------------------------------- parsing

def test_round_trip_render_submit_parse_validate():
    html = fs.render(RICH, VALID, {})
    data = fs.parse(RICH, submit(html))
    assert data == VALID
    assert fs.validate(RICH, data) == {}


def test_parse_gives_typed_values_and_leaves_unknown_keys_out():
    qd = QueryDict(mutable=True)
    qd.update({"seats": "12", "area": "3.25", "delivery": "false", "agree": "true",
               "hacker": "1", "csrfmiddlewaretoken": "x"})
    qd.setlist("services", ["热食", "", "冷食"])
    assert fs.parse(RICH, qd) == {"seats": 12, "area": 3.25, "delivery": False, "agree": True,
                                  "services": ["热食", "冷食"]}


def test_parse_accepts_a_plain_dict():
    assert fs.parse(RICH, {"seats": "7", "services": ["饮品"]}) == {"seats": 7,
                                                                   "services": ["饮品"]}


def test_unticked_checkbox_is_false_and_ticked_one_true():
    html = fs.render(RICH, {**VALID, "newsletter": False}, {})
    assert fs.parse(RICH, submit(html))["newsletter"] is False
    html = fs.render(RICH, {**VALID, "newsletter": True}, {})
    assert fs.parse(RICH, submit(html))["newsletter"] is True


def test_parse_trims_and_tidies_what_people_type():
    data = fs.parse(RICH, {"applicant_name": "  张明华 ", "mobile": "138 0013-8000",
                           "id_number": GOOD_ID[:-1] + GOOD_ID[-1].lower(),
                           "note": "甲\r\n乙\r丙", "seats": "１２", "area": "1,200.5",
                           "email": ""})
    assert data == {"applicant_name": "张明华", "mobile": "13800138000",
                    "id_number": GOOD_ID.upper(), "note": "甲\n乙\n丙", "seats": 12,
                    "area": 1200.5}


@pytest.mark.parametrize("typed, stored", [
    ("2026年1月5日", "2026-01-05"), ("2026/1/5", "2026-01-05"), ("2026.01.05", "2026-01-05"),
    ("２０２６－０１－０５", "2026-01-05"), ("2026-1-5", "2026-01-05"), ("5/1/2026", "5/1/2026"),
])
def test_dates_typed_the_usual_ways_are_understood(typed, stored):
    assert fs.parse(RICH, {"opening_date": typed}) == {"opening_date": stored}


@pytest.mark.parametrize("typed", ["+86 138 0013 8000", "0086-13800138000", "１３８００１３８０００"])
def test_mobile_numbers_typed_the_usual_ways_are_understood(typed):
    assert fs.parse(RICH, {"mobile": typed}) == {"mobile": "13800138000"}


def test_text_that_is_not_a_number_is_kept_so_the_applicant_sees_it_again():
    data = fs.parse(RICH, {"seats": "四十", "area": "inf", "delivery": "maybe"})
    assert data == {"seats": "四十", "area": "inf", "delivery": "maybe"}
    errors = fs.validate(RICH, data)
    assert errors["seats"] == ["座位数请填写整数，如 12 / Seats must be a whole number such as 12"]
    assert errors["area"][0].startswith("经营面积请填写数字")
    assert errors["delivery"][0].startswith("请选择是否提供外卖：是或否")
    assert 'value="四十"' in field_html(fs.render(RICH, data, errors), "seats")


# ---------------------------------------------------------------- validation messages

def messages_for(**changes):
    data = {**VALID, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return fs.validate(RICH, data)


def test_valid_answers_have_no_errors():
    assert fs.validate(RICH, VALID) == {}


@pytest.mark.parametrize("changes, field, message", [
    ({"applicant_name": None}, "applicant_name", "请填写申请人姓名 / Applicant name is required"),
    ({"applicant_name": ""}, "applicant_name", "请填写申请人姓名 / Applicant name is required"),
    ({"gender": None}, "gender", "请选择性别 / Choose Gender"),
    ({"applicant_name": "张"}, "applicant_name",
     "申请人姓名至少2个字 / Applicant name must have at least 2 characters"),
    ({"applicant_name": "张" * 21}, "applicant_name",
     "申请人姓名不能超过20个字 / Applicant name must have at most 20 characters"),
    ({"licence_code": "jy12"}, "licence_code",
     "许可编号的格式不正确 / Licence code is not in the expected format"),
    ({"district": "火星区"}, "district", "请从列表中选择所在区县 / Choose District from the list"),
    ({"services": ["热食", "烧烤"]}, "services",
     "请从列表中选择经营项目 / Choose Services from the list"),
    ({"services": ["热食", "热食"]}, "services", "经营项目中有重复的选项 / Services has an option twice"),
    ({"services": []}, "services", "请选择经营项目 / Choose Services"),
    ({"seats": 0}, "seats", "座位数不能小于1 / Seats must be at least 1"),
    ({"seats": 501}, "seats", "座位数不能大于500 / Seats must be at most 500"),
    ({"seats": 4.5}, "seats", "座位数请填写整数，如 12 / Seats must be a whole number such as 12"),
    ({"opening_date": "2026-02-30"}, "opening_date",
     "开业日期请填写有效日期，如 2025-01-31 / Opening date must be a real date such as 2025-01-31"),
    ({"opening_date": "31/01/2026"}, "opening_date",
     "开业日期请填写有效日期，如 2025-01-31 / Opening date must be a real date such as 2025-01-31"),
    ({"email": "not-an-address"}, "email",
     "电子邮箱请填写有效的电子邮箱，如 name@example.cn / Email must be an email address such as "
     "name@example.cn"),
    ({"mobile": "12345"}, "mobile",
     "手机号码应为以1开头的11位数字，如 13800138000 / Mobile number must be an 11-digit mobile "
     "number such as 13800138000"),
    ({"id_number": bad_check_char(GOOD_ID)}, "id_number",
     "公民身份号码：身份证号码校验位错误 / ID number check digit is wrong"),
    ({"uscc": bad_check_char(GOOD_USCC)}, "uscc",
     "统一社会信用代码：统一社会信用代码校验位错误 / credit code check character is wrong"),
    ({"agree": False}, "agree", "请勾选我承诺所填信息真实 / Tick Agree to continue"),
    ({"agree": None}, "agree", "请填写我承诺所填信息真实 / Agree is required"),
    ({"note": "a\x00b"}, "note", "补充说明含有不可见的控制字符 / Note contains invisible control characters"),
    ({"applicant_name": 42}, "applicant_name", "申请人姓名应为文字 / Applicant name must be text"),
])
def test_each_kind_of_error_has_its_own_message(changes, field, message):
    assert message in messages_for(**changes)[field]


def test_administrators_can_word_the_pattern_message():
    defn = with_schema(code={"type": "string", "title": "编号", "pattern": "^[A-Z]{2}$",
                             "x-pattern-message": "编号为2个大写字母 / two capital letters"})
    assert fs.validate(defn, {"code": "abc"}) == {"code": ["编号为2个大写字母 / two capital letters"]}
    assert "x-pattern-message" in errors_of(with_schema(a={"type": "string",
                                                          "x-pattern-message": "x"}))["a"][0]


def test_blank_answers_count_as_missing():
    assert messages_for(applicant_name="   \n ")["applicant_name"] == [
        "请填写申请人姓名 / Applicant name is required"]


def test_only_the_broken_fields_are_reported():
    errors = messages_for(seats=0, mobile="1")
    assert set(errors) == {"seats", "mobile"}


def test_widget_of_a_checked_kind_implies_its_check():
    # "uscc" has no format in RICH's schema; the uscc widget brings the check with it.
    assert "uscc" in messages_for(uscc="91390102MA0AB12C0X")


def test_unknown_fields_and_non_objects_are_reported_not_raised():
    assert "hacker" in fs.validate(RICH, {**VALID, "hacker": 1})["__all__"][0]
    assert fs.validate(RICH, ["not", "a", "dict"]) == {
        "__all__": ["提交的内容格式不正确 / the answers must be an object of fields"]}
    assert fs.validate(RICH, None)["__all__"]


def test_overlong_answers_are_refused_before_any_pattern_runs():
    errors = messages_for(licence_code="A" * 20_000)
    assert errors["licence_code"] == [f"许可编号不能超过{fs.MAX_TEXT}个字 / Licence code must have at "
                                      f"most {fs.MAX_TEXT} characters"]


def test_answers_are_listed_in_words_for_checking_before_submission():
    rows = fs.answer_rows(RICH, {**VALID, "email": ""})
    shown = {r["name"]: r["value"] for r in rows}
    assert [r["name"] for r in rows][:4] == ["applicant_name", "id_number", "mobile", "gender"]
    assert "email" not in shown
    assert shown["gender"] == "女"
    assert shown["services"] == "热食、饮品"
    assert shown["delivery"] == "否" and shown["agree"] == "是"
    assert shown["seats"] == "40"
    assert rows[1]["title"] == "公民身份号码" and rows[1]["format"] == "id_number"
    assert rows[1]["section"] == "申请人"
    assert fs.answer_rows(RICH, "nonsense") == []


def test_fields_are_described_in_layout_order():
    described = fs.fields(RICH)
    assert list(described) == fs.field_names(RICH)
    assert described["uscc"].format == "uscc"  # implied by its widget
    assert described["gender"].options == (("M", "男"), ("F", "女"))
    assert described["seats"].required and not described["email"].required


# ---------------------------------------------------------------- prefill

def test_prefill_takes_flat_or_nested_sources():
    got = fs.prefill(RICH, {"applicant.name": "张明华", "applicant": {"id_number": GOOD_ID},
                            "enterprise": {"uscc": GOOD_USCC.lower()}})
    assert got == {"applicant_name": "张明华", "id_number": GOOD_ID, "uscc": GOOD_USCC}


def test_prefill_reads_attributes_of_objects_but_not_methods():
    class Person:
        name = "李秀英"
        mobile = 13800138000

        def id_number(self):
            return GOOD_ID

    got = fs.prefill(RICH, {"applicant": Person()})
    assert got == {"applicant_name": "李秀英", "mobile": "13800138000"}


def test_prefill_keeps_what_the_applicant_already_wrote():
    draft = {"applicant_name": "自己写的名字", "mobile": ""}
    got = fs.prefill(RICH, {"applicant": {"name": "登记的名字", "mobile": "13900139000"}}, draft)
    assert got == {"applicant_name": "自己写的名字", "mobile": "13900139000"}
    assert draft == {"applicant_name": "自己写的名字", "mobile": ""}


def test_prefill_ignores_missing_and_empty_sources():
    assert fs.prefill(RICH, {"applicant": {"name": None, "mobile": ""}}) == {}
    assert fs.prefill(RICH, "nonsense") == {}


def test_prefill_of_the_default_legal_person_form():
    sources = {"applicant": {"name": "陈晓燕", "mobile": "13700137000"},
               "enterprise": {"name": "临江市青禾餐饮管理有限责任公司", "uscc": GOOD_USCC,
                              "legal_representative": "赵建国", "address": "临江市滨江区江滨路1号"}}
    defn = fs.default_definition("legal")
    got = fs.prefill(defn, sources)
    assert got == {"enterprise_name": "临江市青禾餐饮管理有限责任公司", "uscc": GOOD_USCC,
                   "legal_representative": "赵建国", "address": "临江市滨江区江滨路1号",
                   "contact_name": "陈晓燕", "mobile": "13700137000"}
    assert set(fs.validate(defn, got)) == {"description"}


def test_prefilled_values_appear_in_the_rendered_form():
    html = str(fs.render(RICH, fs.prefill(RICH, {"applicant.name": "张明华"}), {}))
    assert 'value="张明华"' in field_html(html, "applicant_name")


# ---------------------------------------------------------------- 一表申请

def form(title, **props):
    return {"title": title, "schema": {"type": "object", "properties": props,
                                       "required": list(props)},
            "layout": [{"title": "申请人信息", "fields": list(props)}]}


NAME = {"type": "string", "title": "姓名", "maxLength": 60}


def test_shared_fields_are_asked_once_and_split_back_to_each_item():
    a = form("事项甲", name=NAME, mobile={"type": "string", "format": "mobile", "title": "手机"})
    b = form("事项乙", name={**NAME, "title": "申请人姓名"},
             mobile={"type": "string", "format": "mobile"}, reason={"type": "string"})
    merged, mapping = fs.merge([a, b])
    assert fs.field_names(merged) == ["name", "mobile", "reason"]
    answers = {"name": "张明华", "mobile": "13800138000", "reason": "开店"}
    assert fs.validate(merged, answers) == {}
    first, second = fs.split(answers, mapping)
    assert first == {"name": "张明华", "mobile": "13800138000"}
    assert second == answers
    assert fs.validate(a, first) == {} and fs.validate(b, second) == {}


def test_same_named_fields_that_cannot_share_an_answer_are_kept_apart_and_labelled():
    a = form("事项甲", amount={"type": "integer", "title": "金额", "maximum": 100})
    b = form("事项乙", amount={"type": "string", "title": "金额", "pattern": "^[0-9]+元$"})
    merged, mapping = fs.merge([a, b])
    props = merged["schema"]["properties"]
    assert set(props) == {"amount", "item2__amount"}
    assert props["item2__amount"]["title"] == "金额（事项乙）"
    assert mapping == [{"amount": "amount"}, {"amount": "item2__amount"}]
    assert fs.split({"amount": 50, "item2__amount": "3000元"}, mapping) == [
        {"amount": 50}, {"amount": "3000元"}]
    assert fs.validate(merged, {"amount": 50, "item2__amount": "3000元"}) == {}
    assert "item2__amount" in fs.validate(merged, {"amount": 50, "item2__amount": "3000"})


def test_shared_field_accepts_what_every_item_accepts():
    a = form("甲", name={"type": "string", "title": "姓名", "minLength": 2, "maxLength": 60},
             seats={"type": "integer", "minimum": 0, "maximum": 500})
    b = form("乙", name={"type": "string", "title": "申请人姓名", "maxLength": 20},
             seats={"type": "integer", "minimum": 1, "maximum": 1000})
    merged, mapping = fs.merge([a, b])
    props = merged["schema"]["properties"]
    assert set(props) == {"name", "seats"}
    assert props["name"] == {"type": "string", "title": "姓名", "minLength": 2, "maxLength": 20}
    assert (props["seats"]["minimum"], props["seats"]["maximum"]) == (1, 500)
    assert mapping == [{"name": "name", "seats": "seats"}, {"name": "name", "seats": "seats"}]


def test_shared_choice_offers_the_options_both_items_accept():
    a = form("甲", district={"type": "string", "enum": ["bj", "lj", "jb"],
                            "x-enum-labels": ["滨江区", "临江区", "江北区"]})
    b = form("乙", district={"type": "string", "enum": ["jb", "bj", "xc"]})
    merged, _ = fs.merge([a, b])
    district = merged["schema"]["properties"]["district"]
    assert district["enum"] == ["bj", "jb"]
    assert district["x-enum-labels"] == ["滨江区", "江北区"]
    c = form("丙", district={"type": "string", "enum": ["xc"]})
    merged, mapping = fs.merge([a, c])
    assert mapping[1] == {"district": "item2__district"}


def test_a_check_one_item_asks_for_is_kept_for_the_shared_field():
    a = form("甲", code={"type": "string", "maxLength": 18})
    b = {"schema": {"type": "object", "properties": {"code": {"type": "string"}}},
         "layout": [{"title": "申请人信息", "fields": [{"name": "code", "widget": "uscc"}]}]}
    merged, _ = fs.merge([a, b])
    assert merged["schema"]["properties"]["code"]["format"] == "uscc"
    assert "code" in fs.validate(merged, {"code": "not-a-code"})
    assert fs.validate(merged, {"code": GOOD_USCC}) == {}


def test_merge_keeps_each_items_requirements():
    a = {"schema": {"type": "object", "properties": {"email": {"type": "string"}}},
         "layout": [{"title": "联系方式", "fields": ["email"]}]}
    b = form("事项乙", email={"type": "string"})
    merged, _ = fs.merge([a, b])
    assert merged["schema"]["required"] == ["email"]


def test_merge_joins_sections_with_the_same_title_and_takes_a_prefill_source():
    a = form("甲", name=NAME)
    b = {"schema": {"type": "object", "properties": {"name": NAME, "floor": {"type": "integer"}}},
         "layout": [{"title": "申请人信息", "fields": [{"name": "name",
                                                     "prefill": "applicant.name"}]},
                    {"title": "场所", "fields": ["floor"]}]}
    merged, _ = fs.merge([a, b])
    assert [s["title"] for s in merged["layout"]] == ["申请人信息", "场所"]
    assert fs.prefill(merged, {"applicant.name": "张明华"}) == {"name": "张明华"}


def test_merging_the_default_forms_with_a_custom_one():
    merged, mapping = fs.merge([fs.default_definition("person"), RICH],
                               titles=["个体工商户登记", "餐饮服务许可"])
    fs.check_definition(merged)
    assert fs.field_names(merged).count("mobile") == 1  # same rules in both: asked once
    assert "item2__id_number" not in merged["schema"]["properties"]
    # the two items' applicant names differ only in their limits: asked once, within both
    name = merged["schema"]["properties"]["applicant_name"]
    assert (name["minLength"], name["maxLength"]) == (2, 20)
    answers = fs.parse(merged, submit(fs.render(merged, {
        **VALID, "address": "滨江区", "description": "申请开业"}, {})))
    assert fs.validate(merged, answers) == {}
    own = fs.split(answers, mapping)
    assert fs.validate(RICH, own[1]) == {}
    assert own[0]["description"] == "申请开业"


def test_merge_refuses_bad_input_naming_the_form():
    with pytest.raises(FormDefinitionError) as info:
        fs.merge([RICH, {"schema": {}, "layout": []}])
    assert any(k.startswith("form2.") for k in info.value.errors)
    with pytest.raises(FormDefinitionError):
        fs.merge([])


def test_three_forms_conflicting_on_one_name_get_distinct_fields():
    defs = [form(f"事项{i}", size={"type": kind}) for i, kind in ((1, "integer"), (2, "string"),
                                                                (3, "boolean"))]
    merged, mapping = fs.merge(defs)
    assert [m["size"] for m in mapping] == ["size", "item2__size", "item3__size"]
    assert fs.split({"size": 1, "item2__size": 2, "item3__size": 3}, mapping) == [
        {"size": 1}, {"size": 2}, {"size": 3}]


def test_merge_result_is_json_that_can_be_stored():
    merged, mapping = fs.merge([RICH, fs.default_definition("legal")])
    assert json.loads(json.dumps([merged, mapping])) == [merged, mapping]


# ---------------------------------------------------------------- script

def test_script_works_without_outside_resources_and_saves_with_the_csrf_token():
    source = (Path(fs.__file__).parent / "static" / "applications" / "form.js").read_text()
    assert "http://" not in source and "https://" not in source
    assert "data-autosave-url" in source and "X-CSRFToken" in source
    assert "已自动保存" in source and "new FormData(form)" in source


# ---------------------------------------------------------------- properties

_printable = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"))
_line = st.text(_printable, min_size=1, max_size=20).map(str.strip).filter(bool)


def _text(min_size, max_size, lines=False):
    alphabet = st.one_of(_printable, st.just("\n")) if lines else _printable
    return (st.text(alphabet, min_size=min_size, max_size=max_size)
            .map(lambda s: s.strip()).filter(lambda s: min_size <= len(s) <= max_size and s))


_ids = st.builds(lambda d, n: make_citizen_id("110105", d, f"{n:03d}"),
                 st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)), st.integers(0, 999))
_usccs = st.builds(lambda body: make_uscc("9", "1", "390102", body),
                   st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8))

SERVICES = RICH["schema"]["properties"]["services"]["items"]["enum"]
VALID_DATA = st.fixed_dictionaries(
    {
        "applicant_name": _text(2, 20),
        "id_number": _ids,
        "mobile": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        "seats": st.integers(1, 500),
        "gender": st.sampled_from(["M", "F"]),
        # a browser sends ticked boxes in the order of the page
        "services": st.lists(st.sampled_from(SERVICES), min_size=1, unique=True)
        .map(lambda chosen: sorted(chosen, key=SERVICES.index)),
        "delivery": st.booleans(),
        "newsletter": st.booleans(),
        "agree": st.just(True),
    },
    optional={
        "email": st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(cn|com)", fullmatch=True),
        "uscc": _usccs,
        "opening_date": st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(str),
        "licence_code": st.from_regex(r"[A-Z]{2}[0-9]{4}", fullmatch=True),
        "area": st.one_of(st.integers(0, 100000),
                          st.floats(0, 100000, allow_nan=False, allow_infinity=False)),
        "district": st.sampled_from(RICH["schema"]["properties"]["district"]["enum"]),
        "note": _text(1, 500, lines=True),
    },
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_DATA)
def test_any_valid_answers_survive_render_submit_parse_unchanged(data):
    assert fs.validate(RICH, data) == {}
    parsed = fs.parse(RICH, submit(fs.render(RICH, data, {})))
    assert parsed == data
    assert [type(parsed[k]) for k in data] == [type(data[k]) for k in data]


@st.composite
def forms_with_answers(draw):
    """A random valid definition using any type and widget, and valid answers to it."""
    props, answers, required, names = {}, {}, [], []
    widgets: dict[str, str] = {}
    for i in range(draw(st.integers(1, 8))):
        name = f"q{i}"
        kind = draw(st.sampled_from(["text", "textarea", "enum", "format", "integer", "number",
                                     "boolean", "multi"]))
        prop: dict = {"title": draw(_line)}
        answer = st.nothing()
        widget = None
        if kind in ("text", "textarea"):
            low = draw(st.integers(1, 5))
            high = draw(st.integers(low, 300))
            prop.update(type="string", minLength=low, maxLength=high)
            widget = "textarea" if kind == "textarea" else draw(st.sampled_from([None, "text",
                                                                                 "address"]))
            answer = _text(low, high, lines=kind == "textarea")
        elif kind == "enum":
            values = draw(st.lists(_line, min_size=1, max_size=8, unique=True))
            prop.update(type="string", enum=values)
            if draw(st.booleans()):
                prop["x-enum-labels"] = [f"选项{v}" for v in values]
            widget = draw(st.sampled_from([None, "select", "radio"]))
            answer = st.sampled_from(values)
        elif kind == "format":
            fmt = draw(st.sampled_from(["date", "email", "mobile", "id_number", "uscc"]))
            prop.update(type="string", format=fmt)
            widget = draw(st.sampled_from([None, "text" if fmt == "email" else fmt]))
            answer = {"date": st.dates().map(str), "mobile": st.from_regex(r"1[3-9][0-9]{9}",
                                                                            fullmatch=True),
                      "email": st.from_regex(r"[a-z0-9]{1,8}@[a-z]{1,8}\.cn", fullmatch=True),
                      "id_number": _ids, "uscc": _usccs}[fmt]
        elif kind == "integer":
            low = draw(st.integers(-10**6, 10**6))
            high = draw(st.integers(low, low + 10**9))
            prop.update(type="integer", minimum=low, maximum=high)
            widget = draw(st.sampled_from([None, "number", "text"]))
            answer = st.integers(low, high)
        elif kind == "number":
            prop.update(type="number", minimum=-1e6, maximum=1e6)
            widget = draw(st.sampled_from([None, "number", "text"]))
            answer = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-10**6, 10**6)
        elif kind == "boolean":
            prop["type"] = "boolean"
            widget = draw(st.sampled_from([None, "checkbox", "radio", "select"]))
            answer = st.booleans()
        else:
            options = draw(st.lists(_line, min_size=1, max_size=15, unique=True))
            prop.update(type="array", items={"type": "string", "enum": options})
            widget = draw(st.sampled_from([None, "checkbox", "select"]))
            answer = st.lists(st.sampled_from(options), min_size=1, unique=True).map(
                lambda chosen, options=options: sorted(chosen, key=options.index))
        props[name] = prop
        names.append(name)
        if widget:
            widgets[name] = widget
        is_required = draw(st.booleans())
        if is_required:
            required.append(name)
        a_checkbox = kind == "boolean" and widget in (None, "checkbox")
        if is_required or a_checkbox or draw(st.booleans()):
            answers[name] = draw(answer)
    order = draw(st.permutations(names))
    cut = draw(st.integers(1, len(order)))
    entries = [{"name": n, "widget": widgets[n]} if n in widgets else n for n in order]
    layout = [{"title": "第一部分", "fields": entries[:cut]}]
    if entries[cut:]:
        layout.append({"title": "第二部分", "fields": entries[cut:]})
    defn = {"schema": {"type": "object", "properties": props, "required": required},
            "layout": layout}
    return defn, answers


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(forms_with_answers())
def test_any_form_renders_answers_that_come_back_unchanged(form_and_answers):
    defn, answers = form_and_answers
    fs.check_definition(defn)
    assert fs.validate(defn, answers) == {}
    assert fs.parse(defn, submit(fs.render(defn, answers, {}))) == answers


_string_rules = st.fixed_dictionaries({"type": st.just("string")}, optional={
    "minLength": st.integers(0, 5), "maxLength": st.integers(3, 12),
    "enum": st.lists(st.sampled_from(["甲", "乙", "丙", "AB12", "13800138000"]), min_size=1,
                     unique=True),
    "format": st.sampled_from(["mobile", "date"]),
    "pattern": st.sampled_from(["^[A-Z]", "^[^0]*$"]),
}).filter(lambda p: p.get("minLength", 0) <= p.get("maxLength", 99))
_number_rules = st.fixed_dictionaries({"type": st.sampled_from(["integer", "number"])}, optional={
    "minimum": st.integers(-5, 5), "maximum": st.integers(-5, 5),
}).filter(lambda p: p.get("minimum", -9) <= p.get("maximum", 9))
_answers = st.sampled_from(["甲", "乙", "AB12", "13800138000", "2026-01-31", "0", "ABCDEFGHIJKLMN"]) \
    | st.text(max_size=14) | st.integers(-7, 7) | st.floats(-7, 7)


@given(st.tuples(_string_rules, _string_rules) | st.tuples(_number_rules, _number_rules),
       st.lists(_answers, min_size=1, max_size=10))
def test_a_shared_field_accepts_exactly_what_both_items_accept(rules, answers):
    first, other = form("甲", f=rules[0]), form("乙", f=rules[1])
    merged, mapping = fs.merge([first, other])
    if mapping[1]["f"] != "f":
        return  # kept apart: each item's own field asks its own question
    for answer in answers:
        both = not fs.validate(first, {"f": answer}) and not fs.validate(other, {"f": answer})
        assert (not fs.validate(merged, {"f": answer})) == both, answer


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
_names = st.sampled_from(list(RICH["schema"]["properties"])) | st.text(max_size=10)


@given(st.dictionaries(_names, _json, max_size=12) | _json)
def test_validate_never_raises_and_answers_per_field(data):
    errors = fs.validate(RICH, data)
    assert isinstance(errors, dict)
    assert all(isinstance(m, str) and " / " in m for ms in errors.values() for m in ms)


@given(st.dictionaries(_names, st.lists(st.text(max_size=40), max_size=3), max_size=12))
def test_parse_and_validate_never_raise_on_arbitrary_posted_strings(posted):
    qd = QueryDict(mutable=True)
    for key, values in posted.items():
        qd.setlist(key, values)
    data = fs.parse(RICH, qd)
    assert set(data) <= set(RICH["schema"]["properties"])
    errors = fs.validate(RICH, data)
    str(fs.render(RICH, data, errors))


@given(st.dictionaries(st.sampled_from(["schema", "layout", "title"]), _json) | _json
       | st.builds(with_schema, **{"a": st.dictionaries(
           st.sampled_from(["type", "enum", "minLength", "maxLength", "pattern", "format",
                            "title", "minimum", "items", "const", "x-prefill"]), _json)}))
def test_check_definition_refuses_bad_definitions_only_with_its_own_error(defn):
    try:
        fs.check_definition(defn)
    except FormDefinitionError as exc:
        assert all(isinstance(m, str) for ms in exc.errors.values() for m in ms)


# ---------------------------------------------------------------- the script in a browser

STATIC = Path(fs.__file__).parent / "static"
SITE_STATIC = Path(fs.__file__).parent.parent / "static"


@pytest.fixture
def form_page(browser):
    """Chromium showing a rendered form inside a page of our own; POSTs to the auto-save URL
    are answered and recorded instead of reaching a server."""
    posts: list[dict] = []

    def open_form(defn, data=None, errors=None, *, on_form=False, answer_body="{}"):
        """``on_form``: the page, not the engine, names the auto-save URL and shows the status."""
        fields = fs.render(defn, data or {}, errors or {},
                           autosave_url="" if on_form else "/apply/draft/")
        form_attrs = ' data-autosave-url="/apply/draft/"' if on_form else ""
        status = '<p class="autosave-status">草稿已保存 09:00</p>' if on_form else ""
        page_html = (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<link rel="stylesheet" href="/static/css/site.css"></head><body><main class="wrap">'
            f'<form method="post" action="/apply/"{form_attrs}><input type="hidden" '
            f'name="csrfmiddlewaretoken" value="csrf-token-1">{fields}{status}'
            '<input type="file" name="material_1" id="material_1">'
            '<button class="button button-primary">提交</button></form></main></body></html>')

        def answer(route):
            request = route.request
            url = request.url
            if url.endswith("/apply/draft/"):
                posts.append({"token": request.headers.get("x-csrftoken"),
                              "body": request.post_data or "",
                              "accept": request.headers.get("accept")})
                return route.fulfill(status=200, body=answer_body, content_type="application/json")
            if "/static/applications/" in url:
                return route.fulfill(path=str(STATIC / "applications" / url.rsplit("/", 1)[1]))
            if "/static/" in url:
                return route.fulfill(path=str(SITE_STATIC / url.split("/static/", 1)[1]))
            return route.fulfill(body=page_html, content_type="text/html; charset=utf-8")

        page.route("**/*", answer)
        page.goto("http://portal.test/apply/")
        return page

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield open_form, posts
    context.close()


@pytest.mark.e2e
def test_script_hints_while_filling_in_and_clears_the_hint_once_fixed(form_page):
    open_form, _ = form_page
    page = open_form(RICH)
    page.fill("#id_mobile", "1380013")
    page.press("#id_mobile", "Tab")
    assert "11位数字" in page.inner_text("#id_mobile_error")
    assert page.get_attribute("#id_mobile", "aria-invalid") == "true"
    page.fill("#id_mobile", "13800138000")
    assert page.inner_text("#id_mobile_error") == ""
    page.fill("#id_id_number", bad_check_char(GOOD_ID))
    page.press("#id_id_number", "Tab")
    assert "不是有效的公民身份号码" in page.inner_text("#id_id_number_error")


@pytest.mark.e2e
def test_script_saves_the_draft_with_the_csrf_token_and_says_when(form_page):
    open_form, posts = form_page
    page = open_form(RICH, {"applicant_name": "张明华"})
    page.set_input_files("#material_1", files=[{"name": "营业执照.pdf", "mimeType": "application/pdf",
                                                 "buffer": b"%PDF-1.4 " + b"x" * 1000}])
    page.fill("#id_seats", "12")
    page.wait_for_function(
        "document.querySelector('[data-autosave-status]').textContent.includes('已自动保存')")
    assert re.fullmatch(r"已自动保存 \d\d:\d\d", page.inner_text("[data-autosave-status]"))
    assert len(posts) == 1 and posts[0]["token"] == "csrf-token-1"
    assert 'name="seats"\r\n\r\n12' in posts[0]["body"]
    assert 'name="applicant_name"\r\n\r\n张明华' in posts[0]["body"]
    assert "material_1" not in posts[0]["body"]  # files wait for the submission


@pytest.mark.e2e
def test_script_uses_the_pages_status_line_and_the_servers_time(form_page):
    open_form, posts = form_page
    page = open_form(RICH, on_form=True, answer_body='{"saved_at": "10:42"}')
    page.check("#id_newsletter")
    page.wait_for_function(
        "document.querySelector('.autosave-status').textContent === '已自动保存 10:42'")
    assert page.locator(".autosave-status").count() == 1
    assert posts[0]["accept"] == "application/json"


def test_the_example_in_the_administrators_guide_is_a_valid_form():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "forms.md").read_text()
    example = re.search(r"```json\n(.*?)```", guide, re.S).group(1)
    fs.check_definition(example)
    defn = json.loads(example)
    assert fs.validate(defn, {})["promise"] == ["请填写我承诺所填信息真实有效 / Promise is required"]
    assert fs.validate(defn, {"licence_code": "JY1"})["licence_code"] == [
        "许可证编号为JY加14位数字 / JY followed by 14 digits"]


@st.composite
def mutated_definitions(draw):
    """RICH with one value somewhere inside replaced by arbitrary JSON, or one key removed."""
    import copy

    defn = copy.deepcopy(RICH)
    holder, key = None, None
    node = defn
    for _ in range(draw(st.integers(1, 6))):
        if isinstance(node, dict) and node:
            k = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            k = draw(st.integers(0, len(node) - 1))
        else:
            break
        holder, key, node = node, k, node[k]
    if holder is None:
        return defn
    if isinstance(holder, dict) and draw(st.booleans()):
        del holder[key]
    else:
        holder[key] = draw(_json)
    return defn


@settings(max_examples=300)
@given(mutated_definitions(), st.dictionaries(_names, _json, max_size=6))
def test_a_damaged_definition_is_refused_or_works_on_any_input(defn, data):
    try:
        fs.check_definition(defn)
    except FormDefinitionError as exc:
        assert exc.errors and all(isinstance(m, str) for ms in exc.errors.values() for m in ms)
        return
    errors = fs.validate(defn, data)
    str(fs.render(defn, data, errors))
    fs.parse(defn, {k: str(v) for k, v in data.items()})
    fs.prefill(defn, {"applicant": data})
