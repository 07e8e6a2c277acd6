"""Catalog benchmark: search API and guide page latency, and HTTP throughput, at catalog scale.

    .venv/bin/python bench/bench_catalog.py [--items 100000] [--db sqlite|postgres|both]

For each database: a fresh database (SQLite under var/bench/, PostgreSQL ``yiwang_bench`` on
127.0.0.1), migrations, the demo city (``yiwang demo``, when available), N synthetic published
items (``yiwang generate_items``), then

  a) in-process latency of GET /api/v1/items/?q=… over a query mix (WSGI handler, no network):
     with the revision-keyed answer cache (the service as it runs), without it (every request
     searches), and without it with facets=true; and of the search itself without cache
     (``SearchResults``: capped count plus the page's ids);
  b) in-process latency of the guide page GET /items/<code>/;
  c) throughput under gunicorn (2 sync workers, 127.0.0.1, a free port) with 32 concurrent
     connections: the search API against the trivial /healthz, same tool, same run.

Results go to stdout (a Markdown table) and var/bench/results-<db>.json. Every loop is bounded;
servers started here are stopped here; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PY = sys.executable
YIWANG = [PY, "-m", "yiwang"]
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DB = "yiwang_bench"

GOALS = {"api_p95_ms": 30.0, "guide_p95_ms": 50.0, "throughput_ratio": 0.5}

# The query mix: 1-, 2-, 3- and 4+-character terms, a synonym, multi-word, filters, empty q.
QUERIES = [
    "q=税", "q=车",
    "q=户口", "q=社保", "q=护照", "q=婚姻",
    "q=开饭店", "q=身份证", "q=公积金",
    "q=营业执照", "q=食品经营许可", "q=建设工程", "q=不动产登记", "q=出生医学证明",
    "q=食品 许可", "q=营业执照&page=2",
    "q=许可&type=01", "q=登记&theme={theme}", "q=营业执照&object=legal", "q=户口&object=person",
    "type=02", "theme={theme}", "",
]
SYNONYMS = {"开饭店": "食品经营许可|小餐饮", "交社保": "社会保险", "上户口": "户口", "办执照": "营业执照"}


# ----------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def db_url(db: str, items: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{VAR / f'catalog-{items}.sqlite3'}"
    return f"{PG_SERVER}/{PG_DB}"


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="yiwang.settings",
               YIWANG_LOG_LEVEL="ERROR", PYTHONUNBUFFERED="1")
    env.pop("YIWANG_DEBUG", None)
    return env


def run(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> str:
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return out.stdout


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2),
            "p99": round(percentile(ms, 99), 2), "max": round(max(ms), 2), "mean": round(statistics.fmean(ms), 2)}


# ----------------------------------------------------------------------------- database build
def fresh_database(db: str, items: int) -> str:
    url = db_url(db, items)
    if db == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(VAR / f"catalog-{items}.sqlite3") + suffix).unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    return url


def build(db: str, items: int, seed: int) -> dict:
    url = fresh_database(db, items)
    env = child_env(url)
    info: dict = {"database_url": url}
    t = time.monotonic()
    run([*YIWANG, "migrate", "--noinput", "-v0"], env)
    info["migrate_s"] = round(time.monotonic() - t, 1)
    script = ("import django;django.setup();from django.core.management import get_commands;"
              "print(' '.join(get_commands()))")
    commands = run([PY, "-c", script], env).split()
    info["demo"] = "demo" in commands
    if info["demo"]:
        t = time.monotonic()
        run([*YIWANG, "demo"], env)
        info["demo_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    run([*YIWANG, "generate_items", str(items), "--seed", str(seed)], env, timeout=3600)
    info["generate_s"] = round(time.monotonic() - t, 1)
    info["generate_ms_per_item"] = round(1000 * info["generate_s"] / items, 2)
    if db == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:  # after a bulk load, as an operator would
            conn.execute("VACUUM ANALYZE")
    run([PY, __file__, "--child", "optimize"], env)  # merge the text index segments (SQLite FTS5)
    info.update(json.loads(run([PY, __file__, "--child", "setup"], env).strip().splitlines()[-1]))
    return info


# ----------------------------------------------------------------------------- child: in-process
def child_setup() -> dict:
    """Synonyms the query mix relies on (if the demo did not bring them) and sizes."""
    import django

    django.setup()
    from yiwang.catalog import models as m
    from yiwang.core.models import Organization

    for word, expansions in SYNONYMS.items():
        m.Synonym.objects.get_or_create(word=word, defaults={"expansions": expansions})
    return {"items_published": m.SearchEntry.objects.count(), "materials": m.Material.objects.count(),
            "organizations": Organization.objects.count(), "synonyms": m.Synonym.objects.count()}


def _theme_code() -> str:
    from django.db.models import Count

    from yiwang.catalog.models import SearchEntry

    row = (SearchEntry.themes.through.objects.values("theme__code").annotate(n=Count("searchentry_id"))
           .order_by("-n").first())
    return row["theme__code"] if row else ""


def query_paths(theme: str) -> list[str]:
    return [f"/api/v1/items/?{q.format(theme=theme)}".rstrip("?") for q in QUERIES]


def _wsgi_get(handler, path: str):
    """Time one request through Django's WSGI handler, as gunicorn would call it."""
    from io import BytesIO

    p, _, qs = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": p, "QUERY_STRING": urllib.parse.quote(qs, safe="=&+"),
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.input": BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "HTTP_ACCEPT": "application/json,text/html",
    }
    status = []
    t, c = time.perf_counter(), time.process_time()
    response = handler(environ, lambda s, h, e=None: status.append(s))
    body = b"".join(response)
    response.close()  # as a WSGI server does: fires request_finished (connection handling)
    ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
    return ms, int(status[0].split()[0]), body, cpu


