"""办件流程引擎: BPMN 2.0 processes for cases, run by SpiffWorkflow.

A pure module: no models, no database. The case services keep the process definition (the BPMN
XML of the version a case started on, identified by its sha256) and the serialised engine state
with the case, and call these functions to start an instance, list its ready user tasks, complete
one with an outcome, and read how it ended.

Uploaded definitions are administrator input and are checked before anything runs them: size,
well-formed XML without a DOCTYPE (so no entity expansion), the BPMN schema, a small set of
allowed elements (no scripts, services, sub-processes, timers or messages), task properties
(role, organisation rule, time limit, outcomes) and gateway conditions, which may only compare
variables with constants and are evaluated without builtins.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any
from uuid import UUID, uuid4

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as defused_fromstring
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

__all__ = [
    "MAX_DEFINITION_BYTES",
    "ORG_RULES",
    "ROLES",
    "ProcessDefinitionError",
    "ProcessInfo",
    "TaskInfo",
    "WorkflowError",
    "cancel",
    "complete",
    "default_definition",
    "is_finished",
    "ready_tasks",
    "result",
    "sha256",
    "start",
    "validate",
]

#: Who works on a step: 窗口人员, 审查人员, 审批人员, 申请人.
ROLES = ("clerk", "reviewer", "approver", "applicant")
#: Which organisation's staff get the step: the comprehensive window of the case's region,
#: the item's implementing organisation, or that organisation's parent.
ORG_RULES = ("window", "owner", "owner_parent")
#: Largest definition accepted (bytes).
MAX_DEFINITION_BYTES = 512 * 1024
#: Largest per-step limit accepted (working days); anything longer is a typo.
MAX_LIMIT_DAYS = 365
#: ``result()`` of an instance withdrawn with ``cancel()``.
CANCELLED = "cancelled"
#: Default process kinds: 即办件 and 承诺件.
DEFAULT_KINDS = ("instant", "promised")

STATE_FORMAT = "yiwang.bpmn/1"

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# Direct children of <process> that a case process may use. Everything else (script, service,
# business-rule and send/receive tasks, sub-processes, call activities, data objects, boundary
# and intermediate events) is refused: the case services only know how to hand out user tasks.
_ALLOWED_PROCESS_CHILDREN = {
    "startEvent",
    "endEvent",
    "userTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "sequenceFlow",
    "laneSet",
    "documentation",
    "extensionElements",
    "textAnnotation",
    "association",
}
# Children a flow node may have besides these: anything with an expression or a script is refused.
_ALLOWED_NODE_CHILDREN = {"incoming", "outgoing", "documentation", "extensionElements"}
_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_OUTCOME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_EXPRESSION_CHARS = 500
_MAX_EXPRESSION_NODES = 60


@dataclass(frozen=True)
class TaskInfo:
    """One user task (环节) of a process: an open task of an instance, or a step of a definition
    (then ``id`` is empty)."""

    id: str  # the engine's task id (uuid string), stable across serialise/restore
    key: str  # the BPMN element id, e.g. "pre_review"
    name: str  # the BPMN name, e.g. "受理"
    role: str  # one of ROLES
    org_rule: str  # one of ORG_RULES
    limit_days: int  # this step's time limit in working days (0 = none)
    outcomes: tuple[str, ...]  # allowed values of `outcome` when completing it


@dataclass(frozen=True)
class ProcessInfo:
    """A checked process definition (流程定义)."""

    process_id: str
    name: str
    tasks: tuple[TaskInfo, ...]  # user tasks in document order, with empty ids
    sha256: str  # of the XML bytes, the version key a case keeps
    end_events: tuple[str, ...] = ()  # end event ids: the possible results

    def task(self, key: str) -> TaskInfo:
        """The step with this BPMN id."""
        for info in self.tasks:
            if info.key == key:
                return info
        raise KeyError(key)


class WorkflowError(Exception):
    """Runtime misuse (流程运行错误): unknown task, bad outcome, finished instance, foreign state."""


class ProcessDefinitionError(Exception):
    """An invalid process definition (流程定义无效).

    ``errors`` maps a field to its messages ("中文 / English"): ``"xml"`` for the document as a
    whole, ``"process"`` for the process structure, an element id (``"pre_review"``) or an element
    id and property (``"pre_review.role"``) for one element.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(
            "; ".join(f"{field}: {msg}" for field, msgs in errors.items() for msg in msgs)
        )


def sha256(xml: bytes) -> str:
    """The version key of a definition."""
    return hashlib.sha256(xml).hexdigest()


