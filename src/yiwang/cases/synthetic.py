"""Synthetic cases (模拟办件) for the demo, load tests and benchmarks.

``generate(n, seed)`` writes ``n`` cases in bulk over the published items of the database, with
the rows the case services would have written for the same history: the case with its number,
query code, applicant (encrypted through the model's fields), form data, engine state, time
limits and warnings; a ``CaseStep`` per step reached (done, open or cancelled, with handler and
opinion); the ``CaseEvent`` history; material metadata (``source="window"``, no files);
corrections (补正) and special procedures (特别程序).

What it does not write: files, notices (``CaseDocument``), messages and one audit entry per
case; a single audit entry (``cases.synthetic.generate``) records the run.

How it stays faithful and fast:

- **Engine states.** For each process definition, case type and path through it, the real
  engine (``workflow.start``/``complete``/``cancel``) runs once with a placeholder item code;
  the result is the template of every case on that path. Each case gets the template's JSON
  with its own item code. Task ids are only unique within a case, so sharing them is safe, and
  a generated open case can be acted on through ``services.act`` like any other.
- **Numbers.** Case numbers have the format of ``numbering.next_case_number``; the daily
  sequences are reserved with one upsert per batch on ``CaseNumberCounter`` (the same atomic
  increment), so later submissions never draw a number already used.
- **Calendar.** Due dates come from ``yiwang.core.calendar`` (a precomputed table of its working
  days, checked against ``add_working_days`` in the tests); submissions fall in working hours.
- **Bulk writes.** Batches of ``BATCH`` cases; on PostgreSQL the rows go through ``COPY`` with
  the values each model field prepares for the database (the encrypted fields encrypt there,
  exactly as in ``save()`` and ``bulk_create()``), elsewhere as multi-row INSERTs.

Applicants are the registered citizens (``Person``) and enterprises of the database. When there
are few, the people of the population registry (``PopulationRecord``) are registered first as
L2 citizens without a usable password (and the registry's enterprises whose legal
representative is registered), so the cases spread over a realistic number of applicants.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import random
import re
import uuid
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from yiwang.cases import services, workflow
from yiwang.cases.models import (
    Case,
    CaseEvent,
    CaseMaterial,
    CaseStep,
    Correction,
    ProcessDefinition,
    Suspension,
)
from yiwang.core import audit, calendar
from yiwang.core.fields import EncryptedTextField

BATCH = 2000
AUDIT_ACTION = "cases.synthetic.generate"
PLACEHOLDER = "Y1WANG0SYNTHETIC0ITEM0PLACEHOLDER"
MONTHS_BACK = 18
MIN_APPLICANTS = 50

# Share of each status (the brief of the case store: most cases are finished).
STATUS_MIX: tuple[tuple[str, float], ...] = (
    ("submitted", 0.08), ("correction", 0.02), ("not_accepted", 0.03), ("in_review", 0.15),
    ("deciding", 0.05), ("producing", 0.02), ("delivering", 0.03), ("completed", 0.58), ("withdrawn", 0.04),
)

# Paths through the default processes: (weight, [(step key, outcome), …], withdrawn at the end).
# Steps a process does not have (即办件 has no 审查 or 制证) are skipped; the status always comes
# from the engine, as in the services.
ACCEPT = [("pre_review", "accept")]
CORRECTED = [("pre_review", "correct"), ("correction", "resubmit")]
APPROVED = [("review", "pass"), ("decide", "approve"), ("produce", "produced"), ("deliver", "delivered")]
PATHS: dict[str, tuple[tuple[float, list[tuple[str, str]], bool], ...]] = {
    "submitted": ((0.92, [], False), (0.08, CORRECTED, False)),
    "correction": ((1.0, [("pre_review", "correct")], False),),
    "not_accepted": ((0.7, [("pre_review", "reject")], False), (0.3, CORRECTED + [("pre_review", "reject")], False)),
    "in_review": ((0.9, ACCEPT, False), (0.1, CORRECTED + ACCEPT, False)),
    "deciding": ((1.0, ACCEPT + [("review", "pass")], False),),
    "producing": ((1.0, ACCEPT + APPROVED[:2], False),),
    "delivering": ((0.8, ACCEPT + APPROVED[:3], False), (0.2, ACCEPT + [("review", "pass"), ("decide", "refuse")], False)),
    "completed": ((0.86, ACCEPT + APPROVED, False), (0.08, CORRECTED + ACCEPT + APPROVED, False),
                  (0.06, ACCEPT + [("review", "pass"), ("decide", "refuse"), ("deliver", "delivered")], False)),
    "withdrawn": ((0.5, [], True), (0.5, ACCEPT, True)),
}

# Working days an action takes after the one before it, by step key (low, high).
GAPS = {"pre_review": (0, 1), "correction": (1, 6), "review": (1, 4), "decide": (0, 2), "produce": (0, 2),
        "deliver": (0, 2)}

OPINIONS = {
    ("pre_review", "accept"): ("申请材料齐全，符合法定形式，予以受理。", "材料齐全，受理。", "经核验原件无误，予以受理。"),
    ("pre_review", "reject"): ("申请事项不属于本机关职权范围，请向有管辖权的机关申请。",
                               "申请人不具备申请资格，依法不予受理。", "同一事项已在办理中，不予重复受理。"),
    ("pre_review", "correct"): ("", ),
    ("correction", "resubmit"): ("已按补正告知补充材料。", "补正材料已上传，请审核。", ""),
    ("review", "pass"): ("经审查，申请材料真实有效，符合许可条件，建议准予。", "审查通过。", "经现场核查，符合条件。"),
    ("decide", "approve"): ("同意，准予许可。", "准予。", "同意审查意见，准予许可。"),
    ("decide", "refuse"): ("经审查，申请人不符合《中华人民共和国行政许可法》第三十八条规定的条件，不予许可。",
                           "经现场核查，经营场所与申请材料不符，依法不予许可。"),
    ("produce", "produced"): ("证照已制作完成。", "已制证。", ""),
    ("deliver", "delivered"): ("已送达申请人。", "申请人已领取。", "已通过电子方式送达。"),
}
CORRECTION_TEXTS = ("复印件不清晰，请提供清晰的扫描件", "缺少申请人签字", "材料已过有效期，请提供最新版本",
                    "填写内容与证件信息不一致", "缺少加盖公章的页面")
WITHDRAW_REASONS = ("申请信息填写有误，撤回后重新申请", "经营计划调整，暂不办理", "已通过其他渠道办理", "个人原因")
SUSPENSION_RESULTS = ("专家评审通过", "检验检测合格", "现场勘查完毕，符合要求", "听证结束")
STAFF_NAMES = ("王静", "李娜", "张伟", "刘洋", "陈敏", "杨帆", "赵磊", "黄丽", "周杰", "吴芳", "徐强", "孙悦")
DESCRIPTIONS = ("申请办理该事项", "首次申请", "变更登记", "证照到期换领", "开办新门店", "因遗失申请补领")


# ----------------------------------------------------------------------------- the calendar
class WorkCalendar:
    """``calendar.add_working_days`` over a precomputed table of working days (same answers)."""

    def __init__(self, first: dt.date, last: dt.date):
        table = calendar.overrides()
        self.first, self.last = first, last
        day, days = first, []
        while day <= last:
            if calendar.is_workday(day, table):
                days.append(day)
            day += dt.timedelta(days=1)
        self.days = days

    def _fallback(self, start: dt.date, n: int) -> dt.date:
        return calendar.add_working_days(start, n)

    def add(self, start: dt.date, n: int) -> dt.date:
        if start < self.first or start > self.last:
            return self._fallback(start, n)
        if n == 0:
            i = bisect.bisect_left(self.days, start)
        else:
            i = bisect.bisect_right(self.days, start) + n - 1
        return self.days[i] if i < len(self.days) else self._fallback(start, n)

    def between(self, start: dt.date, end: dt.date) -> int:
        if end < start:
            return -self.between(end, start)
        return bisect.bisect_right(self.days, end) - bisect.bisect_right(self.days, start)


# ----------------------------------------------------------------------------- templates
@dataclasses.dataclass
class StepT:
    task_id: str
    key: str
    name: str
    role: str
    org_rule: str
    limit_days: int
    opened: int  # action index that opened it (0 = submission)
    window_org_known: bool  # accepting_org was set when it opened (window steps take it)
    closed: int | None = None  # action index that completed or cancelled it
    outcome: str = ""
    cancelled: bool = False


@dataclasses.dataclass
class Template:
    """One path through one process: what the engine and the services make of it."""

    actions: list[tuple[str, str, str, str]]  # (key, outcome, status before, status after)
    steps: list[StepT]
    status: str
    state_json: str  # with PLACEHOLDER for the item code
    withdrawn: bool
    accepted_at: int | None  # action index (1-based) of acceptance
    decided_at: int | None
    decision: str


def _status_of(xml: bytes, state: dict) -> str:
    if workflow.is_finished(xml, state):
        return Case.Status.NOT_ACCEPTED if workflow.result(xml, state) == "not_accepted" else Case.Status.COMPLETED
    for task in workflow.ready_tasks(xml, state):
        if task.key in services.STATUS_OF_TASK:
            return services.STATUS_OF_TASK[task.key]
    return Case.Status.IN_REVIEW


def build_template(xml: bytes, case_type: str, path: list[tuple[str, str]], withdraw: bool,
                   rng: random.Random) -> Template:
    """Run the engine once along ``path`` and record what the services would have written."""
    state = workflow.start(xml, {"item": PLACEHOLDER, "case_type": case_type})
    steps: dict[str, StepT] = {}
    window_known = False

    def open_new(index: int) -> None:
        for task in workflow.ready_tasks(xml, state):
            if task.id not in steps:
                steps[task.id] = StepT(task.id, task.key, task.name, task.role, task.org_rule, task.limit_days or 0,
                                       index, window_known)

    open_new(0)
    status = _status_of(xml, state)
    actions: list[tuple[str, str, str, str]] = []
    accepted = decided = None
    decision = ""
    for key, outcome in path:
        if workflow.is_finished(xml, state):
            break
        task = next((t for t in workflow.ready_tasks(xml, state) if t.key == key), None)
        if task is None or outcome not in task.outcomes:
            continue
        state = workflow.complete(xml, state, task.id, outcome, {})
        index = len(actions) + 1
        step = steps[task.id]
        step.closed, step.outcome = index, outcome
        if key == "pre_review" and outcome in ("accept", "correct"):
            if outcome == "accept":
                accepted = index
            window_known = True
        if outcome in ("approve", "refuse"):
            decided, decision = index, (Case.Decision.APPROVED if outcome == "approve" else Case.Decision.REFUSED)
        before, status = status, _status_of(xml, state)
        actions.append((key, outcome, before, status))
        open_new(index)
    if withdraw and status in services.WITHDRAWABLE and not decision and not workflow.is_finished(xml, state):
        state = workflow.cancel(xml, state)
        index = len(actions) + 1
        for step in steps.values():
            if step.closed is None:
                step.closed, step.cancelled = index, True
        actions.append(("", "withdraw", status, Case.Status.WITHDRAWN))
        status = Case.Status.WITHDRAWN
    else:
        withdraw = False
    _stable_clock(state)
    text = json.dumps(state, ensure_ascii=False, sort_keys=True)
    # Task ids from the seeded generator, so the same seed gives the same rows.
    tasks = state["workflow"]["tasks"]
    order = list(workflow._parents_first(state["workflow"]))  # root first, children in process order
    order += [t for t in re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
              if t not in tasks]
    ids = {}
    for old in dict.fromkeys(order):
        ids[old] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if ids:
        text = re.sub("|".join(map(re.escape, ids)), lambda m: ids[m.group(0)], text)
        text = json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
    for step in steps.values():
        step.task_id = ids.get(step.task_id, step.task_id)
    ordered = sorted(steps.values(), key=lambda s: (s.opened, s.key))
    return Template(actions, ordered, status, text, withdraw, accepted, decided, decision)


def _stable_clock(state: dict) -> None:
    """Replace the engine's wall-clock task timestamps by fixed ones in the same order, so the same
    seed gives the same states (only their order matters: it tells which end event came last)."""
    found: list[dict] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("last_state_change"), float):
                found.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(state)
    ranks = {t: i for i, t in enumerate(sorted({d["last_state_change"] for d in found}))}
    for d in found:
        d["last_state_change"] = 1_700_000_000.0 + ranks[d["last_state_change"]] / 1000


class Templates:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.cache: dict[tuple, Template] = {}

    def get(self, definition: ProcessDefinition, case_type: str, status: str, path_index: int) -> Template:
        key = (definition.sha256, case_type, status, path_index)
        if key not in self.cache:
            _, path, withdraw = PATHS[status][path_index]
            self.cache[key] = build_template(definition.xml.encode("utf-8"), case_type, path, withdraw, self.rng)
        return self.cache[key]


# ----------------------------------------------------------------------------- who
@dataclasses.dataclass
class Applicant:
    user_id: int
    name: str
    id_number: str
    mobile: str
    address: str
    level: int


@dataclasses.dataclass
class Firm:
    enterprise_id: int
    name: str
    uscc: str
    representative: Applicant


@dataclasses.dataclass
class Staff:
    user_id: int
    label: str
    organization_id: int


def _mobile_for(id_number: str) -> str:
    digest = int(hashlib.sha256(id_number.encode()).hexdigest(), 16)
    return f"1{(3, 5, 7, 8, 9)[digest % 5]}{digest % 10**9:09d}"


def ensure_applicants(minimum: int = MIN_APPLICANTS) -> int:
    """Register the population registry's people as L2 citizens (and their enterprises) when the
    database has fewer than ``minimum`` citizens. Returns how many accounts were created."""
    from yiwang.identity.models import Enterprise, LegalPersonRecord, Person, PopulationRecord

    if Person.objects.count() >= minimum:
        return 0
    User = get_user_model()
    index = Person._meta.get_field("id_number_index")
    registered = set(Person.objects.values_list("id_number_index", flat=True))
    created = 0
    now = timezone.now()
    for record in PopulationRecord.objects.filter(alive=True).order_by("pk"):
        if record.id_number_index in registered:
            continue
        username = f"resident{record.pk:06d}"
        try:
            with transaction.atomic():
                user, new = User.objects.get_or_create(username=username)
                if new:  # signs in by SMS or the identity provider; no password
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                Person.objects.create(user=user, name=record.name, id_number=record.id_number,
                                      mobile=_mobile_for(record.id_number), address=record.address,
                                      assurance_level=2, level_changed_at=now)
        except IntegrityError:
            continue
        registered.add(record.id_number_index)
        created += 1
    by_index = {p.id_number_index: p for p in Person.objects.all()}
    have = set(Enterprise.objects.values_list("uscc", flat=True))
    for firm in LegalPersonRecord.objects.filter(active=True).order_by("pk"):
        rep = by_index.get(index.index_for(firm.legal_rep_id_number))
        if firm.uscc in have or rep is None:
            continue
        Enterprise.objects.create(uscc=firm.uscc, name=firm.name, legal_representative=rep)
        have.add(firm.uscc)
    return created


def _applicants() -> tuple[list[Applicant], list[Firm]]:
    from yiwang.identity.models import Enterprise, Person

    people = {p.pk: Applicant(p.user_id, p.name, p.id_number, p.mobile or "", p.address or "", p.assurance_level)
              for p in Person.objects.order_by("pk")}
    firms = [Firm(e.pk, e.name, e.uscc, people[e.legal_representative_id])
             for e in Enterprise.objects.order_by("pk") if e.legal_representative_id in people]
    return list(people.values()), firms


class StaffPool:
    """Who would have handled a step: staff with the role where the services look for them."""

    def __init__(self):
        from yiwang.identity.models import StaffAccount

        self.by_org_role: dict[tuple[int, str], list[Staff]] = defaultdict(list)
        self.window: list[tuple[str, Staff]] = []  # (division prefix, clerk) of window organisations
        from yiwang.core.validators import division_prefix

        for s in StaffAccount.objects.select_related("user", "organization__region").order_by("pk"):
            if not s.user.is_active:
                continue
            staff = Staff(s.user_id, s.display_name or s.user.get_username(), s.organization_id)
            for role in s.roles:
                self.by_org_role[(s.organization_id, role)].append(staff)
            if "clerk" in s.roles and s.organization.kind in services.WINDOW_KINDS:
                self.window.append((division_prefix(s.organization.region.code), staff))
        self._window_cache: dict[tuple[int, str], list[Staff]] = {}

    def clerks_for(self, org_id: int, region_code: str) -> list[Staff]:
        key = (org_id, region_code)
        if key not in self._window_cache:
            found = list(self.by_org_role.get((org_id, "clerk"), []))
            found += [s for prefix, s in self.window if region_code.startswith(prefix) and s not in found]
            self._window_cache[key] = found
        return self._window_cache[key]

    def pick(self, rng: random.Random, candidates: list[Staff]) -> Staff | None:
        return rng.choice(candidates) if candidates else None


# ----------------------------------------------------------------------------- items
@dataclasses.dataclass
class ItemInfo:
    item_id: int
    code: str
    version_id: int
    name: str
    organization_id: int
    parent_org_id: int | None
    region_id: int
    region_code: str
    case_type: str
    promised: int
    statutory: int
    min_level: int
    legal_share: float  # share of applications made for an enterprise
    materials: list[tuple[int, str, bool]]
    definition: ProcessDefinition


def _items() -> list[ItemInfo]:
    from yiwang.cases.models import ItemProcess
    from yiwang.catalog.models import Material, ServiceItem

    qs = (ServiceItem.objects.filter(state=ServiceItem.State.ACTIVE, published_version__isnull=False)
          .select_related("published_version", "organization", "region").order_by("pk"))
    bound = {b.item_id: b.definition for b in ItemProcess.objects.select_related("definition")}
    defaults = {"1": services.default_process("instant"), "2": services.default_process("promised")}
    mats: dict[int, list[tuple[int, str, bool]]] = defaultdict(list)
    items = list(qs)
    version_ids = [i.published_version_id for i in items]
    for start in range(0, len(version_ids), 20000):
        chunk = version_ids[start:start + 20000]
        for m in Material.objects.filter(version_id__in=chunk).order_by("version_id", "pk").values_list(
                "version_id", "pk", "name", "required"):
            mats[m[0]].append((m[1], m[2], m[3]))
    out = []
    for item in items:
        v = item.published_version
        objects = set(v.service_objects or [])
        legal = objects - {"1"}
        share = 0.0 if not legal else (1.0 if "1" not in objects else 0.3)
        out.append(ItemInfo(
            item.pk, item.implementation_code, v.pk, v.name, item.organization_id, item.organization.parent_id,
            item.region_id, item.region.code, v.case_type, v.promised_limit_days or 0, v.statutory_limit_days or 0,
            v.min_assurance_level or 1, share, mats[v.pk],
            bound.get(item.pk) or defaults["1" if v.case_type == "1" else "2"]))
    return out


# ----------------------------------------------------------------------------- writing
class _JSONText(str):
    """A JSON document already serialised (written as is)."""


class Row(dict):
    """One row to insert, by attribute name (``case.status``), before it becomes column values."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class _Table:
    """How the rows of one model become column values: the model's defaults for what a row does
    not say, the model's own encrypted fields for personal data, JSON as text."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields]
        self.defaults = {f.attname: f.get_default() for f in self.fields if not f.primary_key}
        for f in self.fields:  # values set by save() (auto_now): the generator always gives them
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self.defaults.pop(f.attname, None)
        self.encrypted = {f.attname: f for f in self.fields if isinstance(f, EncryptedTextField)}
        self.json = {f.attname: f for f in self.fields if isinstance(f, models.JSONField)}

    def new(self, **values: Any) -> Row:
        row = Row(self.defaults)
        row.update(values)
        return row

    def values(self, rows: list[Row], with_pk: bool) -> tuple[list[models.Field], list[list[Any]]]:
        fields = [f for f in self.fields if with_pk or not f.primary_key]
        generic = connection.vendor != "postgresql"
        out = []
        for row in rows:
            values = []
            for f in fields:
                v = row.get(f.attname)
                if f.attname in self.json:
                    v = v if isinstance(v, _JSONText) else json.dumps(v, cls=f.encoder)
                elif generic or f.attname in self.encrypted:
                    v = f.get_db_prep_save(v, connection)
                elif isinstance(v, enum.Enum):
                    v = v.value
                values.append(v)
            out.append(values)
        return fields, out


_TABLES: dict[type, _Table] = {}


def table(model: type[models.Model]) -> _Table:
    if model not in _TABLES:
        _TABLES[model] = _Table(model)
    return _TABLES[model]


def allocate_pks(model: type[models.Model], n: int) -> list[int]:
    """Primary keys for ``n`` new rows, taken from the table's own sequence."""
    db_table = model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT nextval(pg_get_serial_sequence('{db_table}', 'id')) FROM generate_series(1, %s)",
                        [n])
            return [row[0] for row in cur.fetchall()]
        # one writer at a time: the batch's transaction already holds SQLite's write lock
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(db_table)}")
        top = int(cur.fetchone()[0])
        if connection.vendor == "sqlite":
            cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [db_table])
            seq = cur.fetchone()
            top = max(top, int(seq[0]) if seq else 0)
        return list(range(top + 1, top + 1 + n))


