"""Case benchmark: submissions under load, the workbench to-do list and the time-limit sweep at 1,000,000 cases.

    .venv/bin/python bench/bench_cases.py [--cases 1000000] [--phase all|build|workbench|sweep|submit]

On PostgreSQL only (database ``yiwang_bench_cases`` on 127.0.0.1, dropped and rebuilt unless
``--reuse``): migrations, the demo city, then N synthetic cases (``yiwang generate_cases``, timed);
then

  a) workbench: in-process GET /office/cases/ as ``clerk`` and as ``reviewer`` (signed in with the
     second factor), p50/p95, with EXPLAIN ANALYZE of the to-do query and its count;
  b) sweep: ``services.sweep_time_limits()`` once with many changes (the warnings of a random
     sample of ``--sweep-changes`` warned open cases cleared first), repeated until nothing
     changes, then once more with nothing to change; with EXPLAIN ANALYZE of its queries;
  c) submit: gunicorn with 2 sync workers on 127.0.0.1, 32 concurrent clients POSTing the real
     apply page (form + one 200 KB PDF) as signed-in L2 citizens; p50/p95, then a check in the
     database that every successful response made exactly one case and all numbers are distinct;
     beside it, pgbench with 32 clients running a single-row INSERT on a scratch database.

Results: stdout (Markdown) and var/bench/results-cases.json. Servers started here are stopped
here; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datetime import UTC, datetime

from bench_catalog import (
    PG_SERVER,
    PY,
    ROOT,
    VAR,
    YIWANG,
    free_port,
    log,
    machine,
    percentile,
    run,
    wait_up,
)

PG_DB = "yiwang_bench_cases"
PGBENCH_DB = "yiwang_bench_pgbench"
URL = f"{PG_SERVER}/{PG_DB}"
GOALS = {"submit_rps": 150.0, "submit_p95_ms": 250.0, "todo_p95_ms": 100.0, "sweep_s": 60.0}
CITIZENS = 64


def child_env() -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=URL, DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_LOG_LEVEL="ERROR",
               PYTHONUNBUFFERED="1", YIWANG_ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    env.pop("YIWANG_DEBUG", None)
    return env


def child(phase: str, *args: str, timeout: float = 3600) -> dict:
    out = run([PY, __file__, "--child", phase, *args], child_env(), timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def ms(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "p99": round(percentile(values, 99), 1), "max": round(max(values), 1) if values else None}


# ----------------------------------------------------------------------------- build
def build(cases: int, seed: int) -> dict:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    env = child_env()
    info: dict = {}
    t = time.monotonic()
    run([*YIWANG, "migrate", "--noinput", "-v0"], env)
    info["migrate_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    run([*YIWANG, "demo"], env)
    info["demo_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    out = run([*YIWANG, "generate_cases", str(cases), "--seed", str(seed)], env, timeout=7200)
    info["generate_s"] = round(time.monotonic() - t, 1)
    info["generate_cases_per_s"] = round(cases / info["generate_s"], 1)
    info["generate_output"] = out.strip().splitlines()[-1]
    t = time.monotonic()
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    info["vacuum_analyze_s"] = round(time.monotonic() - t, 1)
    info.update(child("sizes"))
    return info


def child_sizes() -> dict:
    from django.db import connection

    from yiwang.cases.models import Case, CaseEvent, CaseStep

    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cur.fetchone()[0]
    return {"cases": Case.objects.count(), "open_cases": Case.objects.filter(status__in=Case.OPEN_STATUSES).count(),
            "steps": CaseStep.objects.count(), "events": CaseEvent.objects.count(), "database_size": size}


# ----------------------------------------------------------------------------- workbench
def _signed_in(username: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from yiwang.identity import totp

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    session = client.session
    session[totp.SESSION_OK] = True
    session.save()
    return client


def _explain(qs) -> str:
    from django.db import connection

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join(r[0] for r in cur.fetchall())


def child_workbench(requests: int) -> dict:
    from django.contrib.auth import get_user_model

    from yiwang.cases.models import Case
    from yiwang.cases.views_office import _my_steps

    out: dict = {}
    paths = ["/office/cases/", "/office/cases/?sort=new", "/office/cases/?status=in_review",
             "/office/cases/?status=submitted", "/office/cases/?overdue=1", "/office/cases/?page=3"]
    for username in ("clerk", "reviewer"):
        client = _signed_in(username)
        for path in paths:  # warm-up
            assert client.get(path).status_code == 200, path
        series: dict[str, list[float]] = {p: [] for p in paths}
        for i in range(requests):
            path = paths[i % len(paths)]
            t = time.perf_counter()
            response = client.get(path)
            series[path].append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        everything = [x for v in series.values() for x in v]
        user = get_user_model().objects.get(username=username)
        mine = _my_steps(user).select_related("case", "case__organization").exclude(
            case_status__in=Case.FINAL_STATUSES)
        qs = mine.order_by("due_date", "case__due_date", "started_at")
        out[username] = {"all": ms(everything), "by_path": {p: ms(v) for p, v in series.items()},
                         "todo_count": qs.count(), "explain_page": _explain(qs[:25]),
                         "explain_count": _explain(qs.values("pk")),
                         "explain_new": _explain(mine.order_by("-submitted_at", "-pk")[:25]),
                         "explain_status": _explain(mine.filter(case_status="in_review").order_by(
                             "due_date", "case__due_date", "started_at")[:25])}
    return out


# ----------------------------------------------------------------------------- sweep
def child_sweep(changes: int) -> dict:
    from django.db import connection

    from yiwang.cases import services
    from yiwang.cases.models import Case, CaseStep
    from yiwang.core import calendar

    with connection.cursor() as cur:  # forget warnings already raised on a sample: the next sweep raises them again
        cur.execute("SELECT setseed(0.42)")
        cur.execute("UPDATE cases_case SET warning = '' WHERE id IN (SELECT id FROM cases_case WHERE status = ANY(%s) "
                    "AND warning <> '' ORDER BY random() LIMIT %s) RETURNING id", [list(Case.OPEN_STATUSES), changes])
        ids = [r[0] for r in cur.fetchall()]
        cleared = len(ids)
        cur.execute("UPDATE cases_casestep SET warning = '' WHERE state = 'open' AND warning <> '' AND case_id = ANY(%s)",
                    [ids])
        cleared_steps = cur.rowcount
        cur.execute("ANALYZE cases_case")
        cur.execute("ANALYZE cases_casestep")
    runs = []
    for _ in range(20):
        t = time.perf_counter()
        changed = services.sweep_time_limits()
        runs.append({"s": round(time.perf_counter() - t, 3), **changed})
        if not any(changed.values()):
            break
    t = time.perf_counter()
    again = services.sweep_time_limits()
    runs.append({"s": round(time.perf_counter() - t, 3), **again, "note": "nothing to change"})
    today = services._today()
    yellow_until = calendar.add_working_days(today, services.yellow_days())
    open_running = {"status__in": Case.OPEN_STATUSES, "paused_since__isnull": True, "accepted_at__isnull": False}
    red = (Case.objects.filter(due_date__lt=today, **open_running).exclude(warning=Case.Warning.RED)
           .exclude(status=Case.Status.CORRECTION).values_list("pk", flat=True)[:5000])
    yellow = (Case.objects.filter(due_date__gte=today, due_date__lte=yellow_until, warning="", **open_running)
              .exclude(status=Case.Status.CORRECTION).values_list("pk", flat=True)[:5000])
    steps = CaseStep.objects.filter(state=CaseStep.State.OPEN, due_date__lt=today,
                                    case__paused_since__isnull=True).exclude(warning="red").values("pk")
    return {"cleared_cases": cleared, "cleared_steps": cleared_steps, "runs": runs,
            "warnings_now": {w or "none": Case.objects.filter(status__in=Case.OPEN_STATUSES, warning=w).count()
                             for w in ("", "yellow", "red")},
            "explain_red": _explain(red), "explain_yellow": _explain(yellow), "explain_steps": _explain(steps)}


# ----------------------------------------------------------------------------- submissions
def child_submit_setup(citizens: int) -> dict:
    """Signed-in L2 citizens (sessions in the database) and an item with one required material."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from yiwang.catalog.models import ServiceItem
    from yiwang.core import validators
    from yiwang.identity.models import Person

    User = get_user_model()
    hashed = make_password("bench-password-1")
    users = []
    for i in range(citizens):
        user, created = User.objects.get_or_create(username=f"bench_citizen_{i:03d}", defaults={"password": hashed})
        if created or not hasattr(user, "person"):
            Person.objects.create(
                user=user, name=f"测试{'甲乙丙丁戊己庚辛'[i % 8]}{i:03d}",
                id_number=validators.make_citizen_id("390102", dt.date(1980, 1, 1) + dt.timedelta(days=i),
                                                     f"{(i % 400) * 2 + 101:03d}"),
                mobile=f"1990000{i:04d}", address="临江市滨江区测试路1号", assurance_level=2,
                level_changed_at=timezone.now())
        users.append(user)
    item = next(i for i in ServiceItem.objects.filter(
        state="active", published_version__isnull=False, organization__name="临江市市场监督管理局",
        published_version__min_assurance_level__lte=2).select_related("published_version").order_by("pk")
        if "1" in (i.published_version.service_objects or []) and i.published_version.materials.exists())
    materials = list(item.published_version.materials.order_by("pk"))
    for m in materials[1:]:  # this bench's item asks for one material (scratch database)
        if m.required:
            m.required = False
            m.save(update_fields=["required"])
    sessions = []
    for user in users:
        client = _signed_in_citizen(user)
        sessions.append({"cookie": client.cookies["sessionid"].value, "name": user.person.name,
                         "id_number": user.person.id_number, "mobile": user.person.mobile, "user_id": user.pk})
    return {"code": item.implementation_code, "material": materials[0].pk, "sessions": sessions,
            "started_at": timezone.now().isoformat()}