# --- Expressions ---------------------------------------------------------------------------------

_SAFE_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
)


def _check_expression(expression: str) -> str | None:
    """Why a gateway condition is not allowed, or None if it is.

    Conditions compare task data with constants: ``outcome == "accept"``,
    ``outcome_decide in ("approve", "partial") and not urgent``. No calls, attributes,
    subscripts or private names, so there is nothing to reach out of the expression with.
    """
    if len(expression) > _MAX_EXPRESSION_CHARS:
        return f"条件过长 / condition longer than {_MAX_EXPRESSION_CHARS} characters"
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "条件不是合法的表达式 / condition is not a valid expression"
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_EXPRESSION_NODES:
        return "条件过于复杂 / condition is too complex"
    for node in nodes:
        if not isinstance(node, _SAFE_NODES):
            return (
                "条件只能用变量、常量、比较和 and/or/not / a condition may only use variables, "
                f"constants, comparisons and and/or/not (found {type(node).__name__})"
            )
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            return f"条件不能使用以下划线开头的变量 / private name not allowed: {node.id}"
        if isinstance(node, ast.Constant) and not isinstance(
            node.value, (str, int, float, bool, type(None))
        ):
            return "条件中的常量类型不支持 / unsupported constant in condition"
    return None


class _MissingIsNone(dict):
    """Task data seen by a condition: a variable never set reads as None."""

    def __missing__(self, key: str) -> None:
        return None