def _mix_latency(handler, paths: list[str], rounds: int) -> tuple[dict, dict, dict, dict]:
    for p in paths * 2:  # warm-up: caches, prepared plans, synonym cache
        _wsgi_get(handler, p)
    samples: list[float] = []
    cpu: list[float] = []
    per: dict[str, list[float]] = {p: [] for p in paths}
    statuses: dict[str, int] = {}
    rng = random.Random(1)
    order = [p for _ in range(rounds) for p in paths]
    rng.shuffle(order)
    for p in order:
        ms, status, _, cpu_ms = _wsgi_get(handler, p)
        samples.append(ms)
        cpu.append(cpu_ms)
        per[p].append(ms)
        statuses[p] = status
    return summary(samples), {p: summary(v) for p, v in per.items()}, statuses, summary(cpu)


def child_latency(requests: int) -> dict:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from yiwang.catalog import search
    from yiwang.catalog.models import ServiceItem

    handler = WSGIHandler()
    theme = _theme_code()
    paths = query_paths(theme)
    rounds = max(1, -(-requests // len(paths)))
    out: dict = {"theme": theme, "vendor": connection.vendor}

    # a) the API, if it answers searches; and the search function itself (the API's core).
    _, status, body, _ = _wsgi_get(handler, "/api/v1/items/?q=护照")
    _, _, body_all, _ = _wsgi_get(handler, "/api/v1/items/")
    try:
        api_ok = status == 200 and json.loads(body)["count"] < json.loads(body_all)["count"]
    except (ValueError, KeyError, TypeError):
        api_ok = False
    out["api_available"] = api_ok
    if api_ok:
        from django.conf import settings as django_settings

        # Warm: answers cached per catalog revision (the service as it runs). Cold: cache off,
        # every request searches the index, ranks and counts.
        out["api"], out["api_per_query"], out["api_status"], out["api_cpu"] = _mix_latency(handler, paths, rounds)
        cached = django_settings.YIWANG_SEARCH_CACHE_SECONDS
        django_settings.YIWANG_SEARCH_CACHE_SECONDS = 0
        out["api_cold"], out["api_cold_per_query"], _, out["api_cold_cpu"] = _mix_latency(handler, paths, rounds)
        facet_paths = [p + ("&" if "?" in p else "?") + "facets=true" for p in paths]
        out["facets_cold"], out["facets_cold_per_query"], _, out["facets_cold_cpu"] = _mix_latency(
            handler, facet_paths, max(1, rounds // 3))
        django_settings.YIWANG_SEARCH_CACHE_SECONDS = cached
        out["api_counts"] = {}
        for p in paths:
            _, st, b, _ = _wsgi_get(handler, p)
            body = json.loads(b) if st == 200 else {}
            out["api_counts"][p] = (f"{body['count']}{'' if body.get('count_exact', True) else '+'}"
                                    if st == 200 else st)

    def run_search(p: str) -> tuple[float, float]:
        """The bounded search without its cache: count (capped) and the page's ids."""
        params = urllib.parse.parse_qs(p.partition("?")[2])
        f = search.Filters(item_type=params.get("type", [""])[0], theme=params.get("theme", [""])[0],
                           object=params.get("object", [""])[0])
        page = int(params.get("page", ["1"])[0])
        t, c = time.perf_counter(), time.process_time()
        results = search.SearchResults(params.get("q", [""])[0], f)
        results.count()
        results.ids((page - 1) * 20, page * 20)
        return (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000

    from django.conf import settings as django_settings

    django_settings.YIWANG_SEARCH_CACHE_SECONDS = 0

    for p in paths:
        run_search(p)
    samples, cpu, per = [], [], {p: [] for p in paths}
    for _ in range(rounds):
        for p in paths:
            ms, cpu_ms = run_search(p)
            samples.append(ms)
            cpu.append(cpu_ms)
            per[p].append(ms)
    out["search"] = summary(samples)
    out["search_cpu"] = summary(cpu)
    out["search_per_query"] = {p: summary(v) for p, v in per.items()}

    # b) the guide page of random published items.
    rng = random.Random(2)
    codes = list(ServiceItem.objects.filter(search__isnull=False).order_by("id")
                 .values_list("implementation_code", flat=True))
    picks = rng.sample(codes, min(len(codes), requests + 30))
    _, status, _, _ = _wsgi_get(handler, f"/items/{picks[0]}/")
    out["guide_available"] = status == 200
    if status == 200:
        for c in picks[:30]:
            _wsgi_get(handler, f"/items/{c}/")
        samples, cpu = [], []
        bad = 0
        for c in picks[30:]:
            ms, st, _, cpu_ms = _wsgi_get(handler, f"/items/{c}/")
            samples.append(ms)
            cpu.append(cpu_ms)
            bad += st != 200
        out["guide"] = summary(samples)
        out["guide_cpu"] = summary(cpu)
        out["guide_non_200"] = bad
    samples = []
    st = 0
    for c in picks[30:]:
        ms, st, _, _ = _wsgi_get(handler, f"/api/v1/items/{c}/")
        samples.append(ms)
    out["api_retrieve"] = summary(samples)
    out["api_retrieve_status"] = st
    out["explain"] = explain(theme)
    return out


def explain(theme: str) -> dict[str, str]:
    """Query plans of the main search statements."""
    from django.db import connection

    from yiwang.catalog import search

    plans = {}
    for q in ("营业执照", "护照", "食品经营许可"):
        sql, params = search._match_expression(search.split_terms(q))  # the capped count
        sql = f"{sql} LIMIT {search.COUNT_CAP + 1}"
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                plans[q] = "\n".join(str(r[-1]) for r in cur.fetchall())
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
                plans[q] = "\n".join(r[0] for r in cur.fetchall())
    return plans


# ----------------------------------------------------------------------------- throughput
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server did not come up: {url}")


def wrk_run(base: str, paths: list[str], duration: int, connections: int) -> dict:
    quoted = [urllib.parse.quote(p, safe="/?=&") for p in paths]
    lua = ("local paths = {" + ",".join(json.dumps(p) for p in quoted) + "}\n"
           "local i = 0\n"
           "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
                              "-s", f.name, base], capture_output=True, text=True, timeout=duration + 60,
                             check=False).stdout
    finally:
        os.unlink(f.name)
    res: dict = {"raw": out}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(line.split()[1])
        elif line.startswith("Non-2xx"):
            res["non_2xx"] = int(line.split()[-1])
        elif line.startswith("Socket errors"):
            res["socket_errors"] = line
        elif line.startswith(("50%", "90%", "99%")):
            res["p" + line.split("%")[0]] = line.split()[1]
    return res


def python_load(base: str, paths: list[str], duration: int, connections: int) -> dict:
    """Fallback client when wrk is not installed: threads with keep-alive connections."""
    import http.client

    host, port = base.replace("http://", "").split(":")
    stop = time.monotonic() + duration
    counts, errors, lat = [0] * connections, [0] * connections, [[] for _ in range(connections)]

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        i = n
        while time.monotonic() < stop:
            path = urllib.parse.quote(paths[i % len(paths)], safe="/?=&")
            i += 1
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors[n] += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=10)
            except OSError:
                errors[n] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            counts[n] += 1
            lat[n].append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 30)
    elapsed = time.monotonic() - t0
    all_lat = [x for lst in lat for x in lst]
    return {"rps": round(sum(counts) / elapsed, 1), "non_2xx": sum(errors),
            "p50": f"{percentile(all_lat, 50):.1f}ms", "p99": f"{percentile(all_lat, 99):.1f}ms"}


def throughput(url: str, duration: int, connections: int) -> dict:
    env = child_env(url)
    theme = json.loads(run([PY, __file__, "--child", "theme"], env).strip().splitlines()[-1])
    paths = query_paths(theme)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([PY, "-m", "gunicorn", "yiwang.wsgi:application", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--worker-class", "sync", "--timeout", "60",
                               "--log-level", "warning"], env=env, cwd=ROOT, start_new_session=True)
    tool = "wrk" if shutil.which("wrk") else "python-threads"
    try:
        wait_up(f"{base}/healthz", time.monotonic() + 60)
        load = wrk_run if tool == "wrk" else python_load
        load(base, paths, 3, connections)  # warm-up of both workers
        api = load(base, paths, duration, connections)
        health = load(base, ["/healthz"], duration, connections)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    ratio = api["rps"] / health["rps"] if health.get("rps") else float("nan")
    return {"tool": tool, "connections": connections, "duration_s": duration, "workers": 2,
            "api": {k: v for k, v in api.items() if k != "raw"}, "healthz": {k: v for k, v in health.items() if k != "raw"},
            "ratio": round(ratio, 3), "api_raw": api.get("raw", ""), "healthz_raw": health.get("raw", "")}


# ----------------------------------------------------------------------------- report
def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
        info["memory"] = next(line.split(":", 1)[1].strip() for line in meminfo if line.startswith("MemTotal"))
        info["loadavg_start"] = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, StopIteration):
        pass
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 — PostgreSQL is optional for a SQLite-only run
        info["postgresql"] = None
    return info


def table(results: dict) -> str:
    rows = ["| measure | goal | " + " | ".join(results) + " |", "|---|---|" + "---|" * len(results)]

    def line(label: str, goal: str, fn) -> None:
        vals = []
        for r in results.values():
            try:
                vals.append(fn(r))
            except (KeyError, TypeError):
                vals.append("–")
        rows.append(f"| {label} | {goal} | " + " | ".join(vals) + " |")

    line("items generated", "", lambda r: f"{r['build']['items_published']:,}")
    line("generate_items time", "few min",
         lambda r: f"{r['build']['generate_s']:.0f} s ({r['build']['generate_ms_per_item']} ms/item)")
    line("API /api/v1/items/?q= p50 (cached answers)", "", lambda r: f"{r['latency']['api']['p50']} ms")
    line("API /api/v1/items/?q= p95 (cached answers)", "≤ 30 ms", lambda r: f"{r['latency']['api']['p95']} ms")
    line("API /api/v1/items/?q= p50 (cache off)", "", lambda r: f"{r['latency']['api_cold']['p50']} ms")
    line("API /api/v1/items/?q= p95 (cache off)", "≤ 30 ms", lambda r: f"{r['latency']['api_cold']['p95']} ms")
    line("API … CPU p50 / p95, cache off (this process)", "",
         lambda r: f"{r['latency']['api_cold_cpu']['p50']} / {r['latency']['api_cold_cpu']['p95']} ms")
    line("API &facets=true p50 / p95 (cache off)", "",
         lambda r: f"{r['latency']['facets_cold']['p50']} / {r['latency']['facets_cold']['p95']} ms")
    line("search count + page ids p50 (cache off)", "", lambda r: f"{r['latency']['search']['p50']} ms")
    line("search count + page ids p95 (cache off)", "", lambda r: f"{r['latency']['search']['p95']} ms")
    line("search CPU p50 / p95 (this process)", "", lambda r: f"{r['latency']['search_cpu']['p50']} / {r['latency']['search_cpu']['p95']} ms")
    line("guide /items/<code>/ p50", "", lambda r: f"{r['latency']['guide']['p50']} ms")
    line("guide /items/<code>/ p95", "≤ 50 ms", lambda r: f"{r['latency']['guide']['p95']} ms")
    line("guide CPU p50 / p95 (this process)", "", lambda r: f"{r['latency']['guide_cpu']['p50']} / {r['latency']['guide_cpu']['p95']} ms")
    line("API /api/v1/items/<code>/ p95", "", lambda r: f"{r['latency']['api_retrieve']['p95']} ms")
    line("gunicorn search API req/s", "", lambda r: f"{r['throughput']['api']['rps']:.0f}")
    line("gunicorn /healthz req/s", "", lambda r: f"{r['throughput']['healthz']['rps']:.0f}")
    line("ratio API / healthz", "≥ 0.5", lambda r: f"{r['throughput']['ratio']:.2f}")
    return "\n".join(rows)


def per_query_table(results: dict, key: str) -> str:
    dbs = list(results)
    paths = list(next(iter(results.values()))["latency"][key])
    rows = ["| request | " + " | ".join(f"{d} p50 / p95 ms" for d in dbs) + " |", "|---|" + "---|" * len(dbs)]
    for p in paths:
        cells = []
        for d in dbs:
            s = results[d]["latency"][key].get(p)
            cells.append(f"{s['p50']} / {s['p95']}" if s else "–")
        rows.append(f"| `{p}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--requests", type=int, default=400, help="measured requests per latency series (≥ 300)")
    ap.add_argument("--duration", type=int, default=20, help="seconds per throughput run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--reuse", action="store_true", help="measure the existing bench database, do not rebuild")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true",
                    help="throughput only (repeat runs); results go to results-<db>-throughput-<time>.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        import django

        if args.child == "setup":
            print(json.dumps(child_setup()))
        elif args.child == "optimize":
            django.setup()
            from yiwang.catalog import search

            search.optimize_index()
        elif args.child == "latency":
            print(json.dumps(child_latency(args.requests), ensure_ascii=False))
        elif args.child == "theme":
            django.setup()
            print(json.dumps(_theme_code()))
        return

    VAR.mkdir(parents=True, exist_ok=True)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results: dict = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    mach = machine()
    log(f"machine: {mach}")
    for db in dbs:
        url = db_url(db, args.items)
        r: dict = {"database": db}
        if args.reuse:
            log(f"{db}: reusing {url} (migrating it first)")
            run(YIWANG + ["migrate", "-v0"], child_env(url), timeout=3600)
            r["build"] = {"database_url": url, "generate_s": None, "generate_ms_per_item": None,
                          **json.loads(run([PY, __file__, "--child", "setup"], child_env(url)).strip().splitlines()[-1])}
        else:
            log(f"{db}: building {args.items:,} items …")
            r["build"] = build(db, args.items, args.seed)
            log(f"{db}: built in {r['build']['generate_s']} s")
        r["latency"] = {}
        if not args.skip_latency:
            log(f"{db}: in-process latency …")
            r["latency"] = json.loads(run([PY, __file__, "--child", "latency", "--requests", str(args.requests)],
                                          child_env(url)).strip().splitlines()[-1])
        if not args.skip_throughput:
            log(f"{db}: throughput ({args.duration} s × 2, {args.connections} connections) …")
            r["throughput"] = throughput(url, args.duration, args.connections)
        results[db] = r
        name = f"results-{db}-throughput-{time.strftime('%H%M%S')}.json" if args.skip_latency else f"results-{db}.json"
        (VAR / name).write_text(json.dumps({"machine": mach, "started": started, "args": vars(args),
                                                            **r}, ensure_ascii=False, indent=1))
    print()
    print(f"## Catalog benchmark — {args.items:,} items — {started}\n")
    print(table(results))
    if all("api_per_query" in r["latency"] for r in results.values()):
        print("\n### API latency per request (cached answers)\n")
        print(per_query_table(results, "api_per_query"))
    if all("api_cold_per_query" in r["latency"] for r in results.values()):
        print("\n### API latency per request (cache off)\n")
        print(per_query_table(results, "api_cold_per_query"))
        print("\n### API latency per request with facets=true (cache off)\n")
        print(per_query_table(results, "facets_cold_per_query"))
        print("\nCounts (\"+\": a lower bound): " + "; ".join(
            f"{db}: " + ", ".join(f"{p.partition('?')[2] or '(none)'} {c}" for p, c in r["latency"]["api_counts"].items())
            for db, r in results.items()))
    if args.skip_latency:
        log(f"details: {VAR}/results-*-throughput-*.json")
        return
    print("\n### search count + page ids per request (cache off)\n")
    print(per_query_table(results, "search_per_query"))
    for db, r in results.items():
        for q, plan in r["latency"]["explain"].items():
            print(f"\n#### {db}: plan for q={q}\n\n```\n{plan}\n```")
    log(f"details: {VAR}/results-*.json")


if __name__ == "__main__":
    main()