def insert(model: type[models.Model], rows: list[Row]) -> None:
    """Insert ``rows`` (with their ``id`` if they carry one): COPY on PostgreSQL, else multi-row INSERTs."""
    if not rows:
        return
    fields, values = table(model).values(rows, with_pk="id" in rows[0])
    quote = connection.ops.quote_name
    cols = ", ".join(quote(f.column) for f in fields)
    name = quote(model._meta.db_table)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
                for v in values:
                    copy.write_row(v)
            return
        marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
        per = max(1, 900 // len(fields))
        for start in range(0, len(values), per):
            chunk = values[start:start + per]
            cur.execute(f"INSERT INTO {name} ({cols}) VALUES " + ", ".join([marks] * len(chunk)),
                        [v for row in chunk for v in row])


def reserve_numbers(wanted: Counter) -> dict[tuple[str, str], int]:
    """Reserve ``n`` daily sequence numbers per (implementation code, day); return the first of each."""
    firsts: dict[tuple[str, str], int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for code, day in chunk:
            params += [code, day, wanted[(code, day)]]
        sql = (f"INSERT INTO cases_casenumbercounter (implementation_code, day, last) VALUES {values} "
               "ON CONFLICT (implementation_code, day) DO UPDATE SET last = cases_casenumbercounter.last + "
               "excluded.last RETURNING implementation_code, day, last")
        with connection.cursor() as cur:
            cur.execute(sql, params)
            for code, day, last in cur.fetchall():
                firsts[(code, day)] = int(last) - wanted[(code, day)] + 1
    return firsts


# ----------------------------------------------------------------------------- one case
@dataclasses.dataclass
class Result:
    created: int = 0
    by_status: Counter = dataclasses.field(default_factory=Counter)
    applicants_registered: int = 0
    templates: int = 0


class Generator:
    def __init__(self, seed: int, now: dt.datetime | None = None):
        self.rng = random.Random(seed)
        self.now = now or timezone.now()
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.today = timezone.localtime(self.now, self.tz).date()
        self.first_day = self.today - dt.timedelta(days=int(MONTHS_BACK * 30.5))
        self.cal = WorkCalendar(self.first_day - dt.timedelta(days=10), self.today + dt.timedelta(days=800))
        self.workdays = [d for d in self.cal.days if self.first_day <= d <= self.today]
        self.templates = Templates(self.rng)
        self.staff = StaffPool()
        self.items = _items()
        if not self.items:
            raise ValueError("没有已发布的事项，请先加载演示数据（yiwang demo）或生成事项 / no published items: "
                             "load the demo (yiwang demo) or run generate_items first")
        self.people, self.firms = _applicants()
        if not self.people:
            raise ValueError("没有注册的自然人用户，请先加载演示数据（yiwang demo） / no registered citizens: "
                             "load the demo (yiwang demo) first")
        self.l2_people = [p for p in self.people if p.level >= 2] or self.people
        weights = [self.rng.lognormvariate(0, 1.2) for _ in self.items]
        self.item_cum = list(_accumulate(weights))
        self.status_names = [s for s, _ in STATUS_MIX]
        self.status_cum = list(_accumulate([w for _, w in STATUS_MIX]))
        self.yellow_days = services.yellow_days()
        self.yellow_until = self.cal.add(self.today, self.yellow_days)

    def _new(self, model: type[models.Model], **values: Any) -> Row:
        return table(model).new(**values)

    # --- time
    def _at(self, day: dt.date, earliest: dt.datetime | None = None) -> dt.datetime:
        """A moment in working hours of ``day`` (after ``earliest``, never after now)."""
        minute = self.rng.choice((self.rng.randint(9 * 60, 12 * 60 - 1), self.rng.randint(13 * 60 + 30, 17 * 60 + 29)))
        when = dt.datetime.combine(day, dt.time(minute // 60, minute % 60, self.rng.randint(0, 59)), self.tz)
        if earliest is not None and when <= earliest:
            when = earliest + dt.timedelta(minutes=self.rng.randint(3, 90))
        if when > self.now:
            floor = earliest or (self.now - dt.timedelta(hours=2))
            span = max(1, int((self.now - floor).total_seconds()) - 1)
            when = floor + dt.timedelta(seconds=self.rng.randint(1, span) if span > 1 else 1)
        return when.astimezone(dt.UTC)

    def _local_day(self, when: dt.datetime) -> dt.date:
        return when.astimezone(self.tz).date()

    # --- one case
    def pick_status(self) -> str:
        return self.status_names[bisect.bisect_right(self.status_cum, self.rng.random() * self.status_cum[-1])]

    def make(self, status: str | None = None) -> dict:
        rng = self.rng
        status = status or self.pick_status()
        item = self.items[min(bisect.bisect_right(self.item_cum, rng.random() * self.item_cum[-1]), len(self.items) - 1)]
        paths = PATHS[status]
        r, path_index = rng.random(), 0
        for i, (w, _, _) in enumerate(paths):
            r -= w
            if r <= 0:
                path_index = i
                break
        tpl = self.templates.get(item.definition, item.case_type, status, path_index)
        final_open = tpl.status in Case.OPEN_STATUSES
        # Applicant
        firm = None
        if item.legal_share and self.firms and rng.random() < item.legal_share:
            firm = rng.choice(self.firms)
            person = firm.representative
        else:
            person = rng.choice(self.l2_people if item.min_level > 1 else self.people)
        # Schedule: submission, then each action after some working days.
        n_actions = len(tpl.actions)
        if final_open:
            age = int(rng.triangular(0, max(item.promised, 3) * 1.3 + n_actions, 0))
            start_i = max(0, len(self.workdays) - 1 - age)
        else:
            start_i = rng.randrange(0, max(1, len(self.workdays) - 15))
        submitted = self._at(self.workdays[start_i])
        times = [submitted]
        for key, _outcome, _b, _a in tpl.actions:
            low, high = GAPS.get(key, (0, 2))
            day = self.cal.add(self._local_day(times[-1]), rng.randint(low, high))
            times.append(self._at(min(day, self.today), times[-1]))
        suspension = None
        if tpl.accepted_at and not tpl.withdrawn and rng.random() < 0.04:
            # a special procedure after acceptance: ended before the next action, or still running
            running = final_open and tpl.status != Case.Status.CORRECTION and tpl.accepted_at == n_actions
            suspension = {"running": running, "days": rng.randint(2, 10), "kind": rng.choice(Suspension.Kind.values)}
        return {"item": item, "tpl": tpl, "person": person, "firm": firm, "times": times, "suspension": suspension}

    def build(self, plan: dict, case_id: int, number: str) -> tuple[Row, list, list, list, list, list]:
        rng, item, tpl, person, firm, times = (self.rng, plan["item"], plan["tpl"], plan["person"], plan["firm"],
                                               plan["times"])
        submitted = times[0]
        if firm is not None:
            form = {"enterprise_name": firm.name, "uscc": firm.uscc, "legal_representative": person.name,
                    "contact_name": person.name, "mobile": person.mobile, "address": person.address[:200],
                    "description": rng.choice(DESCRIPTIONS)}
            who = {"name": firm.name, "id_number": firm.uscc, "id_type": "001"}
        else:
            form = {"applicant_name": person.name, "id_number": person.id_number, "mobile": person.mobile,
                    "address": person.address[:200], "description": rng.choice(DESCRIPTIONS)}
            who = {"name": person.name, "id_number": person.id_number, "id_type": "111"}
        channel = "web" if rng.random() < 0.8 else "window"
        delivery = rng.choice(Case.Delivery.values)
        case = self._new(
            Case, id=case_id, number=number, query_code=f"{rng.randrange(10**6):06d}", item_id=item.item_id,
            item_version_id=item.version_id, item_name=item.name, organization_id=item.organization_id,
            region_id=item.region_id, applicant_user_id=person.user_id,
            enterprise_id=firm.enterprise_id if firm else None, applicant_name=who["name"],
            applicant_id_number=who["id_number"], applicant_id_type=who["id_type"], contact_name=person.name,
            contact_mobile=person.mobile, form_data=json.dumps(form, ensure_ascii=False), channel=channel,
            delivery=delivery, status=tpl.status, process_id=item.definition.pk,
            engine_state=_JSONText(tpl.state_json.replace(PLACEHOLDER, item.code)), submitted_at=submitted,
            limit_days=item.promised, statutory_days=item.statutory, lock_version=len(tpl.actions))
        case.updated_at = times[-1]
        self._case = case
        on_behalf = f"enterprise:{firm.uscc}" if firm else ""
        # Materials, as received at the window (metadata only).
        materials = []
        for mid, name, required in item.materials:
            if required or rng.random() < 0.6:
                materials.append(self._new(
                    CaseMaterial, case_id=case.id, material_id=mid, name=name[:200], source=CaseMaterial.Source.WINDOW,
                    original_name=f"{name}.pdf"[:120], size=rng.randint(40_000, 2_000_000),
                    sha256=f"{rng.getrandbits(256):064x}", content_type="application/pdf", uploaded_at=submitted))
        events = [self._new(CaseEvent, case_id=case.id, at=submitted, actor_id=person.user_id, actor_name=person.name, role="",
                            on_behalf_of=on_behalf, action="submit", label="提交申请", from_status="",
                            to_status=Case.Status.SUBMITTED,
                            detail={"materials": len(materials), "channel": channel})]
        # Who handled what, and the organisations the steps belong to.
        accepting_org = None
        clerk = self.staff.pick(rng, self.staff.clerks_for(item.organization_id, item.region_code))

        def handler_for(step: StepT) -> Staff | None:
            if step.role == "clerk":
                return clerk
            org = self._step_org(item, step, accepting_org)
            return self.staff.pick(rng, self.staff.by_org_role.get((org, step.role), []) if org else [])

        corrections, suspensions = [], []
        step_rows: dict[str, CaseStep] = {}
        sus = plan["suspension"]

        def open_steps(index: int, when: dt.datetime) -> None:
            for s in tpl.steps:
                if s.opened == index:
                    due = (self.cal.add(self._local_day(when), s.limit_days)
                           if s.limit_days and s.role != "applicant" else None)
                    step_rows[s.task_id] = self._new(
                        CaseStep, case_id=case.id, task_id=s.task_id, key=s.key, name=s.name, role=s.role, org_rule=s.org_rule,
                        organization_id=self._step_org(item, s, accepting_org), started_at=when,
                        limit_days=s.limit_days, due_date=due)

        open_steps(0, submitted)
        correction = None
        for index, (key, outcome, before, after) in enumerate(tpl.actions, start=1):
            when = times[index]
            if outcome == "withdraw":
                reason = rng.choice(WITHDRAW_REASONS)
                for s in tpl.steps:
                    row = step_rows.get(s.task_id)
                    if row is not None and s.cancelled:
                        row.state, row.completed_at = CaseStep.State.CANCELLED, when
                case.status_reason, case.completed_at = reason, when
                events.append(self._new(CaseEvent, case_id=case.id, at=when, actor_id=person.user_id, actor_name=person.name,
                                        role="applicant", action="withdraw", label="申请人撤回", from_status=before,
                                        to_status=after, opinion=reason, detail={}))
                continue
            step_t = next(s for s in tpl.steps if s.closed == index and not s.cancelled)
            row = step_rows[step_t.task_id]
            opinion = rng.choice(OPINIONS.get((key, outcome), ("",)))
            if step_t.role == "applicant":
                handler_id, handler_name = person.user_id, person.name
            else:
                staff = handler_for(step_t)
                handler_id = staff.user_id if staff else None
                handler_name = staff.label if staff else rng.choice(STAFF_NAMES)
            row.state, row.completed_at, row.outcome, row.opinion = CaseStep.State.DONE, when, outcome, opinion
            row.handler_id, row.handler_name = handler_id, handler_name
            extra: dict[str, Any] = {}
            if key == "pre_review" and outcome == "accept":
                case.accepted_at, case.accepted_by_id = when, handler_id
                accepting_org = self._window_org(clerk, item)
                case.accepting_org_id = accepting_org
                day = self._local_day(when)
                case.due_date = self.cal.add(day, case.limit_days) if case.limit_days else day
            elif outcome == "reject":
                case.status_reason = opinion
            elif outcome == "correct":
                problems = [{"material": m.material_id, "text": rng.choice(CORRECTION_TEXTS)}
                            for m in rng.sample(materials, k=min(len(materials), rng.randint(1, 2)))] or [
                    {"material": None, "text": rng.choice(CORRECTION_TEXTS)}]
                correction = self._new(Correction, case_id=case.id, problems=problems, requested_at=when, requested_by_id=handler_id)
                corrections.append(correction)
                extra["problems"] = problems
                if accepting_org is None:
                    accepting_org = self._window_org(clerk, item)
                    case.accepting_org_id = accepting_org
            elif outcome == "resubmit":
                redo = [p["material"] for p in (correction.problems if correction else []) if p["material"]]
                for m in list(materials):
                    if m.material_id in redo and not m.superseded:
                        m.superseded = True
                        materials.append(self._new(
                            CaseMaterial, case_id=case.id, material_id=m.material_id, name=m.name, source=CaseMaterial.Source.WINDOW,
                            original_name=m.original_name, size=rng.randint(40_000, 2_000_000),
                            sha256=f"{rng.getrandbits(256):064x}", content_type="application/pdf", uploaded_at=when))
                if correction is not None:
                    correction.resubmitted_at = when
                events.append(self._new(CaseEvent, case_id=case.id, at=when, actor_id=person.user_id, actor_name=person.name,
                                        role="applicant", action="resubmit", label="补正后重新提交",
                                        from_status=before, to_status=after, opinion=opinion,
                                        detail={"materials": len(redo)}))
                open_steps(index, when)
                continue
            elif outcome in ("approve", "refuse"):
                case.decision = tpl.decision
                case.decision_reason, case.decided_at = opinion, when
            if after in (Case.Status.COMPLETED, Case.Status.NOT_ACCEPTED):
                case.completed_at = when
            open_steps(index, when)
            label = f"{step_t.name}：{services.OUTCOME_LABELS.get(outcome, outcome)}"
            events.append(self._new(CaseEvent, case_id=case.id, at=when, actor_id=handler_id, actor_name=handler_name,
                                    role=step_t.role, action=f"step.{key}", label=label, from_status=before,
                                    to_status=after, opinion=opinion, detail={"step": key, "outcome": outcome, **extra}))
            if sus is not None and index == tpl.accepted_at:
                self._suspend(case, sus, when, times, index, step_rows, events, suspensions, handler_for, tpl)
        self._warnings(case, step_rows, events, tpl, times)
        for row in step_rows.values():  # the case's facts the to-do list reads on open steps
            if row.state == CaseStep.State.OPEN:
                row.case_status, row.case_warning = case.status, case.warning
                row.region_code, row.submitted_at = item.region_code, case.submitted_at
        return case, list(step_rows.values()), events, materials, corrections, suspensions

    def _window_org(self, clerk: Staff | None, item: ItemInfo) -> int:
        return clerk.organization_id if clerk else item.organization_id

    def _step_org(self, item: ItemInfo, step: StepT, accepting_org: int | None) -> int | None:
        if step.org_rule == "owner_parent" and item.parent_org_id:
            return item.parent_org_id
        if step.org_rule == "window":
            return accepting_org
        return item.organization_id

    def _suspend(self, case, sus, accepted, times, index, step_rows, events, suspensions, handler_for, tpl) -> None:
        """特别程序 after acceptance: running now, or ended before the next action (due dates move)."""
        rng = self.rng
        open_rows = [r for r in step_rows.values() if r.state == CaseStep.State.OPEN]
        staff = handler_for(next(s for s in tpl.steps if s.task_id == open_rows[0].task_id)) if open_rows else None
        start = self._at(self.cal.add(self._local_day(accepted), 1 if sus["running"] else 0), accepted)
        if start > self.now or (index < len(times) - 1 and start >= times[index + 1]):
            return
        status = tpl.actions[index - 1][3]
        kind = Suspension.Kind(sus["kind"])
        reason = f"依法组织{kind.label}"
        s = self._new(Suspension, case_id=case.id, kind=kind.value, reason=reason, expected_days=sus["days"], started_at=start,
                       started_by_id=staff.user_id if staff else None)
        actor = {"actor_id": staff.user_id if staff else None, "actor_name": staff.label if staff else "审查人员"}
        events.append(self._new(CaseEvent, case_id=case.id, at=start, action="suspend", label=f"特别程序开始：{kind.label}",
                                from_status=status, to_status=status, opinion=reason,
                                detail={"kind": kind.value, "expected_days": sus["days"]}, **actor))
        case.lock_version += 1
        suspensions.append(s)
        if sus["running"]:
            case.paused_since = self._local_day(start)
            return
        end_day = self.cal.add(self._local_day(start), sus["days"])
        end = self._at(min(end_day, self.today), start)
        if index < len(times) - 1 and end >= times[index + 1]:
            end = start + (times[index + 1] - start) / 2
        days = max(0, self.cal.between(self._local_day(start), self._local_day(end)))
        result = rng.choice(SUSPENSION_RESULTS)
        s.ended_at, s.working_days, s.result = end, days, result
        if days and case.due_date:
            case.due_date = self.cal.add(case.due_date, days)
        for r in open_rows:
            if days and r.due_date:
                r.due_date = self.cal.add(r.due_date, days)
        case.paused_days += days
        case.lock_version += 1
        events.append(self._new(CaseEvent, case_id=case.id, at=end, action="resume",
                                label=f"特别程序结束：{kind.label}（{days} 个工作日不计时）",
                                from_status=status, to_status=status, opinion=result, detail={"days": days},
                                **actor))

    def _warnings(self, case: Case, step_rows: dict[str, CaseStep], events: list[CaseEvent], tpl: Template,
                  times: list[dt.datetime]) -> None:
        """The warnings the daily sweep (``services.sweep_time_limits``) would have raised by now."""
        if case.paused_since is None:
            for row in step_rows.values():
                if row.state == CaseStep.State.OPEN and row.due_date and row.due_date < self.today:
                    row.warning = "red"
        running = (case.status in Case.OPEN_STATUSES and case.status != Case.Status.CORRECTION
                   and case.paused_since is None and case.accepted_at is not None and case.due_date is not None)
        if not running:
            return
        due, accepted = case.due_date, case.accepted_at

        def status_at(when: dt.datetime) -> str:
            status = Case.Status.SUBMITTED
            for (_k, _o, _b, after), t in zip(tpl.actions, times[1:], strict=True):
                if t <= when:
                    status = after
            return status

        def sweep_after(day: dt.date) -> dt.datetime | None:
            """The sweep's run that raised it: the night after ``day`` began, or one run now."""
            at = self._sweep_time(day)
            if at <= accepted:
                at = self._sweep_time(day + dt.timedelta(days=1))
            at = min(at, self.now)
            return at if at > accepted else None

        yellow_day = max(self._local_day(accepted), _first_day_with(self.cal, due, self.yellow_days))
        if yellow_day <= min(self.today, due):
            at = sweep_after(yellow_day)
            if at is not None:
                events.append(self._warning_event(status_at(at), "yellow", at,
                                                  f"黄牌：距办结期限不足 {self.yellow_days} 个工作日"))
                case.warning = Case.Warning.YELLOW
        if due < self.today:
            at = sweep_after(due + dt.timedelta(days=1))
            if at is not None:
                events.append(self._warning_event(status_at(at), "red", at, "红牌：已超过办结期限"))
                case.warning = Case.Warning.RED

    def _sweep_time(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(1, 0), self.tz).astimezone(dt.UTC)

    def _warning_event(self, status: str, level: str, at: dt.datetime, label: str) -> CaseEvent:
        return self._new(CaseEvent, case_id=self._case.id, at=at, actor_id=None, actor_name="系统", action=f"warning.{level}",
                         label=label, from_status=status, to_status=status, detail={})


def _first_day_with(cal: WorkCalendar, due: dt.date, yellow: int) -> dt.date:
    """The first day on which ``due`` falls within the yellow window (due ≤ add(day, yellow))."""
    day = due - dt.timedelta(days=yellow * 2 + 10)
    while cal.add(day, yellow) < due:
        day += dt.timedelta(days=1)
    return day


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


# ----------------------------------------------------------------------------- entry point
def generate(n: int, *, seed: int = 1, progress: Callable[[int], None] | None = None,
             now: dt.datetime | None = None, statuses: list[str] | None = None) -> Result:
    """Write ``n`` synthetic cases; ``statuses`` (one per case) overrides the mix (for tests)."""
    if n < 0:
        raise ValueError("数量不能为负 / count must not be negative")
    result = Result()
    result.applicants_registered = ensure_applicants()
    gen = Generator(seed, now=now)
    made = 0
    while made < n:
        size = min(BATCH, n - made)
        plans = [gen.make(statuses[made + i] if statuses else None) for i in range(size)]
        with transaction.atomic():
            wanted = Counter((p["item"].code, p["times"][0].astimezone(gen.tz).strftime("%Y%m%d")) for p in plans)
            firsts = reserve_numbers(wanted)
            cases, steps, events, materials, corrections, suspensions = [], [], [], [], [], []
            for plan, case_id in zip(plans, allocate_pks(Case, len(plans)), strict=True):
                key = (plan["item"].code, plan["times"][0].astimezone(gen.tz).strftime("%Y%m%d"))
                seq = firsts[key]
                firsts[key] = seq + 1
                case, st, ev, ma, co, su = gen.build(plan, case_id, f"{key[0]}{key[1]}{seq:04d}")
                cases.append(case)
                steps += st
                events += sorted(ev, key=lambda e: e.at)
                materials += ma
                corrections += co
                suspensions += su
                result.by_status[case.status] += 1
            insert(Case, cases)
            insert(CaseStep, steps)
            insert(CaseEvent, events)
            insert(CaseMaterial, materials)
            insert(Correction, corrections)
            insert(Suspension, suspensions)
        made += size
        result.created = made
        if progress:
            progress(made)
    result.templates = len(gen.templates.cache)
    audit.record(AUDIT_ACTION, "Case", "synthetic", detail={
        "count": n, "seed": seed, "by_status": dict(result.by_status),
        "applicants_registered": result.applicants_registered}, actor="system:synthetic")
    return result