class _RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates checked conditions without builtins; runs no scripts at all."""

    def __init__(self) -> None:
        super().__init__({})
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _compile(self, expression: str) -> Any:
        code = self._compiled.get(expression)
        if code is None:
            problem = _check_expression(expression)
            if problem:
                raise WorkflowError(problem)
            code = compile(expression.strip(), "<condition>", "eval")
            with self._lock:
                if len(self._compiled) > 4096:
                    self._compiled.clear()
                self._compiled[expression] = code
        return code

    def evaluate(self, expression, context, external_context=None):
        scope = _MissingIsNone(external_context or {})
        scope.update(context)
        return eval(self._compile(expression), {"__builtins__": {}}, scope)

    def execute(self, script, context, external_context=None):
        raise WorkflowError("流程中不允许脚本 / scripts are not allowed in case processes")

    def call_service(self, context, **kwargs):
        raise WorkflowError(
            "流程中不允许服务调用 / service calls are not allowed in case processes"
        )


_ENGINE = PythonScriptEngine(environment=_RestrictedEnvironment())


# --- Parsing and checking definitions ------------------------------------------------------------


# The encoding named in the XML declaration, if any (group 1 is None without a declaration).
_ENCODING_RE = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]*)[\"'])?"
)
_UTF8_ONLY = "流程定义必须使用 UTF-8 编码 / the definition must be encoded in UTF-8"


def _parse_xml(xml: bytes, errors: dict[str, list[str]]) -> etree._ElementTree | None:
    if not isinstance(xml, (bytes, bytearray)):
        errors["xml"] = ["流程定义必须是字节串 / the definition must be bytes"]
        return None
    if len(xml) > MAX_DEFINITION_BYTES:
        kb = MAX_DEFINITION_BYTES // 1024
        errors["xml"] = [f"流程定义超过 {kb} KB / the definition is larger than {kb} KB"]
        return None
    if not xml.strip():
        errors["xml"] = ["流程定义为空 / the definition is empty"]
        return None
    declared = _ENCODING_RE.match(bytes(xml))
    try:
        bytes(xml).decode("utf-8")
    except UnicodeDecodeError:
        declared = None
    if (
        declared is None
        or declared.group(1)
        and declared.group(1).upper() not in (b"UTF-8", b"UTF8")
    ):
        errors["xml"] = [_UTF8_ONLY]
        return None
    # libxml2 expands internal entities in attribute values even with resolve_entities=False,
    # so any DTD is refused by expat (defusedxml) before lxml sees the document. BPMN needs none.
    try:
        defused_fromstring(bytes(xml), forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        errors["xml"] = [
            "不允许 DOCTYPE 或实体声明 / DOCTYPE and entity declarations are not allowed"
        ]
        return None
    except (ParseError, ValueError) as exc:
        errors["xml"] = [f"不是格式正确的 XML / not well-formed XML: {exc}"]
        return None
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(bytes(xml), parser)
    except etree.XMLSyntaxError as exc:
        errors["xml"] = [f"不是格式正确的 XML / not well-formed XML: {exc}"]
        return None
    tree = root.getroottree()
    if (tree.docinfo.encoding or "UTF-8").upper() not in ("UTF-8", "UTF8"):
        errors["xml"] = [_UTF8_ONLY]
        return None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        errors["xml"] = [
            "根元素必须是 BPMN 2.0 的 definitions / the root element must be BPMN 2.0 definitions"
        ]
        return None
    try:
        VALIDATOR.validate(tree)
    except ValidationException as exc:
        errors["xml"] = [f"不符合 BPMN 2.0 规范 / does not conform to the BPMN 2.0 schema: {exc}"]
        return None
    return tree


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_user_task(node: etree._Element, errors: dict[str, list[str]]) -> TaskInfo | None:
    key = node.get("id", "")
    ok = True
    if not _KEY_RE.fullmatch(key):
        _add(
            errors,
            key or "process",
            "用户任务 id 必须以字母开头，只含字母、数字和下划线，最多 64 个字符 / a user task id must "
            "start with a letter and contain only letters, digits and underscores (at most 64)",
        )
        ok = False
    name = (node.get("name") or "").strip()
    if not name:
        _add(errors, f"{key}.name", "用户任务必须有名称 / a user task needs a name")
        ok = False
    extensions = node.findall("bpmn:extensionElements/*", _NS)
    properties: dict[str, str] = {}
    for ext in extensions:
        if ext.tag != f"{{{SPIFF_NS}}}properties":
            _add(
                errors,
                key,
                f"不支持的扩展元素 {_local(ext)} / unsupported extension element {_local(ext)} "
                "(only spiffworkflow:properties)",
            )
            ok = False
            continue
        for prop in ext.findall("spiffworkflow:property", _NS):
            properties[prop.get("name", "")] = (prop.get("value") or "").strip()

    role = properties.get("role", "")
    if role not in ROLES:
        _add(
            errors,
            f"{key}.role",
            f"角色必须是 {'、'.join(ROLES)} 之一 / role must be one of {', '.join(ROLES)}"
            + (f" (got {role!r})" if role else " (missing)"),
        )
        ok = False
    org_rule = properties.get("org_rule", "")
    if org_rule not in ORG_RULES:
        _add(
            errors,
            f"{key}.org_rule",
            f"机构规则必须是 {'、'.join(ORG_RULES)} 之一 / org_rule must be one of "
            f"{', '.join(ORG_RULES)}" + (f" (got {org_rule!r})" if org_rule else " (missing)"),
        )
        ok = False
    raw_limit = properties.get("limit_days", "0") or "0"
    limit_days = 0
    if not re.fullmatch(r"[0-9]{1,4}", raw_limit):
        _add(
            errors,
            f"{key}.limit_days",
            f"时限必须是非负整数（工作日） / limit_days must be a non-negative whole number of "
            f"working days (got {raw_limit!r})",
        )
        ok = False
    else:
        limit_days = int(raw_limit)
        if limit_days > MAX_LIMIT_DAYS:
            _add(
                errors,
                f"{key}.limit_days",
                f"时限不能超过 {MAX_LIMIT_DAYS} 个工作日 / limit_days may be at most {MAX_LIMIT_DAYS}",
            )
            ok = False
    outcomes = tuple(o.strip() for o in properties.get("outcomes", "").split(",") if o.strip())
    if not outcomes:
        _add(
            errors,
            f"{key}.outcomes",
            "必须列出办理结果，如 accept,reject / outcomes must list the allowed results, "
            "e.g. accept,reject",
        )
        ok = False
    elif not all(_OUTCOME_RE.fullmatch(o) for o in outcomes) or len(set(outcomes)) != len(outcomes):
        _add(
            errors,
            f"{key}.outcomes",
            "办理结果须为不重复的小写字母、数字、下划线标识 / outcomes must be distinct lowercase "
            "identifiers (letters, digits, underscores)",
        )
        ok = False
    for child in node:
        if _local(child) and _local(child) not in _ALLOWED_NODE_CHILDREN:
            _add(
                errors,
                key,
                f"用户任务中不支持 {_local(child)} / {_local(child)} is not supported in a user task",
            )
            ok = False
    if not ok:
        return None
    return TaskInfo("", key, name, role, org_rule, limit_days, outcomes)


def _check_structure(tree: etree._ElementTree, errors: dict[str, list[str]]):
    """Check the single executable process; return (process element, user tasks, end ids)."""
    processes = tree.getroot().findall("bpmn:process", _NS)
    if len(processes) != 1:
        _add(
            errors,
            "process",
            "必须恰好包含一个流程（process） / the definition must contain exactly one process",
        )
        return None, [], []
    process = processes[0]
    process_id = process.get("id", "")
    if not _KEY_RE.fullmatch(process_id):
        _add(
            errors,
            "process",
            "流程 id 必须以字母开头，只含字母、数字和下划线 / the process id must start with a "
            "letter and contain only letters, digits and underscores",
        )
    if process.get("isExecutable", "true") == "false":
        _add(errors, "process", "流程必须可执行 / the process must be executable (isExecutable)")

    tasks: list[TaskInfo] = []
    ends: list[str] = []
    starts = 0
    for node in process:
        tag = _local(node)
        if not tag:
            continue  # comments, processing instructions
        node_id = node.get("id", "") or "process"
        if tag not in _ALLOWED_PROCESS_CHILDREN:
            _add(
                errors,
                node_id,
                f"不支持的元素 {tag}：流程只能使用开始/结束事件、用户任务、网关和顺序流 / "
                f"unsupported element {tag}: a case process may use only start and end events, "
                "user tasks, gateways and sequence flows",
            )
            continue
        if tag == "userTask":
            info = _check_user_task(node, errors)
            if info is not None:
                tasks.append(info)
        elif tag in ("startEvent", "endEvent"):
            definitions = [
                _local(c) for c in node if _local(c) and _local(c) not in _ALLOWED_NODE_CHILDREN
            ]
            allowed = {"terminateEventDefinition"} if tag == "endEvent" else set()
            for definition in definitions:
                if definition not in allowed:
                    _add(
                        errors,
                        node_id,
                        f"事件中不支持 {definition} / {definition} is not supported on a {tag}",
                    )
            if tag == "startEvent":
                starts += 1
            else:
                if len(node_id) > 64:
                    _add(errors, node_id, "结束事件 id 过长 / end event id longer than 64")
                if node_id == CANCELLED:
                    _add(
                        errors,
                        node_id,
                        f"结束事件 id 不能是 {CANCELLED}（撤回专用） / {CANCELLED} is reserved "
                        "for withdrawn cases",
                    )
                ends.append(node_id)
        elif tag == "sequenceFlow":
            for condition in node.findall("bpmn:conditionExpression", _NS):
                problem = _check_expression(condition.text or "")
                if problem:
                    _add(errors, f"{node_id}.condition", problem)
        elif tag.endswith("Gateway"):
            for child in node:
                if _local(child) and _local(child) not in _ALLOWED_NODE_CHILDREN:
                    _add(
                        errors,
                        node_id,
                        f"网关中不支持 {_local(child)} / not supported: {_local(child)}",
                    )
    if starts != 1:
        _add(
            errors,
            "process",
            "流程必须恰好有一个开始事件 / the process must have exactly one start event",
        )
    if not ends:
        _add(
            errors, "process", "流程至少需要一个结束事件 / the process needs at least one end event"
        )
    has_user_task = process.find("bpmn:userTask", _NS) is not None
    if not has_user_task:
        _add(
            errors, "process", "流程至少需要一个用户任务 / the process needs at least one user task"
        )
    if starts == 1 and not errors:
        _check_flows(process, tasks, errors)
    return process, tasks, ends


_FLOW_NODES = {
    "startEvent",
    "endEvent",
    "userTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
}


def _check_flows(process: etree._Element, tasks: list[TaskInfo], errors: dict[str, list[str]]):
    """The graph: flows join known elements, everything is reachable from the start and can reach
    an end, and gateway conditions on outcomes name outcomes the steps really offer."""
    kinds = {n.get("id"): _local(n) for n in process if _local(n) in _FLOW_NODES}
    outgoing: dict[str, list[etree._Element]] = {k: [] for k in kinds}
    incoming: dict[str, list[etree._Element]] = {k: [] for k in kinds}
    for flow in process.findall("bpmn:sequenceFlow", _NS):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        unknown = [ref or "?" for ref in (source, target) if ref not in kinds]
        if unknown:
            _add(
                errors,
                flow.get("id") or "process",
                f"顺序流连接了不存在的元素 {', '.join(unknown)} / the sequence flow connects "
                f"unknown element(s) {', '.join(unknown)}",
            )
            continue
        outgoing[source].append(flow)
        incoming[target].append(flow)
    if errors:
        return
    for node_id, kind in kinds.items():
        if kind == "endEvent" and outgoing[node_id]:
            _add(
                errors,
                node_id,
                "结束事件不能有流出的顺序流 / an end event cannot have outgoing flows",
            )
        elif kind != "endEvent" and not outgoing[node_id]:
            _add(errors, node_id, "缺少流出的顺序流 / the element has no outgoing sequence flow")
        if kind == "startEvent" and incoming[node_id]:
            _add(
                errors,
                node_id,
                "开始事件不能有流入的顺序流 / a start event cannot have incoming flows",
            )
    if errors:
        return

    def reach(first: list[str], step) -> set[str]:
        seen, todo = set(first), list(first)
        while todo:
            for nxt in step(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    start = [k for k, kind in kinds.items() if kind == "startEvent"]
    ends = [k for k, kind in kinds.items() if kind == "endEvent"]
    forward = reach(start, lambda n: [f.get("targetRef") for f in outgoing[n]])
    backward = reach(ends, lambda n: [f.get("sourceRef") for f in incoming[n]])
    for node_id in kinds:
        if node_id not in forward:
            _add(errors, node_id, "从开始事件无法到达 / not reachable from the start event")
        elif node_id not in backward:
            _add(errors, node_id, "无法到达任何结束事件 / no path from here to an end event")
    if errors:
        return

    offered = {t.key: t.outcomes for t in tasks}
    for gateway_id, kind in kinds.items():
        if kind not in ("exclusiveGateway", "inclusiveGateway"):
            continue
        before = [f.get("sourceRef") for f in incoming[gateway_id]]
        # `outcome` right after a gateway is the outcome of the step(s) that lead into it.
        previous = (
            {k: offered[k] for k in before if k in offered}
            if all(k in offered for k in before)
            else None
        )
        conditions = {}
        for flow in outgoing[gateway_id]:
            expression = flow.findtext("bpmn:conditionExpression", default=None, namespaces=_NS)
            if expression is not None:
                conditions[flow.get("id")] = ast.parse(expression.strip(), mode="eval")
        only_outcomes = True
        for flow_id, tree in conditions.items():
            for name, values in _outcome_comparisons(tree):
                if name == "outcome":
                    if previous is None:
                        continue
                    allowed = {o for outs in previous.values() for o in outs}
                    step = "、".join(previous)
                elif name.startswith("outcome_") and name[8:] in offered:
                    allowed, step = set(offered[name[8:]]), name[8:]
                elif name.startswith("outcome_"):
                    _add(
                        errors,
                        f"{flow_id}.condition",
                        f"条件引用了不存在的环节 {name[8:]} / the condition refers to an unknown "
                        f"step {name[8:]}",
                    )
                    continue
                else:
                    only_outcomes = False
                    continue
                for value in values:
                    if value not in allowed:
                        _add(
                            errors,
                            f"{flow_id}.condition",
                            f"{value!r} 不是环节 {step} 的办理结果 / {value!r} is not an outcome "
                            f"of step {step} ({', '.join(sorted(allowed))})",
                        )
            names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            known = {"outcome", *(f"outcome_{k}" for k in previous or ())}
            if not names <= known:
                only_outcomes = False
        # Every outcome of the step before must lead somewhere, or completing it would fail.
        has_default = bool(process.find(f"bpmn:*[@id='{gateway_id}']", _NS).get("default"))
        unconditioned = any(f.get("id") not in conditions for f in outgoing[gateway_id])
        if previous and only_outcomes and not has_default and not unconditioned:
            for key, outs in previous.items():
                for value in outs:
                    scope = _MissingIsNone({"outcome": value, f"outcome_{key}": value})
                    if not any(_quiet_eval(tree, scope) for tree in conditions.values()):
                        _add(
                            errors,
                            gateway_id,
                            f"环节 {key} 的办理结果 {value!r} 没有对应的分支 / outcome {value!r} "
                            f"of step {key} matches no branch of this gateway",
                        )


def _outcome_comparisons(tree: ast.AST):
    """(variable, string constants) pairs of `name == "x"`, `name in ("x", "y")` comparisons."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = [o.id for o in operands if isinstance(o, ast.Name)]
        values = []
        for o in operands:
            if isinstance(o, ast.Constant) and isinstance(o.value, str):
                values.append(o.value)
            elif isinstance(o, (ast.Tuple, ast.List)):
                values += [e.value for e in o.elts if isinstance(e, ast.Constant)]
        for name in names:
            if name == "outcome" or name.startswith("outcome_"):
                yield name, [v for v in values if isinstance(v, str)]


