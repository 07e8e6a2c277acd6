"""Historic certificate import benchmark: N certificates from one CSV, validated, then issued and signed.

    .venv/bin/python bench/bench_certificate_import.py [--rows 10000]

On PostgreSQL only (database ``yiwang_bench_certificate_import`` on 127.0.0.1, dropped and rebuilt):
migrations, one organisation with a catalog administrator and a food business licence type, and a
CSV of N rows (distinct valid USCCs and numbers). Then, in one process, exactly what the import
job does: ``imports.prepare`` (file checks, parse, per-row validation incl. the type's JSON schema)
and ``imports.issue_all`` (every row through ``services.issue`` in ONE transaction). The time
inside the transaction is split by timing the heavy steps in place: PDF rendering, PAdES sealing,
the QR payload signature, and the rest (holder look-up, counter, inserts, event, audit chain).

Results: stdout (Markdown) and var/bench/results-certificate-import.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalog import PG_SERVER, PY, VAR, log, machine, run

PG_DB = "yiwang_bench_certificate_import"
URL = f"{PG_SERVER}/{PG_DB}"


def child_env() -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=URL, DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_LOG_LEVEL="ERROR",
               PYTHONUNBUFFERED="1", YIWANG_MEDIA_ROOT=str(VAR / "media-certificate-import"),
               YIWANG_JOBS_BACKEND="immediate")
    env.pop("YIWANG_DEBUG", None)
    return env


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")


def _setup():
    from django.contrib.auth import get_user_model

    from yiwang.certificates import services
    from yiwang.core.models import Organization, Region
    from yiwang.core.validators import make_uscc
    from yiwang.identity.models import Role, StaffAccount

    province = Region.objects.create(code="390000000000", name="江川省", level=1)
    city = Region.objects.create(code="390100000000", name="临江市", level=2, parent=province)
    org = Organization.objects.create(uscc=make_uscc("1", "1", "390100", "B0117000"), name="临江市市场监督管理局",
                                      short_name="市市场监管", department_code="0117", region=city)
    user = get_user_model().objects.create_user(username="bench_catalog", password="x")
    StaffAccount.objects.create(user=user, organization=org, roles=[Role.CATALOG_ADMIN], display_name="导入员")
    fields = [{"name": "operator", "label": "经营者名称", "key": True},
              {"name": "legal_rep", "label": "法定代表人（负责人）", "key": True, "mask": "name"},
              {"name": "address", "label": "经营场所"},
              {"name": "scope", "label": "经营项目", "key": True}]
    ctype = services.save_type(user, name="食品经营许可证", type_code=f"{org.uscc}001", defining_organization=org,
                               issuing_organization=org, holder_kind="enterprise", fields=fields, validity_years=5,
                               template="permit")
    return user, ctype


def _csv(rows: int) -> bytes:
    from yiwang.core.validators import make_uscc

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["持证主体名称", "持证主体代码", "证照编号", "颁证日期", "有效期起", "有效期至", "经营者名称",
                "法定代表人（负责人）", "经营场所", "经营项目"])
    for n in range(rows):
        name = f"临江市存量{n}号餐饮有限公司"
        w.writerow([name, make_uscc("9", "1", "390102", f"MA{n:06d}"), f"JY13901{n:08d}", "2023-03-01",
                    "2023-03-01", "2028-02-29", name, "赵大勇", f"临江市滨江区江滨路{n}号", "热食类食品制售"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def child_import(rows: int) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from yiwang.certificates import imports, payload, services
    from yiwang.certificates.models import Certificate

    user, ctype = _setup()
    data = _csv(rows)
    spent = {"render": 0.0, "seal": 0.0, "qr_signature": 0.0}

    def timed(key, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    services.render_pdf = timed("render", services.render_pdf)
    services.sign_pdf = timed("seal", services.sign_pdf)
    payload.make = timed("qr_signature", payload.make)

    t0 = time.perf_counter()
    run_ = imports.prepare(user, ctype, SimpleUploadedFile("bench.csv", data))
    validate_s = time.perf_counter() - t0
    assert run_.state == "validated", run_.errors[:5]
    progress: list[tuple[int, float]] = []
    t1 = time.perf_counter()
    imports.issue_all(run_, on_progress=lambda done, total: progress.append((done, time.perf_counter() - t1)))
    issue_s = time.perf_counter() - t1
    run_.refresh_from_db()
    assert run_.state == "done", run_.errors
    count = Certificate.objects.count()
    sample = Certificate.objects.order_by("-pk").first()
    pdf_bytes = len(sample.pdf.open("rb").read())
    other = issue_s - sum(spent.values())
    marks = {str(d): round(s, 1) for d, s in progress if d % 1000 == 0}
    return {"rows": rows, "file_bytes": len(data), "validate_s": round(validate_s, 2),
            "validate_rows_per_s": round(rows / validate_s, 1), "issue_s": round(issue_s, 1),
            "certificates_per_s": round(rows / issue_s, 2), "issued": count,
            "split_s": {k: round(v, 1) for k, v in spent.items()} | {"other": round(other, 1)},
            "progress_s": marks, "pdf_bytes_last": pdf_bytes,
            "verify_last": services.verify(identifier=sample.identifier).outcome}


def report(r: dict) -> str:
    m, i = r["machine"], r["import"]
    total = i["validate_s"] + i["issue_s"]
    split = i["split_s"]
    lines = [
        "| measure | value |", "| --- | --- |",
        f"| rows in the CSV | {i['rows']:,} ({i['file_bytes'] / 1e6:.1f} MB) |",
        f"| dry-run validation (`imports.prepare`: checks, parse, per-row validation) | {i['validate_s']} s "
        f"({i['validate_rows_per_s']:,} rows/s) |",
        f"| issue and sign all rows in one transaction (`imports.issue_all`) | **{i['issue_s']} s, "
        f"{i['certificates_per_s']} certificates/s** |",
        f"| total (validation + import) | {total:.0f} s ({total / 60:.1f} min) |",
        f"| of the import: PDF rendering | {split['render']} s ({split['render'] / i['issue_s']:.0%}) |",
        f"| of the import: PAdES sealing | {split['seal']} s ({split['seal'] / i['issue_s']:.0%}) |",
        f"| of the import: QR payload signature | {split['qr_signature']} s "
        f"({split['qr_signature'] / i['issue_s']:.0%}) |",
        f"| of the import: the rest (holder look-up, counter, inserts, event, audit) | {split['other']} s "
        f"({split['other'] / i['issue_s']:.0%}) |",
        f"| certificates afterwards / last one verifies | {i['issued']:,} / {i['verify_last']} |",
    ]
    return f"machine: {m.get('cpu')}, {m.get('nproc')} cores, PostgreSQL {m.get('postgresql')}\n\n" + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        import django

        django.setup()
        print(json.dumps(child_import(int(a.rest[0])), ensure_ascii=False, default=str))
        return
    VAR.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine()}
    log(f"machine: {results['machine']}")
    fresh_database()
    run([PY, "-m", "yiwang", "migrate", "-v0"], child_env(), timeout=900)
    log(f"import of {a.rows} rows …")
    out = run([PY, __file__, "--child", "import", str(a.rows)], child_env(), timeout=6 * 3600)
    results["import"] = json.loads(out.strip().splitlines()[-1])
    results["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    (VAR / "results-certificate-import.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(report(results))


if __name__ == "__main__":
    main()
