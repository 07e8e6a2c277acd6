"""What one submission costs, counted rather than timed: SQL statements and CPU instructions.

    .venv/bin/python bench/profile_submit.py [--database yiwang_bench_cases] [--requests 20] [--stub NAME ...]

Posts the real apply page in-process (Django's test client, a signed-in L2 citizen, the form and
one 200 KB PDF — the same request as ``bench_cases.py --phase submit``) against an existing
PostgreSQL database that has the demo city (``yiwang demo``; the bench's own database will do).
It prints the SQL statements of one submission, then runs itself under valgrind's callgrind and
prints the instructions per submission, which do not depend on what else the machine is doing —
unlike the clock on a shared two-core machine, where the same code measured 97 to 128
submissions/s within the hour. Compare two versions of the code with the same command.

``--stub _audit`` (repeatable; a function of ``yiwang.cases.services``, or ``module.function``)
replaces a function by a no-op for the count, to see what a part costs. Note that valgrind's CPU
lacks the SHA extensions, so OpenSSL's SHA-256 of the 200 KB material counts about 6 million
instructions here but takes about 0.1 ms on the real processor; compare counts, do not convert
them to time. Needs valgrind (``apt-get install -y valgrind``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    os.environ.setdefault("YIWANG_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("YIWANG_LOG_LEVEL", "ERROR")
    os.environ.pop("YIWANG_DEBUG", None)
    import django

    django.setup()


def _submitter():
    """A function posting one submission (a new idempotency key each time)."""
    import bench_cases
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    setup = bench_cases.child_submit_setup(4)
    pdf = bench_cases._pdf()
    path = f"/items/{setup['code']}/apply/"
    clients = []
    for s in setup["sessions"]:
        client = Client()
        client.cookies["sessionid"] = s["cookie"]
        clients.append((client, s))

    def submit(i: int) -> None:
        client, s = clients[i % len(clients)]
        fields = {"applicant_name": s["name"], "id_number": s["id_number"], "mobile": s["mobile"],
                  "address": "临江市滨江区测试路1号", "description": "性能测试申请", "delivery": "window",
                  "idempotency_key": f"profile-{i}-{secrets.token_hex(4)}",
                  f"material_{setup['material']}": SimpleUploadedFile("申请材料.pdf", pdf, "application/pdf")}
        response = client.post(path, fields)
        if response.status_code != 302:
            raise SystemExit(f"submission refused: {response.status_code} {response.content[:500]!r}")

    return submit


def _stub(names: list[str]) -> None:
    from yiwang.cases import services

    for name in names:
        module, _, attr = name.rpartition(".")
        owner = services if module in ("", "services") else importlib.import_module(module)
        setattr(owner, attr, lambda *a, **k: None)


def child(args) -> None:
    """Under callgrind: warm up with instrumentation off, count ``--requests`` submissions."""
    _setup_django(args.database)
    submit = _submitter()
    _stub(args.stub)
    for i in range(5):
        submit(i)
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    for i in range(args.requests):
        submit(100 + i)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", default="yiwang_bench_cases")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--stub", action="append", default=[], help="a function replaced by a no-op while counting")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    _setup_django(args.database)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    submit = _submitter()
    _stub(args.stub)
    for i in range(5):
        submit(i)
    with CaptureQueriesContext(connection) as queries:
        submit(50)
    print(f"SQL statements per submission: {len(queries.captured_queries)}")
    for q in queries.captured_queries:
        print(f"  {q['sql'][:110]}")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "callgrind.log"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/out.%p",
               f"--log-file={log}", sys.executable, __file__, "--child", "--database", args.database,
               "--requests", str(args.requests)] + [x for s in args.stub for x in ("--stub", s)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        collected = sum(int(n) for n in re.findall(r"Collected : (\d+)", log.read_text()))
    print(f"instructions per submission: {collected / args.requests / 1e6:.1f} million"
          f"{' (stubbed: ' + ', '.join(args.stub) + ')' if args.stub else ''}")


if __name__ == "__main__":
    main()