def _quiet_eval(tree: ast.Expression, scope: dict) -> bool:
    try:
        return bool(eval(compile(tree, "<condition>", "eval"), {"__builtins__": {}}, scope))
    except (TypeError, ValueError, ArithmeticError):  # e.g. None < 3: cannot tell, so accept
        return True


@dataclass(frozen=True)
class _Definition:
    info: ProcessInfo
    spec: Any  # SpiffWorkflow BpmnProcessSpec, shared read-only between instances
    tasks: dict[str, TaskInfo]


def _build(xml: bytes) -> _Definition:
    errors: dict[str, list[str]] = {}
    tree = _parse_xml(xml, errors)
    if tree is None:
        raise ProcessDefinitionError(errors)
    process, tasks, ends = _check_structure(tree, errors)
    if errors:
        raise ProcessDefinitionError(errors)
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(tree.getroot())
        spec = parser.get_spec(process.get("id"))
    except ValidationException as exc:
        field = getattr(exc, "id", None) or "process"
        raise ProcessDefinitionError(
            {field: [f"流程结构无效 / invalid process structure: {exc}"]}
        ) from None
    except (SpiffWorkflowException, LookupError, AttributeError, TypeError, ValueError) as exc:
        # the engine's parser raises assorted errors on odd graphs
        raise ProcessDefinitionError(
            {"process": [f"流程结构无效 / invalid process structure: {exc}"]}
        ) from None
    info = ProcessInfo(
        process_id=process.get("id"),
        name=(process.get("name") or "").strip() or process.get("id"),
        tasks=tuple(tasks),
        sha256=sha256(bytes(xml)),
        end_events=tuple(ends),
    )
    return _Definition(info=info, spec=spec, tasks={t.key: t for t in tasks})


