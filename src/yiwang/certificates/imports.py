"""存量证照导入: certificates issued before the platform, loaded in bulk from a CSV or XLSX file.

1. :func:`prepare` checks the file (name, size, content), reads every row and validates it —
   holder name and code (ID number or USCC, check digits), number (unique within the file and the
   type), dates, and the type's data fields through the type's schema. The result is an
   :class:`ImportRun`: ``invalid`` with a report (row, column, message) or ``validated`` with the
   cleaned rows kept encrypted on the run. Nothing is issued yet.
2. :func:`confirm` queues :func:`run_import` (a background job).
3. :func:`run_import` issues and signs every row through ``services.issue`` **in one database
   transaction**: either every certificate exists afterwards or none does ("nothing partially
   imported"). Progress is kept in the ``shared`` cache (Redis when ``REDIS_URL`` is set, else files
   under var/ that every process of the machine reads), because the run's own row only changes
   when that transaction commits.

Only staff of the type's issuing organisation with the catalog-administrator or
organisation-administrator role may import (platform administrators too).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import zipfile
from typing import Any

from django.core.cache import caches
from django.db import transaction
from django.utils import timezone

from yiwang.certificates import services
from yiwang.certificates.models import Certificate, CertificateType, FieldType, HolderKind, ImportRun
from yiwang.core import audit, jobs, validators
from yiwang.core.errors import NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.uploads import check_upload, safe_name
from yiwang.identity import scoping
from yiwang.identity.models import Role

log = logging.getLogger(__name__)
State = ImportRun.State
MAX_ROWS = 50_000
IMPORT_ROLES = (Role.CATALOG_ADMIN, Role.ORG_ADMIN)
# Fixed columns: name → accepted headers (the Chinese label first: that is what the template shows).
FIXED = {
    "holder_name": ("持证主体名称", "持证主体", "holder_name"),
    "holder_code": ("持证主体代码", "证件号码", "holder_code"),
    "number": ("证照编号", "number"),
    "issued_on": ("颁证日期", "issued_on"),
    "valid_from": ("有效期起", "valid_from"),
    "valid_to": ("有效期至", "valid_to"),
}
FIXED_LABELS = {k: v[0] for k, v in FIXED.items()}
FILE = "file"
# What a .csv must not start with: the signatures of the binary formats people upload by mistake.
BINARY = (b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"\xd0\xcf\x11\xe0", b"MZ", b"\x7fELF")


def can_import(user, ctype: CertificateType) -> bool:
    return any(scoping.can_act_for(user, ctype.issuing_organization_id, r) for r in IMPORT_ROLES)


def types_importable(user):
    """The active types ``user`` may import: the organisations they reach are worked out once, not per type."""
    qs = CertificateType.objects.filter(is_active=True).select_related("issuing_organization").order_by("type_code")
    reach = [scoping.visible_organization_ids(user, r) for r in IMPORT_ROLES]
    if any(ids is None for ids in reach):  # platform administrators
        return list(qs)
    return list(qs.filter(issuing_organization_id__in=set().union(*reach)))


def columns(ctype: CertificateType) -> list[tuple[str, str]]:
    """(name, header label) of every column, in the template's order."""
    return [(k, FIXED_LABELS[k]) for k in FIXED] + [(f["name"], f.get("label", f["name"])) for f in ctype.fields]


def template_csv(ctype: CertificateType) -> str:
    """A header line (UTF-8 with BOM, so spreadsheet programs read the Chinese) to fill in."""
    out = io.StringIO()
    csv.writer(out).writerow([label for _, label in columns(ctype)])
    return "\ufeff" + out.getvalue()


# ============================================================================ reading the file
def _bad_file(message: str) -> ValidationFailed:
    return ValidationFailed("文件无法读取 / the file cannot be read", fields={FILE: [message]})


