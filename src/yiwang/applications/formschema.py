"""申请表单引擎: application forms defined by JSON Schema plus a layout.

A form definition is ``{"schema": <JSON Schema 2020-12, type object>, "layout": [sections]}``,
edited by catalog administrators and versioned with the service item. This module checks
definitions, renders them as plain HTML (no JavaScript needed), turns POSTed strings into typed
values, validates answers on the server, pre-fills what the platform knows about the applicant,
and merges several items' forms into one (一表申请). It has no models and changes no state.

Definitions are refused unless every keyword is one this module understands: the schema is data
written by people, and a form page must never run anything costly or surprising because of it.
See ``docs/forms.md`` for the format.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from jsonschema import Draft202012Validator, FormatChecker

from yiwang.core.validators import InvalidCode, check_citizen_id, check_uscc

try:  # the regular-expression parser moved in Python 3.11; it is used to refuse risky patterns
    from re import _parser as _re_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _re_parser  # type: ignore[no-redef]

__all__ = [
    "FormDefinitionError", "WIDGETS", "PREFILL_SOURCES", "FORMATS",
    "check_definition", "render", "parse", "validate", "prefill", "merge", "split",
    "default_definition", "field_names", "fields", "answer_rows", "summarise_errors",
]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_FIELDS = 200
MAX_DEFINITION_BYTES = 64 * 1024
MAX_SECTIONS = 50
MAX_OPTIONS = 200
MAX_TEXT = 10_000        # no single answer is longer, whatever the schema says
MAX_PATTERN = 300
PATTERN_BUDGET = 2_000_000  # answer length ** (unbounded repetitions, +1 unanchored): ~10 ms
MAX_LIST = 1_000         # no multi-select answer has more entries
MAX_LABEL = 100
MAX_HINT = 500
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

WIDGETS = ("text", "textarea", "select", "radio", "checkbox", "date", "number", "id_number",
           "mobile", "uscc", "address")
FORMATS = ("date", "email", "id_number", "mobile", "uscc")

# What the applying page may know about the applicant; administrators name these in `prefill`.
PREFILL_SOURCES = {
    "applicant.name": "申请人姓名",
    "applicant.id_number": "申请人公民身份号码",
    "applicant.mobile": "申请人手机号码",
    "applicant.email": "申请人电子邮箱",
    "applicant.address": "申请人地址",
    "enterprise.name": "企业名称",
    "enterprise.uscc": "统一社会信用代码",
    "enterprise.legal_representative": "法定代表人",
    "enterprise.address": "企业住所",
    "enterprise.kind": "企业类型",
}

# Widgets each JSON type may use; the first is the default.
_WIDGETS_FOR_TYPE = {
    "string": ("text", "textarea", "select", "radio", "date", "id_number", "mobile", "uscc",
               "address"),
    "integer": ("number", "text"),
    "number": ("number", "text"),
    "boolean": ("checkbox", "radio", "select"),
    "array": ("checkbox", "select"),
}
_FORMAT_WIDGETS = {"date": "date", "id_number": "id_number", "mobile": "mobile", "uscc": "uscc"}
_COMMON_KEYS = {"type", "title", "description", "x-prefill", "x-title-en"}
_KEYS_FOR_TYPE = {
    "string": _COMMON_KEYS | {"minLength", "maxLength", "pattern", "enum", "format", "x-enum-labels",
                              "x-pattern-message"},
    "integer": _COMMON_KEYS | {"minimum", "maximum"},
    "number": _COMMON_KEYS | {"minimum", "maximum"},
    "boolean": _COMMON_KEYS | {"const"},
    "array": _COMMON_KEYS | {"items", "minItems", "maxItems", "uniqueItems"},
}
_ANY_FIELD_KEYS = set().union(*_KEYS_FOR_TYPE.values())
_ITEM_KEYS = {"type", "enum", "x-enum-labels"}
_SCHEMA_KEYS = {"$schema", "type", "title", "description", "properties", "required",
                "additionalProperties"}
_DEFINITION_KEYS = {"schema", "layout", "title"}
_SECTION_KEYS = {"title", "fields", "description"}
_LAYOUT_FIELD_KEYS = {"name", "widget", "hint", "prefill"}
_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INT_RE = re.compile(r"^[+-]?[0-9]{1,30}$")
_NUMBER_RE = re.compile(r"^[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][+-]?[0-9]{1,3})?$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = {"true", "on", "1", "yes", "是"}
_FALSE = {"false", "off", "0", "no", "否"}
_MISSING = object()


class FormDefinitionError(ValueError):
    """表单定义错误: a definition this engine refuses, with messages per field (or "schema",
    "layout", "__all__")."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = next(iter(errors.values()), ["?"])[0] if errors else "?"
        super().__init__(f"表单定义有误 / invalid form definition: {first}")


# ---------------------------------------------------------------- formats

def _email_ok(value: str) -> bool:
    try:
        EmailValidator()(value)
    except ValidationError:
        return False
    return True


def _check_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_RE.match(value):
        return False
    dt.date.fromisoformat(value)  # ValueError for 2025-02-30 and the like
    return True


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date", raises=ValueError)(_check_date)
FORMAT_CHECKER.checks("email")(lambda v: not isinstance(v, str) or _email_ok(v))
FORMAT_CHECKER.checks("mobile")(lambda v: not isinstance(v, str) or bool(_MOBILE_RE.match(v)))
FORMAT_CHECKER.checks("id_number", raises=InvalidCode)(
    lambda v: not isinstance(v, str) or bool(check_citizen_id(v)))
FORMAT_CHECKER.checks("uscc", raises=InvalidCode)(
    lambda v: not isinstance(v, str) or bool(check_uscc(v)))


# ---------------------------------------------------------------- compiled definitions

@dataclass(frozen=True)
class Field:
    """One question of a form, with everything rendering and validation need."""

    name: str
    type: str
    title: str
    title_en: str
    widget: str
    hint: str
    prefill: str
    required: bool
    format: str
    options: tuple[tuple[str, str], ...]  # (value, label) for enums
    schema: dict  # the property schema, with the widget's format added when implied

    @functools.cached_property
    def messages(self) -> dict[str, str]:
        return _messages(self)

    @property
    def is_group(self) -> bool:
        """Rendered as a fieldset of several inputs (radios or checkboxes)."""
        return self.widget == "radio" or (self.widget == "checkbox" and self.type == "array")


@dataclass(frozen=True)
class Section:
    title: str
    description: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class CompiledForm:
    sections: tuple[Section, ...]
    fields: dict[str, Field]
    validators: dict[str, Draft202012Validator]