class _Bounded:
    """A map of at most ``size`` entries, the least recently used dropped first; shared by the
    process's threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _DefinitionCache(_Bounded):
    """Parsed definitions by sha256: parsing costs milliseconds, a lookup microseconds."""

    def get(self, xml: bytes) -> _Definition:
        found = super().get(sha256(xml)) if isinstance(xml, (bytes, bytearray)) else None
        if found is not None:
            return found
        definition = _build(xml)
        return self.put(definition.info.sha256, definition)


_definitions = _DefinitionCache(256)


def validate(xml: bytes) -> ProcessInfo:
    """Parse and check an uploaded definition; raise ProcessDefinitionError with every problem."""
    return _definitions.get(xml).info


def default_definition(kind: str) -> bytes:
    """The built-in definition for 即办件 ("instant") or 承诺件 ("promised")."""
    if kind not in DEFAULT_KINDS:
        raise WorkflowError(
            f"未知的默认流程 {kind!r} / unknown default process {kind!r} "
            f"(one of {', '.join(DEFAULT_KINDS)})"
        )
    return _default_bytes(kind)


_defaults: dict[str, bytes] = {}


def _default_bytes(kind: str) -> bytes:
    if kind not in _defaults:
        _defaults[kind] = (resources.files(__package__) / "bpmn" / f"{kind}.bpmn").read_bytes()
    return _defaults[kind]


# --- State ---------------------------------------------------------------------------------------


class _StateConverter(BpmnWorkflowConverter):
    """Serialises an instance without its spec: the caller keeps the XML, we keep parsed specs."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct, spec):
        dct = dict(dct)  # the steps below pop keys; leave the caller's state alone
        workflow = BpmnWorkflow(spec, {}, script_engine=_ENGINE, deserializing=True)
        workflow.tasks = self.mapping_from_dict(_parents_first(dct), UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dict(dct["subprocesses"]), workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _parents_first(dct: dict) -> dict:
    """The tasks ordered from the root down.

    A task stores only its changes to its parent's data, so its parent must be restored first;
    the serialiser relies on the mapping's order, which PostgreSQL's jsonb does not keep.
    """
    tasks = dct["tasks"]
    ordered: dict[str, Any] = {}
    todo = deque([dct["root"]])
    while todo:
        task_id = todo.popleft()
        if task_id in ordered or task_id not in tasks:
            continue
        ordered[task_id] = tasks[task_id]
        todo.extend(tasks[task_id].get("children", ()))
    for task_id, task in tasks.items():  # unreachable leftovers, as stored
        ordered.setdefault(task_id, task)
    return ordered


_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_converter = _StateConverter(BpmnWorkflow, _registry)


def _dump(definition: _Definition, workflow: BpmnWorkflow, cancelled: bool = False) -> dict:
    finished = cancelled or workflow.is_completed()
    return {
        "format": STATE_FORMAT,
        "serializer_version": SERIALIZER_VERSION,
        "sha256": definition.info.sha256,
        "process_id": definition.info.process_id,
        "cancelled": cancelled,
        "finished": finished,
        "result": CANCELLED if cancelled else (_end_reached(workflow) if finished else None),
        # The user tasks waiting, as (task id, element id): read without restoring the instance.
        "ready": [] if cancelled else [[str(t.id), t.task_spec.bpmn_id]
                                       for t in workflow.get_tasks(state=TaskState.READY, manual=True)],
        "workflow": _converter.to_dict(workflow),
    }


def _summary(xml: bytes, state: dict) -> tuple[_Definition, dict] | None:
    """The definition and the state when the state carries its own summary (``ready``,
    ``finished``, ``result``, written by ``_dump``) for this definition; None when the instance
    must be restored to answer (states written before the summary existed)."""
    definition = _checked_definition(xml, state)
    if not isinstance(state.get("ready"), list) or not isinstance(state.get("finished"), bool):
        return None
    return definition, state


def _checked_definition(xml: bytes, state: dict) -> _Definition:
    """The parsed definition, after checking that ``state`` is one of its instances' states."""
    definition = _definitions.get(xml)
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise WorkflowError("不是本引擎的流程状态 / not a process state of this engine")
    if state.get("sha256") != definition.info.sha256:
        raise WorkflowError(
            "流程状态属于另一个流程版本 / the state belongs to another version of the process"
        )
    return definition


def _load(xml: bytes, state: dict) -> tuple[_Definition, BpmnWorkflow, dict]:
    definition = _checked_definition(xml, state)
    dct = state["workflow"]
    version = state.get("serializer_version")
    if version != SERIALIZER_VERSION:
        # A state written by an older engine: let SpiffWorkflow's own migrations update it.
        dct = json.loads(json.dumps(dct))
        dct["spec"] = _registry.convert(definition.spec)
        dct["subprocess_specs"] = {}
        if version in MIGRATIONS:
            MIGRATIONS[version](dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        dct.pop("VERSION", None)
    try:
        workflow = _converter.restore(dct, definition.spec)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WorkflowError(f"流程状态已损坏 / the process state is damaged: {exc}") from None
    if workflow.task_tree is None or any(t.task_spec is None for t in workflow.tasks.values()):
        raise WorkflowError(
            "流程状态与流程定义不符 / the process state does not fit the definition"
        )
    return definition, workflow, state


def _end_reached(workflow: BpmnWorkflow) -> str | None:
    ends = [
        t
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, EndEvent)
    ]
    if not ends:
        return None
    return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id


# --- Running instances ---------------------------------------------------------------------------


def _run(workflow: BpmnWorkflow) -> None:
    try:
        workflow.do_engine_steps()
    except WorkflowError:
        raise
    except SpiffWorkflowException as exc:
        raise WorkflowError(f"流程无法继续 / the process cannot continue: {exc}") from None


def _check_data(data: dict | None) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise WorkflowError("流程数据必须是字典 / process data must be a dict")
    for key in data:
        if not isinstance(key, str):
            raise WorkflowError("流程变量名必须是字符串 / process variable names must be strings")
        if key == "outcome" or key.startswith("outcome_"):
            # Outcomes route the case: only complete() sets them, from the step's own list.
            raise WorkflowError(
                f"流程变量 {key} 由办理结果设置，不能直接传入 / {key} is set by completing a "
                "step and cannot be passed as data"
            )
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        raise WorkflowError(
            "流程数据必须可转为 JSON / process data must be JSON-serialisable"
        ) from None
    return data


def start(xml: bytes, data: dict) -> dict:
    """Start an instance with these variables and run it to its first wait state."""
    definition = _definitions.get(xml)
    data = _check_data(data)
    key = (definition.info.sha256, json.dumps(data, sort_keys=True))
    found = _starts.get(key)
    if found is None:
        workflow = BpmnWorkflow(definition.spec, script_engine=_ENGINE)
        workflow.task_tree.data.update(data)
        _run(workflow)
        state = _dump(definition, workflow)
        found = _starts.put(key, (json.dumps(state), frozenset(state["workflow"]["tasks"])))
    return _renewed(*found)


# Every item's cases start alike: a process may hold no scripts, services, sub-processes, timers or
# messages, and its conditions are pure expressions over the data, so the run to the first wait
# state depends on the definition and the data alone. That run is made once per (definition, data)
# and process; each new instance is a copy of its state with new task ids (UUIDs, as the engine
# draws them) and the tasks' times of last change moved so that the latest is now.
_starts = _Bounded(512)
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _renewed(text: str, ids: frozenset[str]) -> dict:
    fresh: dict[str, str] = {}

    def swap(match: re.Match) -> str:
        old = match.group(0)
        if old not in ids:  # a UUID in the data, say: not ours to change
            return old
        if old not in fresh:
            fresh[old] = str(uuid4())
        return fresh[old]

    state = json.loads(_UUID_RE.sub(swap, text))
    tasks = state["workflow"]["tasks"].values()
    shift = time.time() - max(t["last_state_change"] for t in tasks)  # the same order, ending now
    for task in tasks:
        task["last_state_change"] += shift
    return state


def ready_tasks(xml: bytes, state: dict) -> list[TaskInfo]:
    """The user tasks waiting for someone (待办), in process order."""
    summary = _summary(xml, state)
    if summary is not None:
        definition, state = summary
        try:
            tasks = state["workflow"]["tasks"]
            # The summary must agree with the stored tasks (a damaged state is refused, as on restore).
            for task_id, bpmn_id in state["ready"]:
                if tasks[task_id]["task_spec"] != bpmn_id:
                    raise ValueError(f"task {task_id} is not {bpmn_id}")
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkflowError(f"流程状态已损坏 / the process state is damaged: {exc}") from None
        try:
            return [replace(definition.tasks[bpmn_id], id=task_id) for task_id, bpmn_id in state["ready"]]
        except (KeyError, TypeError, ValueError):
            raise WorkflowError("流程状态与流程定义不符 / the process state does not fit the definition") from None
    definition, workflow, state = _load(xml, state)
    if state.get("cancelled"):
        return []
    return [
        replace(definition.tasks[t.task_spec.bpmn_id], id=str(t.id))
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
    ]


def complete(xml: bytes, state: dict, task_id: str, outcome: str, data: dict | None = None) -> dict:
    """Complete a ready user task with one of its outcomes; return the new state.

    The outcome is visible to the following gateways as ``outcome`` and, for later steps, as
    ``outcome_<task key>`` (e.g. ``outcome_decide``). ``data`` is merged into the variables first.
    """
    definition, workflow, state = _load(xml, state)
    if state.get("cancelled") or workflow.is_completed():
        raise WorkflowError("流程已结束 / the process has finished")
    try:
        task = workflow.get_task_from_id(UUID(str(task_id)))
    except (ValueError, SpiffWorkflowException):
        raise WorkflowError(f"未知的任务 {task_id} / unknown task {task_id}") from None
    info = definition.tasks.get(getattr(task.task_spec, "bpmn_id", None) or "")
    if info is None:
        raise WorkflowError(f"不是用户任务 {task_id} / not a user task: {task_id}")
    if task.state != TaskState.READY:
        raise WorkflowError(
            f"任务“{info.name}”当前不可办理（已办理或尚未到达） / task {info.key} is not ready "
            "(already completed or not reached)"
        )
    if outcome not in info.outcomes:
        raise WorkflowError(
            f"“{info.name}”的办理结果必须是 {'、'.join(info.outcomes)} 之一 / the outcome of "
            f"{info.key} must be one of {', '.join(info.outcomes)} (got {outcome!r})"
        )
    task.data.update(_check_data(data))
    task.data["outcome"] = outcome
    task.data[f"outcome_{info.key}"] = outcome
    try:
        task.run()
    except SpiffWorkflowException as exc:
        raise WorkflowError(f"任务无法完成 / the task cannot be completed: {exc}") from None
    _run(workflow)
    return _dump(definition, workflow)


def is_finished(xml: bytes, state: dict) -> bool:
    """Whether the instance reached an end event or was cancelled (办结 or 撤回)."""
    if _summary(xml, state) is not None:
        return bool(state.get("cancelled")) or state["finished"]
    _, workflow, state = _load(xml, state)
    return bool(state.get("cancelled")) or workflow.is_completed()


def result(xml: bytes, state: dict) -> str | None:
    """The id of the end event reached ("completed", "refused", "not_accepted"…), "cancelled"
    after ``cancel()``, or None while the instance runs."""
    if _summary(xml, state) is not None:
        if state.get("cancelled"):
            return CANCELLED
        return state.get("result") if state["finished"] else None
    _, workflow, state = _load(xml, state)
    if state.get("cancelled"):
        return CANCELLED
    if not workflow.is_completed():
        return None
    return _end_reached(workflow)


def cancel(xml: bytes, state: dict) -> dict:
    """Withdraw (撤回): cancel every open task; ``result()`` becomes "cancelled"."""
    definition, workflow, state = _load(xml, state)
    if state.get("cancelled") or workflow.is_completed():
        raise WorkflowError("流程已结束 / the process has finished")
    workflow.cancel()
    return _dump(definition, workflow, cancelled=True)
