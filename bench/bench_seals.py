"""Seals benchmark: payload verifications per second per core, and signed PDF generation.

    .venv/bin/python bench/bench_seals.py [--seconds 3] [--pdf-runs 50]

On a fresh SQLite database (var/bench/seals.sqlite3, rebuilt each run):

  a) ``signing.verify_payload`` on a ~200-byte payload, one thread, for ES256 and SM2SM3, the
     signing keys looked up in the database (cached in the process, as in service); beside it,
     in the same run, ``openssl speed -seconds N ecdsap256`` and ``openssl speed -seconds N sm2``
     (the verify/s column);
  b) a case document (受理通知书) rendered with reportlab and signed (PAdES with the visible seal),
     ``--pdf-runs`` times: p50/p95 of render + sign, and of the signing alone.

Results: stdout (Markdown) and var/bench/results-seals.json. Nothing outside this machine is contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_catalog import ROOT, VAR, log, machine, percentile  # noqa: E402

GOALS = {"es256_vs_openssl": 0.5, "pdf_p95_ms": 300.0}
PAYLOAD = json.dumps({
    "id": "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "holder": "王小明", "holder_code": "3901**********1234", "type": "食品经营许可证",
    "issued": "2026-12-02", "valid_to": "2031-12-01", "status": "01",
}, ensure_ascii=False, separators=(",", ":")).encode()


def setup_django(db_path: Path) -> None:
    if db_path.exists():
        db_path.unlink()
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def verify_rate(alg: str, seconds: float) -> dict:
    from yiwang.seals import signing

    signed = signing.sign_payload(PAYLOAD, purpose="bench", algorithm=alg)
    assert signing.verify_payload(signed.kid, PAYLOAD, signed.signature)
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            if not signing.verify_payload(signed.kid, PAYLOAD, signed.signature):
                raise SystemExit("verification failed")
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            break
    return {"alg": alg, "verifications": n, "seconds": round(now - start, 3), "per_second": round(n / (now - start), 1)}


def openssl_speed(algorithm: str, seconds: int) -> dict | None:
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), algorithm], capture_output=True,
                             text=True, timeout=seconds * 4 + 30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        numbers = re.findall(r"\d+\.\d+", line)
        if "bits" in line and len(numbers) >= 4:
            return {"line": line.strip(), "sign_per_second": float(numbers[-2]), "verify_per_second": float(numbers[-1])}
    return None


def pdf_runs(runs: int) -> dict:
    from django.utils import timezone

    from yiwang.cases import documents
    from yiwang.cases.models import Case, CaseDocument
    from yiwang.core.models import Organization, Region
    from yiwang.seals import pdfsign, services

    province = Region.objects.create(code="390000000000", name="江川省", level=1)
    city = Region.objects.create(code="390100000000", name="临江市", level=2, parent=province)
    org = Organization.objects.create(uscc="11390100MB0000001X", name="临江市市场监督管理局", region=city,
                                      department_code="0117")
    seal = services.seal_for_documents(org)  # provisioned through the lifecycle, as in service
    now = timezone.now()
    case = Case(number="11390100MB0000001X3000101001000012026120200001", organization=org,
                item_name="食品经营许可（新办）", applicant_name="王小明", applicant_id_type="111",
                applicant_id_number="390102199001011234", submitted_at=now, limit_days=10,
                due_date=(now + dt.timedelta(days=14)).date(), query_code="123456")
    totals, signing_only, size = [], [], 0
    for i in range(runs):
        t0 = time.perf_counter()
        data = documents.render(case, CaseDocument.Kind.ACCEPTANCE, f"临市监受〔2026〕{i + 1}号")
        t1 = time.perf_counter()
        signed = pdfsign.sign_pdf(data, seal=seal, reason="受理通知书", location="临江市")
        t2 = time.perf_counter()
        totals.append((t2 - t0) * 1000)
        signing_only.append((t2 - t1) * 1000)
        size = len(signed)
    (report,) = pdfsign.verify_pdf(signed)
    assert report.ok, report.summary
    return {"runs": runs, "p50_ms": round(percentile(totals, 50), 1), "p95_ms": round(percentile(totals, 95), 1),
            "sign_p50_ms": round(percentile(signing_only, 50), 1),
            "sign_p95_ms": round(percentile(signing_only, 95), 1), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--pdf-runs", type=int, default=50)
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    setup_django(VAR / "seals.sqlite3")
    load = os.getloadavg()[0]
    log("verify_payload ES256")
    es = verify_rate("ES256", args.seconds)
    log("verify_payload SM2SM3")
    sm = verify_rate("SM2SM3", args.seconds)
    log("openssl speed ecdsap256 / sm2")
    ossl_p256 = openssl_speed("ecdsap256", args.seconds)
    ossl_sm2 = openssl_speed("sm2", args.seconds)
    log("signed PDFs")
    pdf = pdf_runs(args.pdf_runs)
    ratio = es["per_second"] / ossl_p256["verify_per_second"] if ossl_p256 else None
    sm_ratio = sm["per_second"] / ossl_sm2["verify_per_second"] if ossl_sm2 else None
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "load_average_at_start": round(load, 2), "payload_bytes": len(PAYLOAD), "es256": es, "sm2sm3": sm,
              "openssl_ecdsap256": ossl_p256, "openssl_sm2": ossl_sm2, "es256_vs_openssl": ratio,
              "sm2_vs_openssl": sm_ratio, "pdf": pdf, "goals": GOALS}
    (VAR / "results-seals.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    m = result["machine"]
    print(f"\nMachine: {m.get('cpu', '?')}, {m['nproc']} cores, Python {m['python']}; load {load:.2f} at start; "
          f"payload {len(PAYLOAD)} bytes\n")
    print("| measurement | ours (verify_payload) | OpenSSL `speed` verify/s | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| ES256 verifications/s, one core | {es['per_second']:,.0f} | "
          f"{ossl_p256['verify_per_second']:,.0f} | {ratio:.0%} | ≥ 50 % |" if ossl_p256 else
          f"| ES256 verifications/s | {es['per_second']:,.0f} | n/a | | |")
    print(f"| SM2SM3 verifications/s, one core | {sm['per_second']:,.0f} | "
          f"{ossl_sm2['verify_per_second']:,.0f} | {sm_ratio:.1%} | (reported) |" if ossl_sm2 else
          f"| SM2SM3 verifications/s | {sm['per_second']:,.0f} | openssl without SM2 | | |")
    print(f"\n| signed PDF (render + PAdES sign), {pdf['runs']} runs | p50 | p95 | goal |")
    print("|---|---|---|---|")
    print(f"| render + sign | {pdf['p50_ms']} ms | {pdf['p95_ms']} ms | p95 ≤ {GOALS['pdf_p95_ms']:.0f} ms |")
    print(f"| sign alone | {pdf['sign_p50_ms']} ms | {pdf['sign_p95_ms']} ms | |")
    print(f"\nSigned file: {pdf['bytes']:,} bytes. JSON: {(VAR / 'results-seals.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