def _load(defn: Any) -> tuple[Any, dict[str, list[str]]]:
    """Accept a definition as a dict or as JSON text; refuse duplicate keys in the text."""
    if isinstance(defn, (bytes, bytearray)):
        if len(defn) > MAX_DEFINITION_BYTES:
            return None, _too_big()
        try:
            defn = defn.decode("utf-8")
        except UnicodeDecodeError:
            return None, {"__all__": ["表单定义不是 UTF-8 文本 / the definition is not UTF-8 text"]}
    if isinstance(defn, str):
        if len(defn.encode("utf-8")) > MAX_DEFINITION_BYTES:
            return None, _too_big()
        duplicates: list[str] = []

        def pairs(items):
            seen: dict[str, Any] = {}
            for key, value in items:
                if key in seen:
                    duplicates.append(key)
                seen[key] = value
            return seen

        try:
            defn = json.loads(defn, object_pairs_hook=pairs, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            return None, {"__all__": [f"表单定义不是有效的 JSON / the definition is not valid JSON: {exc}"]}
        if duplicates:
            names = "、".join(sorted(set(duplicates)))
            return None, {"__all__": [f"表单定义中有重复的名称：{names} / duplicate names: {names}"]}
    return defn, {}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _too_big() -> dict[str, list[str]]:
    kb = MAX_DEFINITION_BYTES // 1024
    return {"__all__": [f"表单定义不能超过 {kb} KB / the definition must not exceed {kb} KB"]}


def _canonical(defn: Any) -> str:
    return json.dumps(defn, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


def _compile(defn: Any) -> CompiledForm:
    loaded, errors = _load(defn)
    if errors:
        raise FormDefinitionError(errors)
    try:
        key = _canonical(loaded)
    except (TypeError, ValueError, RecursionError):
        raise FormDefinitionError({"__all__": [
            "表单定义只能包含 JSON 数据（对象、数组、文本、数字、是否） / "
            "the definition may only hold JSON data"]}) from None
    if len(key.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise FormDefinitionError(_too_big())
    return _compile_canonical(key)


@functools.lru_cache(maxsize=128)
def _compile_canonical(key: str) -> CompiledForm:
    try:
        return _Checker(json.loads(key)).compile()
    except RecursionError:
        raise FormDefinitionError({"__all__": [
            "表单定义嵌套太深 / the definition is nested too deeply"]}) from None


class _Checker:
    """Checks one definition, collecting every problem before refusing it."""

    def __init__(self, defn: Any):
        self.defn = defn
        self.errors: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, [])
        if message not in self.errors[key]:
            self.errors[key].append(message)

    def compile(self) -> CompiledForm:
        defn = self.defn
        if not isinstance(defn, dict):
            raise FormDefinitionError({"__all__": [
                "表单定义应为含 schema 和 layout 的对象 / the definition must be an object with "
                "schema and layout"]})
        for key in sorted(set(defn) - _DEFINITION_KEYS):
            self.add("__all__", f"不支持的表单定义项：{key} / unsupported entry: {key}")
        if "title" in defn and not _short_text(defn["title"], MAX_LABEL):
            self.add("__all__", f"表单标题应为不超过{MAX_LABEL}字的文本 / the form title must be "
                                f"text of at most {MAX_LABEL} characters")
        schema, layout = defn.get("schema"), defn.get("layout")
        props = self.check_schema(schema)
        # With a broken schema every layout entry would be "unknown": report the schema only.
        placed = self.check_layout(layout, props) if props or not self.errors else {}
        if self.errors:
            raise FormDefinitionError(self.errors)
        return self.build(schema, layout, props, placed)

    # ------------------------------------------------------------ schema
    def check_schema(self, schema: Any) -> dict[str, dict]:
        if not isinstance(schema, dict):
            self.add("schema", "缺少 schema（JSON Schema 对象） / schema must be a JSON Schema object")
            return {}
        for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
            path = list(error.absolute_path)
            key = path[1] if len(path) >= 2 and path[0] == "properties" else "schema"
            where = "/".join(str(p) for p in path) or "schema"
            self.add(str(key), f"不符合 JSON Schema 2020-12 规范（{where}）/ not valid JSON Schema "
                               f"2020-12 at {where}: {error.message[:200]}")
        if self.errors:
            return {}
        for key in sorted(set(schema) - _SCHEMA_KEYS):
            self.add("schema", f"不支持的关键字：{key} / unsupported keyword: {key}")
        if "$schema" in schema and schema["$schema"] != SCHEMA_DIALECT:
            self.add("schema", f"$schema 只能是 {SCHEMA_DIALECT} / $schema must be {SCHEMA_DIALECT}")
        if schema.get("type") != "object":
            self.add("schema", 'schema 的 type 应为 "object" / the schema type must be "object"')
        if schema.get("additionalProperties", False) is not False:
            self.add("schema", "additionalProperties 只能为 false / additionalProperties may only be "
                               "false")
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            self.add("schema", "schema 至少要有一个字段（properties） / the schema needs at least "
                               "one field in properties")
            return {}
        if len(props) > MAX_FIELDS:
            self.add("schema", f"字段不能超过{MAX_FIELDS}个 / at most {MAX_FIELDS} fields")
        required = schema.get("required", [])
        if len(set(required)) != len(required):
            self.add("schema", "required 中有重复的字段 / required names a field twice")
        for name in required:
            if name not in props:
                self.add(name, f"required 列出的字段 {name} 不在 properties 中 / required names "
                               f"{name}, which is not in properties")
        for name, prop in props.items():
            self.check_property(name, prop)
        return props

    def check_property(self, name: str, prop: Any) -> None:
        if not NAME_RE.match(name):
            self.add(name, f"字段名 {name[:40]} 只能由字母开头，含字母、数字和下划线，最长80个字符 / field "
                           "names start with a letter and hold letters, digits and _ (at most 80)")
        if not isinstance(prop, dict):
            self.add(name, "字段定义应为对象 / a field must be an object")
            return
        kind = prop.get("type")
        if not isinstance(kind, str) or kind not in _KEYS_FOR_TYPE:
            self.add(name, "字段类型只能是 string、integer、number、boolean 或 array 之一 / "
                           "type must be one of string, integer, number, boolean, array")
            for key in sorted(set(prop) - _ANY_FIELD_KEYS):
                self.add(name, f"不支持的关键字 {key} / unsupported keyword: {key}")
            return
        for key in sorted(set(prop) - _KEYS_FOR_TYPE[kind]):
            self.add(name, f"{kind} 字段不支持关键字 {key} / keyword {key} is not supported for "
                           f"{kind} fields")
        if "title" in prop and not _short_text(prop["title"], MAX_LABEL):
            self.add(name, f"title 应为不超过{MAX_LABEL}字的文本 / title must be at most "
                           f"{MAX_LABEL} characters")
        if "x-title-en" in prop and not _short_text(prop["x-title-en"], MAX_LABEL):
            self.add(name, f"x-title-en 应为不超过{MAX_LABEL}字的文本 / x-title-en must be at most "
                           f"{MAX_LABEL} characters")
        if "description" in prop and not _short_text(prop["description"], MAX_HINT, empty=True):
            self.add(name, f"description 应为不超过{MAX_HINT}字的文本 / description must be at "
                           f"most {MAX_HINT} characters")
        if "x-prefill" in prop:
            self.check_prefill(name, prop["x-prefill"])
        if kind == "string":
            self.check_string(name, prop)
        elif kind in ("integer", "number"):
            low, high = prop.get("minimum"), prop.get("maximum")
            for bound in (low, high):
                if isinstance(bound, float) and not math.isfinite(bound):
                    self.add(name, "minimum/maximum 应为有限的数 / bounds must be finite numbers")
            if low is not None and high is not None and low > high:
                self.add(name, "minimum 不能大于 maximum / minimum is greater than maximum")
        elif kind == "boolean":
            if "const" in prop and prop["const"] is not True:
                self.add(name, "是否字段的 const 只能为 true（必须勾选） / const on a boolean may only "
                               "be true (must be ticked)")
        elif kind == "array":
            items = prop.get("items")
            if (not isinstance(items, dict) or items.get("type") != "string"
                    or "enum" not in items or set(items) - _ITEM_KEYS):
                self.add(name, '多选字段的 items 应为 {"type": "string", "enum": [...]} / array '
                               'items must be {"type": "string", "enum": [...]}')
            else:
                self.check_enum(name, items)
            low, high = prop.get("minItems"), prop.get("maxItems")
            if low is not None and high is not None and low > high:
                self.add(name, "minItems 不能大于 maxItems / minItems is greater than maxItems")

    def check_string(self, name: str, prop: dict) -> None:
        low, high = prop.get("minLength"), prop.get("maxLength")
        if high is not None and high > MAX_TEXT:
            self.add(name, f"maxLength 不能超过{MAX_TEXT} / maxLength may be at most {MAX_TEXT}")
        if low is not None and high is not None and low > high:
            self.add(name, "minLength 不能大于 maxLength / minLength is greater than maxLength")
        if "format" in prop and prop["format"] not in FORMATS:
            self.add(name, f"format 只能是 {'、'.join(FORMATS)} 之一 / format must be one of "
                           f"{', '.join(FORMATS)}")
        if "enum" in prop:
            self.check_enum(name, prop)
        elif "x-enum-labels" in prop:
            self.add(name, "x-enum-labels 需要与 enum 一起使用 / x-enum-labels needs enum")
        if "pattern" in prop:
            problem = _pattern_problem(prop["pattern"], high)
            if problem:
                self.add(name, problem)
        if "x-pattern-message" in prop and ("pattern" not in prop or not _short_text(
                prop["x-pattern-message"], MAX_HINT)):
            self.add(name, "x-pattern-message 应为与 pattern 一起使用的文本 / x-pattern-message must "
                           "be text used together with pattern")

    def check_enum(self, name: str, holder: dict) -> None:
        values = holder["enum"]
        if not values or len(values) > MAX_OPTIONS:
            self.add(name, f"enum 应有1到{MAX_OPTIONS}个选项 / enum needs 1 to {MAX_OPTIONS} options")
        if not all(_short_text(v, MAX_LABEL, empty=False) for v in values):
            self.add(name, f"enum 的选项应为不超过{MAX_LABEL}字的非空文本 / enum options must be "
                           f"non-empty text of at most {MAX_LABEL} characters")
        elif len(set(values)) != len(values):
            self.add(name, "enum 中有重复的选项 / enum repeats an option")
        labels = holder.get("x-enum-labels")
        if labels is not None and (not isinstance(labels, list) or len(labels) != len(values)
                                   or not all(_short_text(v, MAX_LABEL) for v in labels)):
            self.add(name, "x-enum-labels 应为与 enum 一一对应的文本列表 / x-enum-labels must be a "
                           "list of texts, one per enum option")

    def check_prefill(self, name: str, source: Any) -> None:
        if not isinstance(source, str) or source not in PREFILL_SOURCES:
            known = ", ".join(PREFILL_SOURCES)
            self.add(name, f"未知的预填来源 {str(source)[:60]}，可用：{known} / unknown prefill "
                           f"source; known sources: {known}")

    # ------------------------------------------------------------ layout
    def check_layout(self, layout: Any, props: dict[str, dict]) -> dict[str, dict]:
        """Return each placed field's layout options by name."""
        placed: dict[str, dict] = {}
        if not isinstance(layout, list) or not layout:
            self.add("layout", "layout 应为至少含一个分组的列表 / layout must be a list of at least "
                               "one section")
            return placed
        if len(layout) > MAX_SECTIONS:
            self.add("layout", f"分组不能超过{MAX_SECTIONS}个 / at most {MAX_SECTIONS} sections")
        for number, section in enumerate(layout, 1):
            where = f"第{number}个分组 / section {number}"
            if not isinstance(section, dict):
                self.add("layout", f"{where}：应为对象 / must be an object")
                continue
            for key in sorted(set(section) - _SECTION_KEYS):
                self.add("layout", f"{where}：不支持 {key} / unsupported entry {key}")
            if not _short_text(section.get("title"), MAX_LABEL):
                self.add("layout", f"{where}：需要标题（不超过{MAX_LABEL}字） / needs a title of "
                                   f"at most {MAX_LABEL} characters")
            if "description" in section and not _short_text(section["description"], MAX_HINT,
                                                              empty=True):
                self.add("layout", f"{where}：说明不超过{MAX_HINT}字 / description too long")
            fields = section.get("fields")
            if not isinstance(fields, list) or not fields:
                self.add("layout", f"{where}：fields 应为非空列表 / fields must be a non-empty list")
                continue
            for entry in fields:
                self.check_layout_field(entry, props, placed, where)
        for name in props:
            if name not in placed:
                self.add(name, f"字段 {name} 没有放进任何分组（layout） / field {name} is missing "
                               "from the layout")
        return placed

    def check_layout_field(self, entry: Any, props: dict, placed: dict, where: str) -> None:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            self.add("layout", f"{where}：字段应为名称或含 name 的对象 / a field must be a name or "
                               "an object with name")
            return
        name = entry["name"]
        if name not in props:
            self.add(name, f"layout 中的字段 {name[:80]} 不在 schema 中 / layout names {name[:80]}, "
                           "which is not in the schema")
            return
        if name in placed:
            self.add(name, f"字段 {name} 在 layout 中出现了多次 / field {name} appears more than "
                           "once in the layout")
            return
        placed[name] = entry
        for key in sorted(set(entry) - _LAYOUT_FIELD_KEYS):
            self.add(name, f"layout 字段不支持 {key} / unsupported layout entry {key}")
        prop = props[name]
        kind = prop.get("type") if isinstance(prop, dict) else None
        widget = entry.get("widget")
        if widget is not None:
            if widget not in WIDGETS:
                self.add(name, f"未知的控件 {str(widget)[:40]}，可用：{', '.join(WIDGETS)} / "
                               f"unknown widget; known: {', '.join(WIDGETS)}")
            elif (isinstance(kind, str) and kind in _WIDGETS_FOR_TYPE
                  and widget not in _WIDGETS_FOR_TYPE[kind]):
                self.add(name, f"{kind} 字段不能用 {widget} 控件 / widget {widget} does not fit a "
                               f"{kind} field")
            elif widget in ("select", "radio") and kind == "string" and "enum" not in prop:
                self.add(name, f"{widget} 控件需要 enum 选项 / widget {widget} needs enum options")
        if "hint" in entry and not _short_text(entry["hint"], MAX_HINT, empty=True):
            self.add(name, f"hint 应为不超过{MAX_HINT}字的文本 / hint must be at most {MAX_HINT} "
                           "characters")
        if "prefill" in entry:
            self.check_prefill(name, entry["prefill"])

    # ------------------------------------------------------------ build
    def build(self, schema: dict, layout: list, props: dict, placed: dict) -> CompiledForm:
        required = set(schema.get("required", []))
        fields: dict[str, Field] = {}
        sections = []
        for section in layout:
            members = []
            for entry in section["fields"]:
                name = entry if isinstance(entry, str) else entry["name"]
                field = _make_field(name, props[name], placed[name], name in required)
                fields[name] = field
                members.append(field)
            sections.append(Section(section["title"], section.get("description", ""),
                                    tuple(members)))
        validators = {name: Draft202012Validator(f.schema, format_checker=FORMAT_CHECKER)
                      for name, f in fields.items()}
        return CompiledForm(tuple(sections), fields, validators)


def _short_text(value: Any, limit: int, *, empty: bool = False) -> bool:
    return isinstance(value, str) and (empty or value.strip() != "") and len(value) <= limit


def _pattern_problem(pattern: str, max_length: int | None) -> str:
    """Refuse patterns that do not compile or could take too long on a long answer.

    Python's regular expressions backtrack. Nested repetition (``(a+)+``), alternatives under a
    repetition (``(ab|a)+``) and back-references can take exponential time, so they are refused.
    Each further unbounded repetition multiplies the work by the answer's length (``\\d*\\d*x``
    is cubic on a long run of digits), and so does a pattern not anchored with ``^``; the answer's
    ``maxLength`` must keep that product under ``PATTERN_BUDGET`` (a few milliseconds).
    """
    if len(pattern) > MAX_PATTERN:
        return f"pattern 不能超过{MAX_PATTERN}个字符 / pattern may be at most {MAX_PATTERN} characters"
    try:
        re.compile(pattern)
        parsed = _re_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"pattern 不是有效的正则表达式 / pattern is not a valid regular expression: {exc}"
    if _risky(parsed, inside_repeat=False):
        return ("pattern 含有嵌套的重复、重复中的多字符分支或反向引用，可能极慢，请改写（如用字符类 [...]） / "
                "pattern has nested repetition, alternatives under a repetition or a "
                "back-reference and could be very slow; rewrite it, e.g. with a class [...]")
    anchored = bool(parsed) and str(parsed[0][0]) == "AT" and str(parsed[0][1]) in (
        "AT_BEGINNING", "AT_BEGINNING_STRING")
    exponent = _unbounded_repeats(parsed) + (0 if anchored else 1)
    length = max_length if max_length is not None else MAX_TEXT
    if exponent and length ** exponent > PATTERN_BUDGET:
        limit = int(PATTERN_BUDGET ** (1 / exponent))
        advice = "" if anchored else "以 ^ 开头锚定，或"
        advice_en = "" if anchored else "anchor it with ^ or "
        return (f"pattern 在长答案上可能很慢：请{advice}把 maxLength 设为不超过{limit} / the pattern "
                f"could be slow on long answers: {advice_en}set maxLength to at most {limit}")
    return ""


def _is_unbounded(high: int) -> bool:
    return high == _re_parser.MAXREPEAT or high > 100


def _unbounded_repeats(parsed: Any) -> int:
    count = 0
    for op, arg in parsed:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            count += _is_unbounded(arg[1]) + _unbounded_repeats(arg[2])
        elif name == "SUBPATTERN":
            count += _unbounded_repeats(arg[-1])
        elif name == "BRANCH":
            count += max(_unbounded_repeats(branch) for branch in arg[1])
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            count += _unbounded_repeats(arg[1] if name != "ATOMIC_GROUP" else arg)
    return count


def _risky(parsed: Any, inside_repeat: bool) -> bool:
    for op, arg in parsed:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return True
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            unbounded = _is_unbounded(high)
            if unbounded and inside_repeat:
                return True
            if _risky(sub, inside_repeat or unbounded):
                return True
        elif name == "SUBPATTERN":
            if _risky(arg[-1], inside_repeat):
                return True
        elif name == "BRANCH":
            # Single characters under a repetition become a class ([ab]) before this is seen.
            if inside_repeat or any(_risky(branch, inside_repeat) for branch in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _risky(arg[1], inside_repeat):
                return True
        elif name == "ATOMIC_GROUP":
            if _risky(arg, inside_repeat):
                return True
    return False


_ACRONYMS = {"id": "ID", "uscc": "USCC", "url": "URL"}


def _humanise(name: str) -> str:
    """An English label from a field name: ``id_number`` → "ID number"."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").lower().split()
    words = [_ACRONYMS.get(w, w) for w in words]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words) or name


def _make_field(name: str, prop: dict, layout: dict, required: bool) -> Field:
    kind = prop["type"]
    fmt = prop.get("format", "")
    enum_holder = prop.get("items", {}) if kind == "array" else prop
    values = enum_holder.get("enum", [])
    labels = enum_holder.get("x-enum-labels") or values
    options: tuple[tuple[str, str], ...] = tuple(zip(values, labels))
    if kind == "boolean":
        options = (("true", "是"), ("false", "否"))
    widget = layout.get("widget") or _default_widget(kind, fmt, prop, options)
    schema = dict(prop)
    if not fmt and widget in _FORMAT_WIDGETS.values() and widget != "date":
        fmt = widget
        schema["format"] = fmt
    elif not fmt and widget == "date":
        fmt = "date"
        schema["format"] = fmt
    return Field(
        name=name, type=kind, title=prop.get("title") or name,
        title_en=prop.get("x-title-en") or _humanise(name), widget=widget,
        hint=layout.get("hint") or prop.get("description", ""),
        prefill=layout.get("prefill") or prop.get("x-prefill", ""),
        required=required, format=fmt, options=options, schema=schema)


def _default_widget(kind: str, fmt: str, prop: dict, options: tuple) -> str:
    if kind == "string":
        if options:
            return "radio" if len(options) <= 5 else "select"
        if fmt in _FORMAT_WIDGETS:
            return _FORMAT_WIDGETS[fmt]
        return "textarea" if prop.get("maxLength", 0) > 200 else "text"
    if kind == "array":
        return "checkbox" if len(options) <= 12 else "select"
    return _WIDGETS_FOR_TYPE[kind][0]


# ---------------------------------------------------------------- public interface

def check_definition(defn: Any) -> None:
    """Raise ``FormDefinitionError`` unless ``defn`` (a dict, or JSON text) is a usable form."""
    _compile(defn)


def field_names(defn: Any) -> list[str]:
    """The definition's field names in layout order."""
    return list(_compile(defn).fields)


def fields(defn: Any) -> dict[str, Field]:
    """The definition's fields in layout order, as read-only ``Field`` records (name, type,
    title, widget, hint, prefill, required, format, options as (value, label) pairs)."""
    return dict(_compile(defn).fields)


def answer_rows(defn: Any, data: Mapping) -> list[dict[str, str]]:
    """核对信息: each answered field in layout order as ``title`` and ``value`` shown in words
    (option labels, 是/否, lists joined with 、), with its ``name``, ``section``, ``format`` and
    ``widget`` so that a page can mask ID numbers or mobiles."""
    form = _compile(defn)
    data = data if isinstance(data, Mapping) else {}
    rows = []
    for section in form.sections:
        for field in section.fields:
            value = data.get(field.name)
            if _empty(value if value is not None else _MISSING):
                continue
            labels = dict(field.options)
            if isinstance(value, bool):
                shown = "是" if value else "否"
            elif isinstance(value, list):
                shown = "、".join(str(labels.get(_as_text(v), v)) for v in value)
            else:
                shown = str(labels.get(_as_text(value), _as_text(value)))
            rows.append({"name": field.name, "title": field.title, "value": shown,
                         "section": section.title, "format": field.format,
                         "widget": field.widget})
    return rows


def _messages(field: Field) -> dict[str, str]:
    """Every message a field can produce, 中文 / English, named by the failing rule."""
    t, e = field.title, field.title_en
    s = field.schema
    lo, hi = s.get("minLength"), s.get("maxLength")
    choose = field.widget in ("select", "radio", "checkbox") and field.type != "boolean"
    msgs = {
        "required": (f"请选择{t} / Choose {e}" if choose else f"请填写{t} / {e} is required"),
        "const": f"请勾选{t} / Tick {e} to continue",
        "minLength": f"{t}至少{lo}个字 / {e} must have at least {lo} characters",
        "maxLength": f"{t}不能超过{hi}个字 / {e} must have at most {hi} characters",
        "pattern": s.get("x-pattern-message") or f"{t}的格式不正确 / {e} is not in the expected "
                                                  "format",
        "enum": f"请从列表中选择{t} / Choose {e} from the list",
        "minimum": f"{t}不能小于{s.get('minimum')} / {e} must be at least {s.get('minimum')}",
        "maximum": f"{t}不能大于{s.get('maximum')} / {e} must be at most {s.get('maximum')}",
        "minItems": f"{t}至少选择{s.get('minItems')}项 / choose at least {s.get('minItems')} for {e}",
        "maxItems": f"{t}最多选择{s.get('maxItems')}项 / choose at most {s.get('maxItems')} for {e}",
        "uniqueItems": f"{t}中有重复的选项 / {e} has an option twice",
        "control": f"{t}含有不可见的控制字符 / {e} contains invisible control characters",
        "too_long": f"{t}不能超过{MAX_TEXT}个字 / {e} must have at most {MAX_TEXT} characters",
        "too_many": f"{t}的选项太多 / {e} has too many entries",
    }
    msgs["type"] = {
        "string": f"{t}应为文字 / {e} must be text",
        "integer": f"{t}请填写整数，如 12 / {e} must be a whole number such as 12",
        "number": f"{t}请填写数字，如 12.5 / {e} must be a number such as 12.5",
        "boolean": f"请选择{t}：是或否 / Choose yes or no for {e}",
        "array": f"请从列表中选择{t} / Choose {e} from the list",
    }[field.type]
    msgs["format"] = {
        "date": f"{t}请填写有效日期，如 2025-01-31 / {e} must be a real date such as 2025-01-31",
        "email": f"{t}请填写有效的电子邮箱，如 name@example.cn / {e} must be an email address such "
                 "as name@example.cn",
        "mobile": f"{t}应为以1开头的11位数字，如 13800138000 / {e} must be an 11-digit mobile "
                  "number such as 13800138000",
        "id_number": f"{t}不是有效的公民身份号码 / {e} is not a valid citizen ID number",
        "uscc": f"{t}不是有效的统一社会信用代码 / {e} is not a valid unified social credit code",
    }.get(field.format, f"{t}的格式不正确 / {e} is not in the expected format")
    return msgs


_PRIORITY = ("required", "type", "control", "too_long", "too_many", "enum", "format", "pattern",
             "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
             "uniqueItems", "const")


def _empty(value: Any) -> bool:
    return (value is _MISSING or value is None or value == []
            or (isinstance(value, str) and not value.strip()))


def _field_errors(field: Field, validator: Draft202012Validator, value: Any) -> list[str]:
    msgs = field.messages
    if _empty(value):
        return [msgs["required"]] if field.required else []
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return [msgs["too_long"]]
        if _CONTROL_RE.search(value):
            return [msgs["control"]]
    if isinstance(value, list) and len(value) > MAX_LIST:
        return [msgs["too_many"]]
    if isinstance(value, float) and not math.isfinite(value):
        return [msgs["type"]]
    found: dict[str, str] = {}
    for error in validator.iter_errors(value):
        rule = str(error.validator)
        if rule == "type":
            return [msgs["type"]]
        if rule == "format" and isinstance(error.cause, InvalidCode):
            found.setdefault(rule, f"{field.title}：{error.cause}")
        else:
            found.setdefault(rule, msgs.get(rule, msgs["format"]))
    return [found[rule] for rule in sorted(found, key=lambda r: _PRIORITY.index(r)
                                           if r in _PRIORITY else len(_PRIORITY))]


def validate(defn: Any, data: Any) -> dict[str, list[str]]:
    """Server-side validation: messages per field name (``__all__`` for the whole form).

    An empty dict means the answers are complete and valid. Never raises on bad ``data``.
    """
    form = _compile(defn)
    if not isinstance(data, Mapping):
        return {"__all__": ["提交的内容格式不正确 / the answers must be an object of fields"]}
    errors: dict[str, list[str]] = {}
    for name, field in form.fields.items():
        try:
            problems = _field_errors(field, form.validators[name], data.get(name, _MISSING))
        except (RecursionError, ValueError, TypeError, OverflowError):
            problems = [field.messages["type"]]
        if problems:
            errors[name] = problems
    unknown = [k for k in data if k not in form.fields]
    if unknown:
        shown = "、".join(str(k)[:40] for k in unknown[:5])
        errors["__all__"] = [f"表单中没有这些字段：{shown} / unknown fields: {shown}"]
    return errors


def _values(querydict: Any, name: str) -> list[str]:
    if hasattr(querydict, "getlist"):
        raw = querydict.getlist(name)
    elif isinstance(querydict, Mapping):
        raw = querydict.get(name, [])
        raw = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    else:
        raw = []
    return [v for v in raw if isinstance(v, str)]


_LOOSE_DATE_RE = re.compile(r"^([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?$")


def _clean_text(value: str, fmt: str = "") -> str:
    """Trim, use \\n for line breaks, and tidy codes, numbers and dates people type their way
    (full-width digits, spaces in a mobile number, +86, 2026年1月5日 or 2026/1/5)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if fmt in ("id_number", "uscc", "mobile"):
        value = unicodedata.normalize("NFKC", value).upper()
        value = re.sub(r"[\s-]", "", value)
        if fmt == "mobile" and re.fullmatch(r"(\+86|0086)1[0-9]{10}", value):
            value = value[-11:]
    elif fmt == "date":
        match = _LOOSE_DATE_RE.match(unicodedata.normalize("NFKC", value))
        if match:
            year, month, day = match.groups()
            value = f"{year}-{int(month):02d}-{int(day):02d}"
    return value


def _typed(field: Field, raw: str) -> Any:
    """A POSTed string as the field's JSON type; text that does not convert is kept as it is,
    so that validation can say what is wrong and the page can show it again."""
    if field.type == "string":
        return raw
    if field.type == "boolean":
        lowered = raw.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else raw
    number = unicodedata.normalize("NFKC", raw).replace(",", "").replace(" ", "")
    if field.type == "integer" and _INT_RE.match(number):
        return int(number)
    if field.type == "number" and _NUMBER_RE.match(number):
        if re.search(r"[.eE]", number):
            value = float(number)
            return value if math.isfinite(value) else raw
        return int(number)
    return raw


def parse(defn: Any, querydict: Any) -> dict:
    """Turn POSTed strings (a QueryDict or a plain dict) into typed answers.

    Keys the form does not know are left out; so are empty answers. Never raises on bad input.
    """
    form = _compile(defn)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        values = _values(querydict, name)
        if field.type == "array":
            chosen = [v for v in (_clean_text(v) for v in values[:MAX_LIST + 1]) if v]
            if chosen:
                data[name] = chosen
            continue
        if not values:
            continue
        raw = _clean_text(values[-1], field.format)  # a checkbox follows its hidden "false"
        if raw == "":
            continue
        data[name] = _typed(field, raw)
    return data


def _lookup(sources: Mapping, path: str) -> Any:
    if path in sources:
        return sources[path]
    value: Any = sources
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        elif not part.startswith("_"):
            value = getattr(value, part, _MISSING)
        else:
            return _MISSING
        if value is _MISSING or callable(value):
            return _MISSING
    return value


def _coerce(field: Field, value: Any) -> Any:
    if value is None or value is _MISSING:
        return _MISSING
    if field.type == "array":
        values = value if isinstance(value, (list, tuple)) else [value]
        return [str(v) for v in values if str(v)] or _MISSING
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        value = value.isoformat()
    text = str(value) if not isinstance(value, (bool, int, float)) else value
    if isinstance(text, str):
        text = _clean_text(text, field.format)
        if not text:
            return _MISSING
        return _typed(field, text)
    if field.type == "string":
        return str(text)
    return text


def prefill(defn: Any, sources: Mapping[str, Any], data: Mapping | None = None) -> dict:
    """Answers taken from what the platform knows: ``sources`` maps source names such as
    ``applicant.name`` or ``enterprise.uscc`` to values (flat, or nested as
    ``{"applicant": {"name": ...}}``).

    Without ``data``, returns only the pre-filled answers; with ``data`` (a draft), returns a copy
    of it with the gaps filled and what the applicant already wrote left alone.
    """
    form = _compile(defn)
    result = dict(data) if isinstance(data, Mapping) else {}
    if not isinstance(sources, Mapping):
        return result
    for name, field in form.fields.items():
        if not field.prefill or not _empty(result.get(name, _MISSING)):
            continue
        value = _coerce(field, _lookup(sources, field.prefill))
        if value is not _MISSING:
            result[name] = value
    return result


# ---------------------------------------------------------------- rendering

def _as_text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    try:
        return str(value)
    except ValueError:  # an integer too long to print
        return ""


def _rules(field: Field) -> str:
    """What the page's script checks while the applicant types (the server decides)."""
    s = field.schema
    rules: dict[str, Any] = {"type": field.type, "format": field.format,
                             "required": field.required}
    for key in ("minLength", "maxLength", "minimum", "maximum", "pattern", "const"):
        if key in s:
            rules[key] = s[key]
    wanted = ({"required", "type", "control"} | set(rules)) - ({"format"} if not field.format else set())
    rules["messages"] = {k: v for k, v in field.messages.items() if k in wanted}
    return json.dumps(rules, ensure_ascii=False)


def _field_context(field: Field, value: Any, errors: list[str]) -> dict:
    fid = f"id_{field.name}"
    hint_id, error_id = f"{fid}_hint", f"{fid}_error"
    describedby = " ".join(([hint_id] if field.hint else []) + [error_id])
    attrs: list[tuple[str, str]] = []
    input_type = "text"
    widget = field.widget
    s = field.schema
    if widget in ("text", "address", "id_number", "uscc", "mobile", "number", "date"):
        if "maxLength" in s:
            attrs.append(("maxlength", str(s["maxLength"])))
        if "minLength" in s:
            attrs.append(("minlength", str(s["minLength"])))
    if widget == "textarea" and "maxLength" in s:
        attrs.append(("maxlength", str(s["maxLength"])))
    if widget == "date":
        input_type = "date"
    elif widget == "mobile":
        input_type = "tel"
        attrs += [("inputmode", "numeric"), ("autocomplete", "tel-national")]
    elif widget in ("id_number", "uscc"):
        attrs += [("autocomplete", "off"), ("spellcheck", "false"),
                  ("autocapitalize", "characters")]
    elif widget == "number" or field.type in ("integer", "number"):
        # Phone number pads have no minus sign: only offer them when no answer is negative.
        if isinstance(s.get("minimum"), (int, float)) and s["minimum"] >= 0:
            attrs.append(("inputmode", "numeric" if field.type == "integer" else "decimal"))
    elif widget == "address":
        attrs.append(("autocomplete", "street-address"))
    elif field.format == "email":
        input_type = "email"
        attrs.append(("autocomplete", "email"))
    if field.prefill == "applicant.name" and not any(k == "autocomplete" for k, _ in attrs):
        attrs.append(("autocomplete", "name"))

    chosen = value if isinstance(value, list) else [value]
    chosen_text = {_as_text(v) for v in chosen if not _empty(v)}
    options = [{"value": v, "label": label, "id": f"{fid}_{i}", "checked": v in chosen_text}
               for i, (v, label) in enumerate(field.options)]
    css = {"id_number": "input-code", "uscc": "input-code", "mobile": "input-short",
           "number": "input-short", "date": "input-short"}.get(widget, "")
    return {
        "name": field.name, "id": fid, "label": field.title, "hint": field.hint,
        "hint_id": hint_id, "error_id": error_id, "describedby": describedby,
        "errors": errors, "widget": widget, "type": field.type, "input_type": input_type,
        "attrs": attrs, "css": css, "required": field.required,
        "html_required": field.required and not (field.type == "boolean"
                                                 and field.widget == "checkbox"
                                                 and s.get("const") is not True),
        "value": "" if isinstance(value, list) else _as_text(value),
        "checked": value is True, "options": options, "group": field.is_group,
        "multiple": field.type == "array", "anchor": f"{fid}_0" if field.is_group else fid,
        "rules": _rules(field),
    }


def render(defn: Any, data: Mapping | None = None, errors: Mapping | None = None, *,
           autosave_url: str = "", error_summary: bool = False) -> SafeString:
    """The form's fields as HTML, to be placed inside the page's own ``<form>``.

    ``data`` are the current answers (typed, as ``parse`` returns them, or a draft); ``errors``
    are ``validate``'s messages, shown beside each field. Each field's block has the id
    ``f-<name>`` for the page's error summary (see ``summarise_errors``); ``error_summary=True``
    puts a summary of its own at the top of the fields instead. ``autosave_url`` (or a
    ``data-autosave-url`` on the page's ``<form>``) turns on the script's draft saving.
    """
    form = _compile(defn)
    data = data if isinstance(data, Mapping) else {}
    errors = errors if isinstance(errors, Mapping) else {}
    sections, summary = [], []
    for number, section in enumerate(form.sections, 1):
        fields = []
        for field in section.fields:
            field_errors = _messages_of(errors, field.name)
            ctx = _field_context(field, data.get(field.name), field_errors)
            fields.append(ctx)
            summary += [{"anchor": ctx["anchor"], "label": field.title, "message": e}
                        for e in field_errors]
        sections.append({"id": f"form-section-{number}", "title": section.title,
                         "description": section.description, "fields": fields})
    general = _messages_of(errors, "__all__")
    first_anchor = sections[0]["fields"][0]["anchor"] if sections else ""
    return render_to_string("applications/form/form.html", {
        "sections": sections, "summary": summary if error_summary else [],
        "general": general if error_summary else [], "first_anchor": first_anchor,
        "autosave_url": autosave_url,
    })


def _messages_of(errors: Mapping, key: str) -> list[str]:
    """One key's messages as a list of texts, whether given as a list or a single text."""
    found = errors.get(key)
    if not found:
        return []
    if isinstance(found, (str, bytes)) or not isinstance(found, (list, tuple)):
        return [str(found)]
    return [str(e) for e in found]


def summarise_errors(defn: Any, errors: Mapping | None) -> list[dict[str, str]]:
    """Entries for the page's error summary, in the order of the form: ``label`` (the field's
    title), ``text`` (the message, which names the field) and ``href`` (``#f-<name>``)."""
    form = _compile(defn)
    errors = errors if isinstance(errors, Mapping) else {}
    entries = [{"label": "", "text": str(e), "href": ""} for e in _messages_of(errors, "__all__")]
    for name, field in form.fields.items():
        entries += [{"label": field.title, "text": str(e), "href": f"#f-{name}"}
                    for e in _messages_of(errors, name)]
    return entries


# ---------------------------------------------------------------- 一表申请: merge and split

_PRESENTATION_KEYS = {"title", "description", "x-prefill", "x-title-en", "x-enum-labels",
                      "x-pattern-message"}


def _substance(prop: dict) -> dict:
    """What a field accepts, without how it is presented."""
    core = {k: v for k, v in prop.items() if k not in _PRESENTATION_KEYS}
    if isinstance(core.get("items"), dict):
        core["items"] = {k: v for k, v in core["items"].items() if k not in _PRESENTATION_KEYS}
    return core


def merge(defs: list[Any], *, titles: list[str] | None = None
          ) -> tuple[dict, list[dict[str, str]]]:
    """Merge several items' forms into one (一表申请).

    Fields with the same name and type are asked once when one answer can satisfy every item:
    the merged field accepts exactly the answers that all of them accept (the larger minimum, the
    smaller maximum, the options they have in common, the format or pattern of whichever has
    one). Same-named fields that cannot be joined (different types, formats or patterns, no
    common option) are kept apart under a prefixed name (``item2__amount``) and labelled with the
    item's title (``titles[i]`` or the definition's ``title``). Sections with the same title are
    joined. Returns the merged definition and, per input form, its field name → merged name
    mapping (JSON-serialisable, to keep with the draft for ``split``).
    """
    if not isinstance(defs, (list, tuple)) or not defs:
        raise FormDefinitionError({"__all__": ["至少需要一个表单 / at least one form is needed"]})
    loaded = []
    for i, defn in enumerate(defs):
        try:
            form = _compile(defn)
        except FormDefinitionError as exc:
            raise FormDefinitionError({f"form{i + 1}.{k}": v for k, v in exc.errors.items()}) \
                from None
        loaded.append((copy.deepcopy(_load(defn)[0]), form))
    props: dict[str, dict] = {}
    shared: set[str] = set()  # merged names that are a field's own name, open to sharing
    required: list[str] = []
    sections: list[dict] = []
    section_by_title: dict[str, dict] = {}
    mapping: list[dict[str, str]] = []
    for i, (defn, form) in enumerate(loaded):
        title = (titles[i] if titles and i < len(titles) else None) or defn.get("title") \
            or f"事项{i + 1}"
        own_required = set(defn["schema"].get("required", []))
        names: dict[str, str] = {}
        for section in defn["layout"]:
            target = section_by_title.get(section["title"])
            if target is None:
                target = {"title": section["title"], "fields": []}
                if section.get("description"):
                    target["description"] = section["description"]
            added = False
            for entry in section["fields"]:
                entry = {"name": entry} if isinstance(entry, str) else dict(entry)
                name = entry["name"]
                prop = copy.deepcopy(form.fields[name].schema)  # with a widget's implied format
                joined = _intersect(props[name], prop) if name in shared else None
                if joined is not None:
                    props[name] = joined
                    names[name] = name
                    _adopt_prefill(target_sections=sections, name=name, entry=entry)
                    if name in own_required and name not in required:
                        required.append(name)
                    continue
                merged_name = name
                if name in props:
                    merged_name = _free_name(f"item{i + 1}__{name}", props)
                    prop["title"] = f"{prop.get('title') or name}（{title}）"[:MAX_LABEL]
                    entry["name"] = merged_name
                else:
                    shared.add(name)
                names[name] = merged_name
                props[merged_name] = prop
                if name in own_required:
                    required.append(merged_name)
                target["fields"].append(entry)
                added = True
            if added and section["title"] not in section_by_title:
                section_by_title[section["title"]] = target
                sections.append(target)
        mapping.append(names)
    merged = {"schema": {"$schema": SCHEMA_DIALECT, "type": "object", "properties": props,
                         "required": required, "additionalProperties": False},
              "layout": sections}
    check_definition(merged)
    return merged, mapping


_LOWER_BOUNDS = ("minLength", "minimum", "minItems")
_UPPER_BOUNDS = {"minLength": "maxLength", "minimum": "maximum", "minItems": "maxItems"}


def _intersect(first: dict, other: dict) -> dict | None:
    """A field accepting exactly the answers both fields accept, presented like ``first``; or
    None when there is no such field in the supported keywords."""
    if first.get("type") != other.get("type"):
        return None
    a, b = _substance(first), _substance(other)
    if a == b:
        return first
    joined = dict(first)
    for key in (set(a) | set(b)) - {"type"}:
        mine, theirs = a.get(key, _MISSING), b.get(key, _MISSING)
        if theirs is _MISSING or mine == theirs:
            continue
        if mine is _MISSING:
            joined[key] = theirs
            if key == "pattern" and "x-pattern-message" in other:
                joined["x-pattern-message"] = other["x-pattern-message"]
            if key == "enum" and "x-enum-labels" in other:
                joined["x-enum-labels"] = other["x-enum-labels"]
        elif key in _LOWER_BOUNDS:
            joined[key] = max(mine, theirs)
        elif key in _UPPER_BOUNDS.values():
            joined[key] = min(mine, theirs)
        elif key == "uniqueItems":
            joined[key] = bool(mine or theirs)
        elif key == "enum":
            labels = {**dict(zip(theirs, other.get("x-enum-labels") or theirs)),
                      **dict(zip(mine, first.get("x-enum-labels") or mine))}
            common = [v for v in mine if v in theirs]
            if not common:
                return None
            joined["enum"] = common
            if "x-enum-labels" in first or "x-enum-labels" in other:
                joined["x-enum-labels"] = [labels[v] for v in common]
        else:  # a different format, pattern or list of options: no single field asks both
            return None
    for low, high in _UPPER_BOUNDS.items():
        if low in joined and high in joined and joined[low] > joined[high]:
            return None
    return joined


def _adopt_prefill(target_sections: list[dict], name: str, entry: dict) -> None:
    """A shared field keeps its first layout options, and takes a prefill source if it had none."""
    if "prefill" not in entry:
        return
    for section in target_sections:
        for i, existing in enumerate(section["fields"]):
            if existing.get("name") == name and "prefill" not in existing:
                section["fields"][i] = {**existing, "prefill": entry["prefill"]}
                return


def _free_name(candidate: str, taken: Mapping) -> str:
    name, n = candidate, 2
    while name in taken:
        name, n = f"{candidate}_{n}", n + 1
    return name


def split(merged_data: Mapping, mapping: list[Mapping[str, str]]) -> list[dict]:
    """Each item's own answers from the merged answers, under its own field names."""
    merged_data = merged_data if isinstance(merged_data, Mapping) else {}
    return [{own: copy.deepcopy(merged_data[merged]) for own, merged in names.items()
             if merged in merged_data} for names in mapping]


# ---------------------------------------------------------------- default forms

_PERSON_KINDS = {"person", "natural", "natural_person", "1", "自然人"}
_LEGAL_KINDS = {"legal", "legal_person", "enterprise", "2", "法人"}
_DESCRIPTION = {"type": "string", "title": "申请事项说明", "x-title-en": "Description",
                "minLength": 2, "maxLength": 2000,
                "description": "简要说明申请的事由和需要办理的内容"}


def default_definition(kind: str) -> dict:
    """The applicant form for items without a form of their own: ``"person"`` (自然人) or
    ``"legal"`` (法人). A new copy each call, so callers may change it."""
    kind = str(kind).strip().lower()
    if kind in _PERSON_KINDS:
        props = {
            "applicant_name": {"type": "string", "title": "申请人姓名", "maxLength": 60,
                               "x-title-en": "Applicant name"},
            "id_number": {"type": "string", "title": "公民身份号码", "format": "id_number",
                          "x-title-en": "Citizen ID number"},
            "mobile": {"type": "string", "title": "手机号码", "format": "mobile",
                       "x-title-en": "Mobile number"},
            "address": {"type": "string", "title": "联系地址", "maxLength": 200,
                        "x-title-en": "Address"},
            "description": dict(_DESCRIPTION),
        }
        layout = [
            {"title": "申请人信息", "fields": [
                {"name": "applicant_name", "prefill": "applicant.name"},
                {"name": "id_number", "prefill": "applicant.id_number",
                 "hint": "18位，最后一位可能是X"},
                {"name": "mobile", "prefill": "applicant.mobile",
                 "hint": "用于接收办理进度短信"},
                {"name": "address", "widget": "address", "prefill": "applicant.address"},
            ]},
            {"title": "申请内容", "fields": [{"name": "description", "widget": "textarea"}]},
        ]
    elif kind in _LEGAL_KINDS:
        props = {
            "enterprise_name": {"type": "string", "title": "单位名称", "maxLength": 100,
                                "x-title-en": "Organisation name"},
            "uscc": {"type": "string", "title": "统一社会信用代码", "format": "uscc",
                     "x-title-en": "Unified social credit code"},
            "legal_representative": {"type": "string", "title": "法定代表人", "maxLength": 60,
                                     "x-title-en": "Legal representative"},
            "contact_name": {"type": "string", "title": "联系人", "maxLength": 60,
                             "x-title-en": "Contact person"},
            "mobile": {"type": "string", "title": "联系人手机号码", "format": "mobile",
                       "x-title-en": "Mobile number"},
            "address": {"type": "string", "title": "单位地址", "maxLength": 200,
                        "x-title-en": "Address"},
            "description": dict(_DESCRIPTION),
        }
        layout = [
            {"title": "单位信息", "fields": [
                {"name": "enterprise_name", "prefill": "enterprise.name"},
                {"name": "uscc", "prefill": "enterprise.uscc", "hint": "18位，见营业执照"},
                {"name": "legal_representative", "prefill": "enterprise.legal_representative"},
                {"name": "address", "widget": "address", "prefill": "enterprise.address"},
            ]},
            {"title": "联系人", "fields": [
                {"name": "contact_name", "prefill": "applicant.name"},
                {"name": "mobile", "prefill": "applicant.mobile",
                 "hint": "用于接收办理进度短信"},
            ]},
            {"title": "申请内容", "fields": [{"name": "description", "widget": "textarea"}]},
        ]
    else:
        raise ValueError(f"未知的申请人类型 {kind!r}（person 或 legal） / unknown applicant kind "
                         f"{kind!r}: use person or legal")
    return {"schema": {"$schema": SCHEMA_DIALECT, "type": "object", "properties": props,
                       "required": list(props), "additionalProperties": False},
            "layout": layout}