def _signed_in_citizen(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def child_submit_check(started_at: str, user_ids: str) -> dict:
    from django.db.models import Count

    from yiwang.cases.models import Case

    ids = [int(x) for x in user_ids.split(",")]
    qs = Case.objects.filter(applicant_user_id__in=ids, submitted_at__gte=started_at)
    numbers = list(qs.values_list("number", flat=True))
    dupes = (Case.objects.filter(number__in=numbers).values("number").annotate(n=Count("id")).filter(n__gt=1).count())
    return {"cases": len(numbers), "distinct_numbers": len(set(numbers)), "duplicate_numbers_in_db": dupes,
            "with_material": qs.filter(materials__isnull=False).distinct().count(),
            "with_event": qs.filter(events__action="submit").distinct().count()}


def _pdf(size: int = 200 * 1024) -> bytes:
    head = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    tail = b"trailer<</Root 1 0 R>>\n%%EOF\n"
    filler = b"% " + secrets.token_hex((size - len(head) - len(tail)) // 2).encode()[: size - len(head) - len(tail) - 3]
    return head + filler + b"\n" + tail


def _body(fields: dict[str, str], files: dict[str, tuple[str, bytes]], boundary: str) -> bytes:
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for k, (name, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                     f"Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def submissions(port: int, setup: dict, clients: int, duration: float, server_pgid: int | None = None) -> dict:
    pdf = _pdf()
    path = f"/items/{setup['code']}/apply/"
    lat: list[list[float]] = [[] for _ in range(clients)]
    status: list[dict[int, int]] = [{} for _ in range(clients)]
    stop = time.monotonic() + duration

    def worker(n: int) -> None:
        s = setup["sessions"][n % len(setup["sessions"])]
        csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret, also the cookie
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while time.monotonic() < stop:
            boundary = secrets.token_hex(12)
            fields = {"csrfmiddlewaretoken": csrf, "applicant_name": s["name"], "id_number": s["id_number"],
                      "mobile": s["mobile"], "address": "临江市滨江区测试路1号", "description": "性能测试申请",
                      "delivery": "window", "idempotency_key": f"bench-{n}-{i}-{secrets.token_hex(4)}"}
            body = _body(fields, {f"material_{setup['material']}": ("申请材料.pdf", pdf)}, boundary)
            headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                       "Cookie": f"sessionid={s['cookie']}; csrftoken={csrf}", "Host": "127.0.0.1"}
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                code = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                code = 0
            lat[n].append((time.perf_counter() - t) * 1000)
            status[n][code] = status[n].get(code, 0) + 1
            i += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.monotonic()
    busy0, client0 = _machine_busy_s(), time.process_time()
    web0 = _group_cpu_s(server_pgid) if server_pgid else 0.0
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 90)
    elapsed = time.monotonic() - t0
    busy, client = _machine_busy_s() - busy0, time.process_time() - client0
    web = (_group_cpu_s(server_pgid) - web0) if server_pgid else None
    codes: dict[int, int] = {}
    for d in status:
        for k, v in d.items():
            codes[k] = codes.get(k, 0) + v
    ok = codes.get(302, 0)
    all_lat = [x for v in lat for x in v]
    done = max(sum(codes.values()), 1)
    # Where the machine's CPU went: this load generator's threads, and everything else (the
    # gunicorn workers, PostgreSQL, the kernel), per request.
    cpu = {"machine_busy_s": round(busy, 1), "machine_capacity_s": round(elapsed * (os.cpu_count() or 1), 1),
           "client_s": round(client, 1), "client_ms_per_request": round(client * 1000 / done, 2),
           "server_and_db_ms_per_request": round((busy - client) * 1000 / done, 2)}
    if web is not None:  # the gunicorn workers; the rest is PostgreSQL and the kernel
        cpu["web_ms_per_request"] = round(web * 1000 / done, 2)
        cpu["database_and_other_ms_per_request"] = round((busy - client - web) * 1000 / done, 2)
    return {"clients": clients, "duration_s": round(elapsed, 1), "responses": codes, "successful": ok,
            "per_s": round(ok / elapsed, 1), "latency_ms": ms(all_lat), "cpu": cpu}


def _group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, …, utime (12), stime (13)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pgbench(clients: int, duration: int) -> dict:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PGBENCH_DB}")
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["pgbench", *base, "-i", "-q", "-s", "1", PGBENCH_DB], check=True, capture_output=True)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now());\n")
        script = f.name
    try:
        out = subprocess.run(["pgbench", *base, "-n", "-c", str(clients), "-j", "2", "-T", str(duration), "-f", script,
                              PGBENCH_DB], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script)
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return {"clients": clients, "duration_s": duration, "tps": float(tps.group(1)) if tps else None,
            "latency_avg_ms": float(lat.group(1)) if lat else None, "script": "one INSERT into pgbench_history"}