def _read_csv(data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096]:
        raise _bad_file("CSV 文件应为文本，内容不像 CSV / the content is not CSV text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad_file("CSV 文件应使用 UTF-8 或 GB18030 编码 / the CSV must be UTF-8 or GB18030 text")
    try:
        return [row for row in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise _bad_file(f"CSV 格式错误：{exc} / malformed CSV") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise _bad_file(f"XLSX 文件已损坏或不是 Excel 工作簿 / not a readable XLSX workbook ({type(exc).__name__})") \
            from None
    except Exception as exc:  # openpyxl raises its own InvalidFileException and parser errors
        raise _bad_file(f"XLSX 文件无法解析 / the workbook cannot be parsed ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0]
        rows = [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    return [r for r in rows if any(r)]


def read_rows(name: str, data: bytes) -> list[list[str]]:
    """Every non-empty row of the file, the header first."""
    ext = os.path.splitext(safe_name(name))[1]
    if ext == ".xlsx":
        return _read_xlsx(data)
    return _read_csv(data)


def check_file(upload) -> tuple[str, bytes]:
    """Name, size and content like every upload (``check_upload``); CSV (text) or XLSX (a ZIP workbook) only."""
    if os.path.splitext(safe_name(getattr(upload, "name", "") or ""))[1] not in (".csv", ".xlsx"):
        raise ValidationFailed("文件类型不支持", fields={FILE: ["只接受 .csv 或 .xlsx 文件 / only .csv or .xlsx files"]})
    upload = check_upload(upload, FILE, allowed=(".csv", ".xlsx"))
    data = upload.read()
    if upload.name.endswith(".csv") and data.startswith(BINARY):
        raise _bad_file("文件内容与扩展名不符，请上传真实的 CSV 文件 / the content is not CSV text")
    return upload.name, data


# ============================================================================ validation
def _header_map(ctype: CertificateType, header: list[str]) -> tuple[dict[str, int], list[dict]]:
    accepted = {h: k for k, hs in FIXED.items() for h in hs}
    for f in ctype.fields:
        accepted[f["name"]] = f["name"]
        accepted[f.get("label", f["name"])] = f["name"]
    where: dict[str, int] = {}
    problems = []
    for i, title in enumerate(header):
        key = accepted.get(title.strip().lstrip("\ufeff"))
        if key is None:
            if title.strip():
                problems.append(_problem(1, title, "无法识别的列名 / unknown column"))
            continue
        if key in where:
            problems.append(_problem(1, title, "列重复 / duplicate column"))
        where[key] = i
    required = ["holder_name", "holder_code", "number", "issued_on"] + [
        f["name"] for f in ctype.fields if f.get("required", True)]
    labels = dict(columns(ctype))
    for key in required:
        if key not in where:
            problems.append(_problem(1, labels[key], "缺少该列 / the column is missing"))
    return where, problems


def _problem(row: int, column: str, message: str) -> dict:
    return {"row": row, "column": column, "message": message}


def _date(text: str) -> dt.date:
    text = text.strip().replace("/", "-").replace(".", "-")
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _field_value(f: dict, text: str) -> Any:
    kind = f.get("type", FieldType.TEXT)
    if kind == FieldType.DATE:
        return _date(text).isoformat()
    if kind == FieldType.INTEGER:
        return int(text)
    if kind == FieldType.MONEY:
        return float(text)
    return text


def validate_rows(ctype: CertificateType, rows: list[list[str]]) -> tuple[list[dict], list[dict]]:
    """Cleaned rows and problems (row number as in the file, 1 = header; column label; message)."""
    if not rows:
        return [], [_problem(1, "", "文件没有内容 / the file is empty")]
    where, problems = _header_map(ctype, rows[0])
    if problems:
        return [], problems
    if len(rows) < 2:
        return [], [_problem(2, "", "文件只有表头，没有数据行 / no data rows")]
    if len(rows) - 1 > MAX_ROWS:
        return [], [_problem(MAX_ROWS + 2, "", f"一次最多导入 {MAX_ROWS} 行 / at most {MAX_ROWS} rows at a time")]
    labels = dict(columns(ctype))
    person = ctype.holder_kind == HolderKind.PERSON
    existing = set(Certificate.objects.filter(certificate_type=ctype).values_list("number", flat=True))
    seen: dict[str, int] = {}
    cleaned = []
    today = timezone.localdate()
    for n, raw in enumerate(rows[1:], start=2):
        def get(key: str) -> str:
            i = where.get(key)
            return raw[i].strip() if i is not None and i < len(raw) and raw[i] is not None else ""

        bad = []
        name, code, number = get("holder_name"), "".join(get("holder_code").split()).upper(), get("number")
        if not name:
            bad.append(("holder_name", "请填写持证主体名称 / holder name is required"))
        elif len(name) > 100:
            bad.append(("holder_name", "不超过100字 / at most 100 characters"))
        try:
            (validators.check_citizen_id if person else validators.check_uscc)(code)
        except validators.InvalidCode as exc:
            bad.append(("holder_code", str(exc)))
        if not number:
            bad.append(("number", "请填写证照编号 / number is required"))
        elif len(number) > 60:
            bad.append(("number", "不超过60字符 / at most 60 characters"))
        elif number in existing:
            bad.append(("number", "该编号的证照已存在 / a certificate with this number already exists"))
        elif number in seen:
            bad.append(("number", f"与第 {seen[number]} 行编号重复 / same number as row {seen[number]}"))
        else:
            seen[number] = n
        dates: dict[str, dt.date | None] = {}
        for key in ("issued_on", "valid_from", "valid_to"):
            text = get(key)
            if not text:
                dates[key] = None
                if key == "issued_on":
                    bad.append((key, "请填写颁证日期 / issue date is required"))
                continue
            try:
                dates[key] = _date(text)
            except ValueError:
                bad.append((key, f"日期格式应为 YYYY-MM-DD：{text[:20]} / date must be YYYY-MM-DD"))
        if dates.get("issued_on") and dates["issued_on"] > today:
            bad.append(("issued_on", "颁证日期不能晚于今天 / the issue date cannot be in the future"))
        start = dates.get("valid_from") or dates.get("issued_on")
        if start and dates.get("valid_to") and dates["valid_to"] < start:
            bad.append(("valid_to", "有效期至不能早于有效期起 / valid-to is before valid-from"))
        data: dict[str, Any] = {}
        for f in ctype.fields:
            text = get(f["name"])
            if not text:
                continue
            try:
                data[f["name"]] = _field_value(f, text)
            except ValueError:
                bad.append((f["name"], f"格式不正确：{text[:20]} / invalid value"))
        if not any(k in dict(bad) for k in (f["name"] for f in ctype.fields)):
            try:
                data = services.validate_data(ctype, data)
            except ValidationFailed as exc:
                for key, messages in exc.fields.items():
                    bad += [(key, m) for m in messages]
        if bad:
            problems += [_problem(n, labels.get(k, k), m) for k, m in bad]
            continue
        cleaned.append({"row": n, "holder_name": name, "holder_code": code, "number": number, "data": data,
                        **{k: v.isoformat() if v else "" for k, v in dates.items()}})
    return cleaned, problems


# ============================================================================ use cases
def _require(user, ctype: CertificateType) -> None:
    if not can_import(user, ctype):
        raise NotPermitted("只有颁发机构的事项管理员或机构管理员可以导入 / only the issuing organisation's catalog "
                           "or organisation administrators may import")


@transaction.atomic
def prepare(user, ctype: CertificateType, upload) -> ImportRun:
    """试导入: check and validate the whole file; an ImportRun that is ``invalid`` or ``validated``."""
    _require(user, ctype)
    if not ctype.is_active:
        raise StateError("该证照类型已停用 / this certificate type is not in use")
    name, data = check_file(upload)
    cleaned, problems = validate_rows(ctype, read_rows(name, data))
    run = ImportRun(certificate_type=ctype, file_name=name[:120], file_sha256=hashlib.sha256(data).hexdigest(),
                    total=len(cleaned) if not problems else 0, created_by=user,
                    state=State.INVALID if problems else State.VALIDATED, errors=problems[:1000])
    run.rows = [] if problems else cleaned
    run.save()
    audit.record("certificates.import.prepare", "ImportRun", run.pk,
                 detail={"type": ctype.type_code, "file": run.file_name, "sha256": run.file_sha256,
                         "rows": len(cleaned), "problems": len(problems)}, actor=audit.actor_name(user))
    return run


def runs_for(user, types: list[CertificateType] | None = None):
    """Imports of the types ``user`` may import (``types``: those already read by the caller)."""
    ids = [t.pk for t in (types if types is not None else types_importable(user))]
    return ImportRun.objects.filter(certificate_type_id__in=ids).select_related("certificate_type", "created_by")


def get_run(user, pk: int) -> ImportRun:
    run = runs_for(user).filter(pk=pk).first()
    if run is None:
        raise NotFound("导入记录不存在 / import not found")
    return run


@transaction.atomic
def confirm(user, run: ImportRun) -> ImportRun:
    """确认导入: queue the job that issues every row."""
    run = ImportRun.objects.select_for_update().select_related("certificate_type").get(pk=run.pk)
    _require(user, run.certificate_type)
    if run.state != State.VALIDATED:
        raise StateError(f"该导入当前为“{run.get_state_display()}”，不能再确认 / this import cannot be started now")
    run.state = State.QUEUED
    run.save(update_fields=["state"])
    audit.record("certificates.import.confirm", "ImportRun", run.pk, detail={"rows": run.total},
                 actor=audit.actor_name(user))
    jobs.enqueue(run_import, run_id=run.pk)
    return run


def _progress_key(run_id: int) -> str:
    from django.db import connection

    return f"certificates:import:{connection.settings_dict['NAME']}:{run_id}:done"


def _shared():
    return caches["shared"]


def progress(run: ImportRun) -> dict[str, Any]:
    """What the page and its JSON endpoint show."""
    done = run.done
    if run.state == State.RUNNING:
        done = int(_shared().get(_progress_key(run.pk)) or 0)
    return {"id": run.pk, "state": run.state, "state_label": run.get_state_display(), "total": run.total,
            "done": done, "percent": int(done * 100 / run.total) if run.total else 0,
            "finished": run.finished, "errors": run.errors[:50]}


@jobs.job(max_attempts=1)
def run_import(run_id: int) -> None:
    """Issue every validated row in one transaction (all or nothing)."""
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().select_related("certificate_type", "created_by").get(pk=run_id)
        if run.state != State.QUEUED:
            return  # already run (delivery is at least once)
        run.state = State.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["state", "started_at"])
    issue_all(run)


def issue_all(run: ImportRun, *, on_progress=None) -> ImportRun:
    """The transaction itself (the job and ``yiwang cert import`` share it)."""
    ctype, user = run.certificate_type, run.created_by
    rows = run.rows
    key = _progress_key(run.pk)
    written: list[str] = []  # signed PDFs stored so far: removed again if the transaction rolls back
    try:
        with transaction.atomic():
            for i, row in enumerate(rows, start=1):
                try:
                    cert = services.issue(
                        ctype, data=row["data"], holder_name=row["holder_name"], holder_code=row["holder_code"],
                        user=user, issued_on=dt.date.fromisoformat(row["issued_on"]),
                        valid_from=dt.date.fromisoformat(row["valid_from"]) if row["valid_from"] else None,
                        valid_to=dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                        number=row["number"], check_permission=False)
                except ValidationFailed as exc:
                    detail = "；".join(m for ms in exc.fields.values() for m in ms) or exc.message
                    raise ImportFailed(row["row"], detail) from exc
                written.append(cert.pdf.name)
                if i % 50 == 0 or i == len(rows):
                    _shared().set(key, i, 3600)
                    if on_progress is not None:
                        on_progress(i, len(rows))
            ImportRun.objects.filter(pk=run.pk).update(
                state=State.DONE, done=len(rows), finished_at=timezone.now(), rows_json="[]")
            audit.record("certificates.import.done", "ImportRun", run.pk,
                         detail={"type": ctype.type_code, "issued": len(rows)}, actor=audit.actor_name(user))
    except Exception as exc:  # noqa: BLE001 - any failure rolls everything back and is reported on the run
        row = getattr(exc, "row", "")
        message = getattr(exc, "detail", "") or f"{type(exc).__name__}: {exc}"
        log.exception("certificate import %s failed", run.pk)
        _remove_files(written)
        with transaction.atomic():
            ImportRun.objects.filter(pk=run.pk).update(
                state=State.FAILED, done=0, finished_at=timezone.now(),
                errors=[_problem(row, "", f"导入失败，未导入任何证照：{message[:300]} / import failed; nothing was "
                                          "imported")])
            audit.record("certificates.import.failed", "ImportRun", run.pk, detail={"row": row,
                                                                                    "error": message[:300]},
                         actor=audit.actor_name(user))
    finally:
        _shared().delete(key)
    run.refresh_from_db()
    if run.state == State.DONE:
        services.expire_due()  # historic certificates already past their end date become 05 失效
    return run


def _remove_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # best effort: an orphan file is harmless, the records are gone
            log.warning("could not remove %s after a failed import", name)


class ImportFailed(Exception):
    def __init__(self, row: int, detail: str):
        super().__init__(f"row {row}: {detail}")
        self.row = row
        self.detail = detail


# ============================================================================ yiwang cert import
def command_import(command, opts) -> None:
    """``yiwang cert import FILE --type CODE --user NAME [--dry-run]``: the same checks and transaction
    as the pages, run in this process; exits 1 when the file has problems or the import fails."""
    from pathlib import Path

    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management.base import CommandError

    ctype = CertificateType.objects.filter(type_code=opts["type"].strip().upper()).first()
    if ctype is None:
        raise CommandError(f"没有该证照类型代码 / unknown certificate type: {opts['type']}")
    user = get_user_model().objects.filter(username=opts["user"]).first()
    if user is None:
        raise CommandError(f"没有该用户 / unknown user: {opts['user']}")
    path = Path(opts["file"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"无法读取文件 / cannot read the file: {exc}") from None
    try:
        run = prepare(user, ctype, SimpleUploadedFile(path.name, data))
    except (ValidationFailed, NotPermitted, StateError) as exc:
        details = "；".join(m for ms in exc.fields.values() for m in ms)
        raise CommandError(f"{exc.message}{'：' + details if details else ''}") from None
    if run.state == State.INVALID:
        for p in run.errors:
            command.stderr.write(f"第 {p['row']} 行 [{p['column']}] {p['message']}")
        raise CommandError(f"文件中有 {len(run.errors)} 处问题，未导入任何证照 / {len(run.errors)} problems; nothing "
                           "imported", returncode=1)
    command.stdout.write(f"校验通过 / valid: {run.total} 行 (import {run.pk})")
    if opts.get("dry_run"):
        return
    with transaction.atomic():
        ImportRun.objects.filter(pk=run.pk).update(state=State.RUNNING, started_at=timezone.now())
        audit.record("certificates.import.confirm", "ImportRun", run.pk, detail={"rows": run.total, "via": "cli"},
                     actor=audit.actor_name(user))
    run.refresh_from_db()
    started = timezone.now()

    def report(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            command.stdout.write(f"  {done}/{total}")

    run = issue_all(run, on_progress=report)
    seconds = (timezone.now() - started).total_seconds()
    if run.state != State.DONE:
        raise CommandError(f"导入失败，未导入任何证照 / import failed, nothing imported: {run.errors}", returncode=1)
    command.stdout.write(f"已导入 {run.done} 张证照，用时 {seconds:.1f} 秒（{run.done / max(seconds, 1e-6):.1f} 张/秒）"
                         f" / imported {run.done} in {seconds:.1f}s")
