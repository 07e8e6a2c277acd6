"""Certificate benchmark: online verification under load, and signed certificate PDF generation.

    .venv/bin/python bench/bench_certificates.py [--certificates 300] [--clients 32] [--duration 20]
                                                 [--workers 2] [--pdf-runs 100]

On PostgreSQL only (database ``yiwang_bench_certificates`` on 127.0.0.1, dropped and rebuilt):
migrations, one organisation with a certificate type, and N certificates issued through the real
service (each with its signed QR payload and sealed PDF); then

  a) verify: gunicorn (``--workers`` sync workers) on 127.0.0.1, 32 concurrent clients POSTing
     ``/api/v1/certificates/verify/`` with the QR payloads of the issued certificates (the online
     path: signature check, then the record's status); requests/s, p50/p95. The per-address rate
     limit is lifted for the run (``YIWANG_CERT_VERIFY_RATE``), all clients being 127.0.0.1;
  b) pdf: ``--pdf-runs`` signed certificate PDFs (render with the embedded Chinese font, QR code,
     PAdES signature with the organisation's seal), p50/p95 — goal p95 ≤ 300 ms — and, beside
     it, the whole ``issue()`` (record, counter, payload, PDF, audit) over the same number of runs.

Results: stdout (Markdown) and var/bench/results-certificates.json. The server started here is
stopped here; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cases import ms
from bench_catalog import PG_SERVER, PY, ROOT, VAR, free_port, log, machine, run, wait_up

PG_DB = "yiwang_bench_certificates"
URL = f"{PG_SERVER}/{PG_DB}"
GOALS = {"pdf_p95_ms": 300.0}


def child_env() -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=URL, DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_LOG_LEVEL="ERROR",
               PYTHONUNBUFFERED="1", YIWANG_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
               YIWANG_CERT_VERIFY_RATE="100000000/m", YIWANG_MEDIA_ROOT=str(VAR / "media-certificates"))
    env.pop("YIWANG_DEBUG", None)
    return env


def child(phase: str, *args: str, timeout: float = 3600) -> dict:
    out = run([PY, __file__, "--child", phase, *args], child_env(), timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- build
def fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")


def _setup_type():
    from yiwang.certificates import services
    from yiwang.certificates.models import CertificateType
    from yiwang.core.models import Organization, Region
    from yiwang.core.validators import make_uscc

    existing = CertificateType.objects.first()
    if existing is not None:
        return existing
    province = Region.objects.create(code="390000000000", name="江川省", level=1)
    city = Region.objects.create(code="390100000000", name="临江市", level=2, parent=province)
    org = Organization.objects.create(uscc=make_uscc("1", "1", "390100", "B0117000"), name="临江市市场监督管理局",
                                      short_name="市市场监管", department_code="0117", region=city)
    fields = [{"name": "operator", "label": "经营者名称", "key": True},
              {"name": "legal_rep", "label": "法定代表人（负责人）", "key": True, "mask": "name"},
              {"name": "address", "label": "经营场所"},
              {"name": "main_form", "label": "主体业态", "key": True},
              {"name": "scope", "label": "经营项目", "key": True}]
    return services.save_type(None, name="食品经营许可证", type_code=f"{org.uscc}002", defining_organization=org,
                              issuing_organization=org, holder_kind="enterprise", fields=fields, validity_years=5,
                              template="permit")


def _issue_one(ctype, n: int):
    from yiwang.certificates import services
    from yiwang.core.validators import make_uscc

    uscc = make_uscc("9", "1", "390102", f"MA{n:06d}")
    return services.issue(ctype, holder_name=f"临江市示例{n}号餐饮有限公司", holder_code=uscc, data={
        "operator": f"临江市示例{n}号餐饮有限公司", "legal_rep": "赵大勇", "address": f"临江市滨江区江滨路{n}号",
        "main_form": "餐饮服务经营者", "scope": "热食类食品制售；冷食类食品制售"})


def child_build(count: int) -> dict:
    from yiwang.certificates import services

    ctype = _setup_type()
    t = time.perf_counter()
    payloads = []
    for n in range(count):
        cert = _issue_one(ctype, n)
        payloads.append(cert.qr_payload)
    elapsed = time.perf_counter() - t
    # A few suspended and revoked, so the mix of online answers is realistic.
    from yiwang.certificates.models import Certificate

    for cert in Certificate.objects.order_by("pk")[: count // 20]:
        services.suspend(None, cert, reason="性能测试：暂扣")
    for cert in Certificate.objects.order_by("-pk")[: count // 20]:
        services.revoke(None, cert, reason="性能测试：撤销")
    return {"issued": count, "seconds": round(elapsed, 1), "per_s": round(count / elapsed, 1),
            "payload_chars": max(len(p) for p in payloads), "payloads": payloads}


def child_pdf(runs: int) -> dict:
    from yiwang.certificates import services
    from yiwang.certificates.models import Certificate

    cert = Certificate.objects.select_related("certificate_type", "issuing_organization").order_by("pk").first()
    services.sign_pdf(cert, services.render_pdf(cert))  # warm-up: font, seal and key loaded
    render, signed, sizes = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        data = services.render_pdf(cert)
        t1 = time.perf_counter()
        pdf = services.sign_pdf(cert, data)
        t2 = time.perf_counter()
        render.append((t1 - t) * 1000)
        signed.append((t2 - t) * 1000)
        sizes.append(len(pdf))
    ctype = cert.certificate_type
    issue = []
    for n in range(runs):
        t = time.perf_counter()
        _issue_one(ctype, 100_000 + n)
        issue.append((time.perf_counter() - t) * 1000)
    return {"runs": runs, "render_ms": ms(render), "render_and_sign_ms": ms(signed), "issue_ms": ms(issue),
            "pdf_bytes": {"min": min(sizes), "max": max(sizes)}}


# ----------------------------------------------------------------------------- load
def verifications(port: int, payloads: list[str], clients: int, duration: float) -> dict:
    lat: list[list[float]] = [[] for _ in range(clients)]
    status: list[dict[int, int]] = [{} for _ in range(clients)]
    results: list[dict[str, int]] = [{} for _ in range(clients)]
    stop = time.monotonic() + duration

    def worker(n: int) -> None:
        rnd = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            body = json.dumps({"payload": rnd.choice(payloads)})
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/certificates/verify/", body=body,
                             headers={"Content-Type": "application/json", "Host": "127.0.0.1"})
                response = conn.getresponse()
                data = response.read()
                code = response.status
                if code == 200:
                    r = json.loads(data)["result"]
                    results[n][r] = results[n].get(r, 0) + 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                code = 0
            lat[n].append((time.perf_counter() - t) * 1000)
            status[n][code] = status[n].get(code, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 90)
    elapsed = time.monotonic() - t0
    codes: dict[int, int] = {}
    outcome: dict[str, int] = {}
    for d in status:
        for k, v in d.items():
            codes[k] = codes.get(k, 0) + v
    for d in results:
        for k, v in d.items():
            outcome[k] = outcome.get(k, 0) + v
    ok = codes.get(200, 0)
    return {"clients": clients, "duration_s": round(elapsed, 1), "responses": codes, "results": outcome,
            "per_s": round(ok / elapsed, 1), "latency_ms": ms([x for v in lat for x in v])}


def verify_phase(payloads: list[str], clients: int, duration: int, workers: int) -> dict:
    port = free_port()
    server = subprocess.Popen([PY, "-m", "gunicorn", "yiwang.wsgi:application", "--bind", f"127.0.0.1:{port}",
                               "--workers", str(workers), "--worker-class", "sync", "--timeout", "60",
                               "--log-level", "warning"],
                              env=child_env(), cwd=ROOT, start_new_session=True)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60)
        verifications(port, payloads, clients, 3)  # warm-up
        result = verifications(port, payloads, clients, duration)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    result["workers"] = workers
    return result


# ----------------------------------------------------------------------------- report
def report(results: dict) -> str:
    v, p = results.get("verify", {}), results.get("pdf", {})
    lines = ["| measure | value |", "| --- | --- |"]
    if v:
        lines += [f"| verification API, {v['clients']} clients, {v['workers']} gunicorn workers | "
                  f"{v['per_s']} requests/s; p50 {v['latency_ms']['p50']} ms, p95 {v['latency_ms']['p95']} ms |",
                  f"| responses / results | {v['responses']} / {v['results']} |"]
    if p:
        lines += [f"| signed certificate PDF (render + PAdES), {p['runs']} runs | p50 "
                  f"{p['render_and_sign_ms']['p50']} ms, p95 {p['render_and_sign_ms']['p95']} ms "
                  f"(goal p95 ≤ {GOALS['pdf_p95_ms']:.0f} ms) |",
                  f"| of which rendering | p50 {p['render_ms']['p50']} ms, p95 {p['render_ms']['p95']} ms |",
                  f"| whole issue() (record, payload, PDF, audit) | p50 {p['issue_ms']['p50']} ms, "
                  f"p95 {p['issue_ms']['p95']} ms |",
                  f"| PDF size | {p['pdf_bytes']['min']}–{p['pdf_bytes']['max']} bytes |"]
    b = results.get("build")
    if b:
        lines.append(f"| build: certificates issued sequentially | {b['issued']} in {b['seconds']} s "
                     f"({b['per_s']}/s); largest QR payload {b['payload_chars']} characters |")
    return "\n".join(lines)


def child_main(phase: str, args: list[str]) -> None:
    import django

    django.setup()
    fn = {"build": lambda: child_build(int(args[0])), "pdf": lambda: child_pdf(int(args[0]))}[phase]
    print(json.dumps(fn(), ensure_ascii=False, default=str))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--certificates", type=int, default=300)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pdf-runs", type=int, default=100)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child_main(a.child, a.rest)
        return
    VAR.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine()}
    log(f"machine: {results['machine']}")
    fresh_database()
    run([PY, "-m", "yiwang", "migrate", "-v0"], child_env(), timeout=900)
    log("build …")
    build = child("build", str(a.certificates))
    payloads = build.pop("payloads")
    results["build"] = build
    log("verify …")
    results["verify"] = verify_phase(payloads, a.clients, a.duration, a.workers)
    results.setdefault("loadavg", {})["verify"] = Path("/proc/loadavg").read_text().split()[:3]
    log("pdf …")
    results["pdf"] = child("pdf", str(a.pdf_runs))
    results["loadavg"]["pdf"] = Path("/proc/loadavg").read_text().split()[:3]
    (VAR / "results-certificates.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(report(results))


if __name__ == "__main__":
    main()