def submit_phase(clients: int, duration: int, workers: int = 2, with_pgbench: bool = True) -> dict:
    setup = child("submit_setup", str(CITIZENS))
    port = free_port()
    env = child_env()
    server = subprocess.Popen([PY, "-m", "gunicorn", "yiwang.wsgi:application", "--bind", f"127.0.0.1:{port}",
                               "--workers", str(workers), "--worker-class", "sync", "--timeout", "60",
                               "--log-level", "warning"],
                              env=env, cwd=ROOT, start_new_session=True)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60)
        submissions(port, setup, clients, 3)  # warm-up of both workers (its cases are not counted)
        started = datetime.now(UTC).isoformat()
        result = submissions(port, setup, clients, duration, server_pgid=server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    result["check"] = child("submit_check", started, ",".join(str(s["user_id"]) for s in setup["sessions"]))
    result["check"]["lost_or_extra"] = result["check"]["cases"] - result["successful"]
    result["workers"] = workers
    if with_pgbench:
        result["pgbench"] = pgbench(clients, duration)
    return result


# ----------------------------------------------------------------------------- main
def child_main(phase: str, args: list[str]) -> None:
    import django

    django.setup()
    fn = {"sizes": child_sizes, "workbench": lambda: child_workbench(int(args[0])), "sweep": lambda: child_sweep(int(args[0])),
          "submit_setup": lambda: child_submit_setup(int(args[0])),
          "submit_check": lambda: child_submit_check(args[0], args[1])}[phase]
    print(json.dumps(fn(), ensure_ascii=False, default=str))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--phase", choices=["all", "build", "workbench", "sweep", "submit"], default="all")
    ap.add_argument("--reuse", action="store_true", help="measure the existing bench database, do not rebuild")
    ap.add_argument("--requests", type=int, default=300, help="workbench requests per user")
    ap.add_argument("--sweep-changes", type=int, default=5000,
                    help="open cases whose warning is cleared before the sweep (the changes it must make)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=int, default=20, help="seconds of the submission run")
    ap.add_argument("--workers", default="2",
                    help="gunicorn sync workers for the submission run; several (e.g. 2,4) run one after another")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child_main(a.child, a.rest)
        return
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / "results-cases.json"
    results = json.loads(path.read_text()) if path.exists() and a.phase != "all" else {}
    results["machine"] = machine()
    log(f"machine: {results['machine']}")
    phases = ["build", "workbench", "sweep", "submit"] if a.phase == "all" else [a.phase]
    if a.reuse and "build" in phases:
        phases.remove("build")
    for phase in phases:
        log(f"{phase} …")
        t = time.monotonic()
        if phase == "build":
            results["build"] = build(a.cases, a.seed)
        elif phase == "workbench":
            results["workbench"] = child("workbench", str(a.requests))
        elif phase == "sweep":
            results["sweep"] = child("sweep", str(a.sweep_changes))
        elif phase == "submit":
            counts = [int(w) for w in a.workers.split(",") if w.strip()]
            results["submit"] = submit_phase(a.clients, a.duration, counts[0])
            for more in counts[1:]:
                results[f"submit_workers_{more}"] = submit_phase(a.clients, a.duration, more, with_pgbench=False)
        results.setdefault("loadavg", {})[phase] = Path("/proc/loadavg").read_text().split()[:3]
        log(f"{phase} done in {time.monotonic() - t:.0f} s")
        path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(json.dumps({k: v for k, v in results.items()}, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
