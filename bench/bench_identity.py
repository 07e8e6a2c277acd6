"""Identity benchmark: password logins, token introspection, ID-token issuing, org-scoped queries.

    .venv/bin/python bench/bench_identity.py [--db sqlite|postgres|both] [--items 100000] [--orgs 1000]
        [--children 100] [--runs 50] [--only-scoped]

For each database: a fresh database (SQLite under var/bench/, PostgreSQL ``yiwang_bench_identity``
on 127.0.0.1), migrations, ``--orgs`` departments created with ``bulk_create``, ``yiwang
generate_items N`` (the items spread over those departments), ``--children`` departments made
sub-units of the one in the middle, ANALYZE, then

  a) full-request password logins per second: POST /accounts/login/ through Django's WSGI handler
     (test client, no network) with the production hasher (Django's PBKDF2-SHA256 default
     iterations), plus the hasher alone for reference;
  b) token introspection throughput: POST /o/introspect/ against gunicorn (2 sync workers,
     127.0.0.1, a free port) with wrk, the caller a resource server presenting its own bearer
     token; a few requests with HTTP Basic client authentication for comparison;
  c) ID tokens issued per second: the validator's signing path (claims, RS256 signature, the
     IDToken row), in-process;
  d) the office item list (``views_office.item_list_queryset`` and ``item_list_page``, the page's
     own queries: the first page's ids newest change first, their rows, and the count) for a catalog administrator of one department,
     one of the department with ``--children`` sub-units, and a platform administrator (every
     item): EXPLAIN (ANALYZE, BUFFERS on PostgreSQL; QUERY PLAN on SQLite) after ANALYZE, whether
     the plans read catalog_serviceitem and catalog_itemversion through indexes (no sequential
     scan of them), p50/p95 of the ids query, the count, the whole page of data and the whole
     request (GET /office/items/, test client) over ``--runs`` runs; the query timings include
     resolving the user's scope (the organisation tree). ``--only-scoped`` measures (d) alone.

Prints Markdown and writes var/bench/identity-<db>.json. Every loop is bounded; the server
started here is stopped here; only 127.0.0.1 is contacted. The login rate limits are raised for
the run through their environment variables (YIWANG_LOGIN_RATE_IP / _ACCOUNT).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PY = sys.executable
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DB = "yiwang_bench_identity"
PASSWORD = "bench-Pass-2025!"


# ============================================================================= orchestration
def db_env(db: str, items: int) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "yiwang.settings", "YIWANG_LOGIN_RATE_IP": "1000000/m",
           "YIWANG_LOGIN_RATE_ACCOUNT": "1000000/m", "PYTHONPATH": str(ROOT / "src")}
    env.pop("YIWANG_ENV", None)
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{VAR / f'identity-{items}.sqlite3'}"
    else:
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    return env


def run_phase(phase: str, db: str, args) -> dict:
    out = VAR / f"identity-{db}-{phase}.json"
    cmd = [PY, __file__, "--phase", phase, "--db", db, "--items", str(args.items), "--orgs", str(args.orgs),
           "--logins", str(args.logins), "--id-tokens", str(args.id_tokens), "--children", str(args.children),
           "--runs", str(args.runs), "--out", str(out)] + (["--only-scoped"] if args.only_scoped else [])
    subprocess.run(cmd, env=db_env(db, args.items), check=True, cwd=ROOT, timeout=3 * 3600)
    return json.loads(out.read_text())


def rebuild(db: str, args) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{VAR / f'identity-{args.items}.sqlite3'}{suffix}").unlink(missing_ok=True)
    else:
        for sql in (f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)', f'CREATE DATABASE "{PG_DB}"'):
            subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def introspection_throughput(db: str, args, setup: dict) -> dict:
    port = free_port()
    env = db_env(db, args.items)
    server = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "yiwang.wsgi:application", "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        body = f"token={setup['subject_token']}"
        headers = {"Authorization": f"Bearer {setup['gateway_token']}",
                   "Content-Type": "application/x-www-form-urlencoded"}
        check = urllib.request.urlopen(urllib.request.Request(f"{base}/o/introspect/", data=body.encode(),
                                                              headers=headers), timeout=10).read()
        assert json.loads(check)["active"] is True, check
        result = {"tool": "", "connections": args.connections, "duration_s": args.duration}
        if shutil.which("wrk"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write('wrk.method = "POST"\n'
                             f'wrk.body = "{body}"\n'
                             f'wrk.headers["Authorization"] = "{headers["Authorization"]}"\n'
                             'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
            out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                                  "-s", script.name, f"{base}/o/introspect/"], capture_output=True, text=True,
                                 check=False, timeout=args.duration + 60).stdout
            os.unlink(script.name)
            result.update(tool="wrk", raw=out, rps=_wrk_value(out, "Requests/sec:"),
                          p50=_wrk_latency(out, "50%"), p99=_wrk_latency(out, "99%"))
            health = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s",
                                     f"{base}/healthz"], capture_output=True, text=True,
                                    check=False, timeout=args.duration + 60).stdout
            result["healthz_rps"] = _wrk_value(health, "Requests/sec:")
        else:
            result.update(tool="python (sequential)", rps=_python_rps(f"{base}/o/introspect/", body, headers,
                                                                       args.duration))
        # HTTP Basic: every request verifies the client secret with the password hasher.
        basic = {"Authorization": setup["gateway_basic"], "Content-Type": "application/x-www-form-urlencoded"}
        result["basic_auth_rps_sequential"] = _python_rps(f"{base}/o/introspect/", body, basic, 5)
        return result
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _python_rps(url: str, body: str, headers: dict, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and n < 100000:
        urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), headers=headers), timeout=30).read()
        n += 1
    return round(n / (time.perf_counter() - start), 1)


def _wrk_value(out: str, label: str) -> float:
    for line in out.splitlines():
        if line.strip().startswith(label):
            return float(line.split()[-1])
    return 0.0


def _wrk_latency(out: str, pct: str) -> str:
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == pct:
            return parts[1]
    return ""


def machine() -> str:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem}, Python {platform.python_version()}"


def report(db: str, setup: dict, inproc: dict, http: dict | None) -> str:
    a, c, d = inproc["logins"], inproc["id_tokens"], inproc["scoped"]
    lines = [f"### {db}", "",
             (f"- Data: {setup['organizations']} organisations, {setup['items']} items "
              f"(generated in {setup['generate_s']} s).")]
    if a:
        lines.append(f"- (a) password login, full request (POST /accounts/login/ → 302, Django test client, "
                     f"{a['hasher']} {a['iterations']} iterations): **{a['per_s']} logins/s** on one process "
                     f"(median {a['median_ms']} ms, n={a['n']}); the hash alone takes {a['hash_ms']} ms.")
    if c:
        lines.append(f"- (c) ID tokens issued: **{c['per_s']} /s** in-process (median {c['median_ms']} ms: claims, "
                     f"RS256 signature, IDToken row; n={c['n']}); RS256 signing alone {c['sign_only_per_s']} /s.")
    if http:
        lines.append(f"- (b) token introspection (gunicorn 2 sync workers, {http['tool']}, {http['connections']} "
                     f"connections, {http['duration_s']} s, bearer-authenticated resource server): "
                     f"**{http['rps']} req/s** (p50 {http.get('p50', '')}, p99 {http.get('p99', '')}); /healthz "
                     f"{http.get('healthz_rps', '')} req/s in the same setup; with HTTP Basic client "
                     f"authentication (secret checked by the hasher on each request) "
                     f"{http['basic_auth_rps_sequential']} req/s sequential.")
    lines += ["", f"(d) office item list, first page ({d['page_size']} rows) newest first, {d['runs']} runs each "
              "(p50 / p95 ms; the page is count + the page's ids + their rows):", "",
              "| user | organisations | items visible | index-backed | page's ids | count | page | whole request |",
              "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for case in d["cases"]:
        lines.append(f"| {case['label']} | {case['orgs']} | {case['items']} | "
                     f"{'yes' if case['index_backed'] else '**no**'} | {case['ids_ms'][0]} / {case['ids_ms'][1]} | "
                     f"{case['count_ms'][0]} / {case['count_ms'][1]} | {case['page_ms'][0]} / {case['page_ms'][1]} | "
                     f"{case['request_ms'][0]} / {case['request_ms'][1]} |")
    for case in d["cases"]:
        lines += ["", f"{case['label']}, the page's ids: `{case['sql']}`", "", "```", case["plan"].rstrip(), "```",
                  "", "Its count:", "", "```", case["count_plan"].rstrip(), "```",
                  "", "The page's rows:", "", "```", case["rows_plan"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--id-tokens", type=int, default=300)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--children", type=int, default=100,
                        help="sub-units of the multi-organisation administrator's department")
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each list query")
    parser.add_argument("--only-scoped", action="store_true", help="measure the org-scoped list (d) alone")
    parser.add_argument("--reuse", action="store_true", help="measure the existing bench database")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--phase", choices=["setup", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return phase_main(args)
    VAR.mkdir(parents=True, exist_ok=True)
    print(f"Machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        if not args.reuse:
            rebuild(db, args)
        started = time.monotonic()
        setup = run_phase("setup", db, args)
        inproc = run_phase("measure", db, args)
        http = None if args.skip_http or args.only_scoped else introspection_throughput(db, args, setup)
        data = {"db": db, "machine": machine(), "setup": setup, "inprocess": inproc, "http": http,
                "wall_s": round(time.monotonic() - started, 1)}
        (VAR / (f"identity-{db}-scoped.json" if args.only_scoped else f"identity-{db}.json")).write_text(json.dumps(data, ensure_ascii=False, indent=2))
        print(report(db, setup, inproc, http))


# ============================================================================= inside Django
def phase_main(args) -> None:
    import django

    django.setup()
    result = setup_phase(args) if args.phase == "setup" else measure_phase(args)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2))


def setup_phase(args) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from yiwang.catalog.models import ServiceItem
    from yiwang.core.models import Organization, Region
    from yiwang.core.validators import make_citizen_id, make_uscc
    from yiwang.identity import services_oidc
    from yiwang.identity.models import Person, Role, StaffAccount

    call_command("migrate", verbosity=0)
    User = get_user_model()
    generate_s = 0.0
    if not Organization.objects.exists():
        province, _ = Region.objects.get_or_create(code="390000000000", defaults={"name": "江川省", "level": 1})
        city, _ = Region.objects.get_or_create(code="390100000000",
                                               defaults={"name": "临江市", "level": 2, "parent": province})
        depts = ["0117", "0107", "0121", "0131", "0140", "0152"]
        orgs = [Organization(uscc=make_uscc("1", "1", "390100", f"B{i:07d}"), name=f"临江市第{i}号部门",
                             kind=Organization.Kind.DEPARTMENT, department_code=depts[i % len(depts)], region=city)
                for i in range(args.orgs)]
        Organization.objects.bulk_create(orgs, batch_size=500)
        first = Organization.objects.order_by("id").first()
        children = list(Organization.objects.exclude(pk=first.pk).order_by("id").values_list("id", flat=True)[:10])
        Organization.objects.filter(id__in=children).update(parent=first)
        started = time.monotonic()
        call_command("generate_items", args.items, seed=1)
        generate_s = round(time.monotonic() - started, 1)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        else:
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
    # The scoped users: catalog administrators of a department in the middle of the code range with
    # ``--children`` sub-units (its reach is the department and its children: an IN list), and of
    # a department without sub-units further on.
    ids = list(Organization.objects.order_by("id").values_list("id", flat=True))
    middle = Organization.objects.get(id=ids[len(ids) // 2])
    Organization.objects.filter(parent=middle).update(parent=None)
    Organization.objects.filter(id__in=ids[len(ids) // 2 + 1:len(ids) // 2 + 1 + args.children]).update(parent=middle)
    single = Organization.objects.get(id=ids[-2])
    Organization.objects.filter(parent=single).update(parent=None)
    admin = User.objects.filter(username="bench-admin").first()
    if admin is None:
        admin = User.objects.create_user("bench-admin", password=PASSWORD)
        StaffAccount.objects.create(user=admin, organization=middle, roles=[Role.PLATFORM_ADMIN])
        citizen = User.objects.create_user("bench-citizen", password=PASSWORD)
        Person.objects.create(user=citizen, name="王小明", id_number=make_citizen_id("390102", __import__(
            "datetime").date(1990, 1, 1), "001"), mobile="13900000001", assurance_level=2)
    for username, org, role in (("bench-catalog", middle, Role.CATALOG_ADMIN),
                                ("bench-catalog-one", single, Role.CATALOG_ADMIN),
                                ("bench-reviewer", middle, Role.REVIEWER)):
        user = User.objects.filter(username=username).first() or User.objects.create_user(username, password=PASSWORD)
        StaffAccount.objects.update_or_create(user=user, defaults={"organization": org, "roles": [role]})
    gateway, gateway_secret = services_oidc.register_client(admin, {
        "name": f"基准测试网关{time.time_ns()}", "kind": "system", "client_type": "confidential",
        "scopes": ["introspection"]})
    subject_app, _ = services_oidc.register_client(admin, {
        "name": f"基准测试应用{time.time_ns()}", "kind": "login", "client_type": "public",
        "redirect_uris": ["https://bench.example.cn/cb"], "scopes": ["openid", "profile", "catalog.read"]})
    gateway_token = _token(gateway, None, "introspection")
    subject_token = _token(subject_app, User.objects.get(username="bench-citizen"), "openid profile")
    import base64

    return {"organizations": Organization.objects.count(), "items": ServiceItem.objects.count(),
            "generate_s": generate_s, "gateway_token": gateway_token, "subject_token": subject_token,
            "gateway_basic": "Basic " + base64.b64encode(f"{gateway.client_id}:{gateway_secret}".encode()).decode()}


def _token(app, user, scope: str) -> str:
    import secrets
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    value = secrets.token_urlsafe(30)
    AccessToken.objects.create(application=app, user=user, token=value, scope=scope,
                               expires=timezone.now() + timedelta(hours=6))
    return value


def measure_phase(args) -> dict:
    if args.only_scoped:
        return {"logins": None, "id_tokens": None, "scoped": measure_scoped_list(args.runs)}
    return {"logins": measure_logins(args.logins), "id_tokens": measure_id_tokens(args.id_tokens),
            "scoped": measure_scoped_list(args.runs)}


def measure_logins(n: int) -> dict:
    from django.conf import settings
    from django.contrib.auth.hashers import check_password, get_hasher, make_password
    from django.test import Client

    hasher = get_hasher()
    encoded = make_password(PASSWORD)
    t = time.perf_counter()
    check_password(PASSWORD, encoded)
    hash_ms = (time.perf_counter() - t) * 1000
    times = []
    for i in range(n + 2):
        client = Client(REMOTE_ADDR=f"127.0.{i // 250}.{i % 250 + 1}")
        start = time.perf_counter()
        response = client.post("/accounts/login/", {"username": "bench-citizen", "password": PASSWORD})
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, (response.status_code, response.content[:300])
        assert settings.SESSION_COOKIE_NAME in response.cookies
        if i >= 2:  # warm-up
            times.append(elapsed)
    return {"n": n, "hasher": hasher.algorithm, "iterations": getattr(hasher, "iterations", None),
            "per_s": round(n / sum(times), 2), "median_ms": round(statistics.median(times) * 1000, 1),
            "hash_ms": round(hash_ms, 1), "page": "/accounts/login/"}


def measure_id_tokens(n: int) -> dict:
    from django.contrib.auth import get_user_model
    from jwcrypto import jwt as jwt_
    from oauth2_provider.models import Application
    from oauthlib.common import Request

    from yiwang.identity.oidc import YiwangValidator

    app = Application.objects.filter(authorization_grant_type="authorization-code").order_by("-id").first()
    user = get_user_model().objects.get(username="bench-citizen")
    validator = YiwangValidator()
    times = []
    for i in range(n + 5):
        request = Request("http://127.0.0.1/o/token/", headers={"HTTP_HOST": "127.0.0.1"})
        request.client, request.user, request.scopes = app, user, ["openid", "profile"]
        request.nonce, request.acting_enterprise = f"n{i}", None
        start = time.perf_counter()
        validator.finalize_id_token({"aud": app.client_id, "iat": int(time.time())}, {}, None, request)
        if i >= 5:
            times.append(time.perf_counter() - start)
    key = app.jwk_key
    start, k = time.perf_counter(), 0
    while k < 500:
        token = jwt_.JWT(header={"alg": "RS256", "kid": key.thumbprint()}, claims={"sub": "x", "n": k})
        token.make_signed_token(key)
        token.serialize()
        k += 1
    sign_only = k / (time.perf_counter() - start)
    return {"n": n, "per_s": round(n / sum(times), 1), "median_ms": round(statistics.median(times) * 1000, 2),
            "sign_only_per_s": round(sign_only, 1)}


def measure_scoped_list(runs: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from yiwang.catalog.views_office import PAGE_SIZE, item_list_page, item_list_queryset, item_list_rows
    from yiwang.identity import scoping, totp
    from yiwang.identity.models import Role

    with connection.cursor() as cur:  # planner statistics for the tables as they are now
        cur.execute("ANALYZE catalog_serviceitem" if connection.vendor == "postgresql" else "ANALYZE")
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE core_organization")
    users = get_user_model().objects
    cases = []
    for label, username in (("one department", "bench-catalog-one"),
                            ("department with sub-units", "bench-catalog"),
                            ("platform administrator", "bench-admin")):
        user = users.get(username=username)
        scope = scoping.visible_organization_ids(user, Role.CATALOG_ADMIN)
        qs, _, _ = item_list_queryset(user)
        ids = qs.values_list("id", flat=True)[:PAGE_SIZE]
        count = qs.order_by().values("id")
        client = Client()
        client.force_login(user)
        session = client.session
        session[totp.SESSION_OK] = True
        session.save()
        assert client.get("/office/items/").status_code == 200
        plan, count_plan = _plan(ids.query), _plan(count.query, count=True)
        rows_plan = _plan(item_list_rows(list(ids)).query)
        sql, params = ids.query.sql_with_params()
        cases.append({
            "label": label, "orgs": "all" if scope is None else len(scope), "items": qs.count(),
            "sql": sql % tuple(repr(p) for p in params), "plan": plan, "count_plan": count_plan,
            "rows_plan": rows_plan,
            "index_backed": all(_index_backed(p) for p in (plan, count_plan, rows_plan)),
            "ids_ms": _timed(lambda: list(item_list_queryset(user)[0].values_list("id", flat=True)[:PAGE_SIZE]),
                             runs),
            "count_ms": _timed(lambda: item_list_queryset(user)[0].count(), runs),
            "page_ms": _timed(lambda: item_list_page(item_list_queryset(user)[0], 1), runs),
            "request_ms": _timed(lambda: client.get("/office/items/"), max(10, runs // 2)),
        })
    return {"runs": runs, "page_size": PAGE_SIZE, "cases": cases}


def _timed(fn, runs: int) -> tuple[float, float]:
    """p50 and p95 in ms over ``runs`` calls after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return round(statistics.median(times), 2), round(times[min(len(times) - 1, int(len(times) * 0.95))], 2)


BIG_TABLES = ("catalog_serviceitem", "catalog_itemversion")


def _index_backed(plan: str) -> bool:
    """No sequential scan of the big tables (PostgreSQL ``Seq Scan``, SQLite a ``SCAN`` without an index)."""
    for line in plan.splitlines():
        words = line.replace("(", " ").split()
        for table in BIG_TABLES:
            if "Seq Scan on " + table in line:
                return False
            if "SCAN" in words and table in words and "INDEX" not in words:
                return False
    return True


def _plan(query, count: bool = False) -> str:
    from django.db import connection

    sql, params = query.sql_with_params()
    if count:
        sql = f"SELECT COUNT(*) FROM ({sql}) s"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            return "\n".join(r[0] for r in cur.fetchall())
        cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(r[-1] for r in cur.fetchall())


if __name__ == "__main__":
    main()
