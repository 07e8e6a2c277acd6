"""Jobs used by tests/core/test_jobs*.py, importable by worker processes (YIWANG_JOBS_MODULES).

Each job leaves its effect in the database as an audit entry (action ``jobs.probe``, object id
the label), so a test can count how often a job really completed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from yiwang.core import audit, jobs

PERIOD_SECONDS = int(os.environ.get("YIWANG_TEST_PERIOD_SECONDS", "3600"))


@jobs.job(max_attempts=3, backoff_seconds=1)
def probe(label: str) -> None:
    audit.record("jobs.probe", "Probe", label)


@jobs.job(max_attempts=3, backoff_seconds=1)
def slow_probe(label: str, seconds: float, started_file: str) -> None:
    """Notes each start in ``started_file``, works for ``seconds``, then records completion."""
    with open(started_file, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    audit.record("jobs.probe", "Probe", label)


@jobs.job(max_attempts=4, backoff_seconds=1)
def flaky(label: str, failures: int, attempts_file: str) -> None:
    """Fails the first ``failures`` attempts (counted in ``attempts_file``), then succeeds."""
    path = Path(attempts_file)
    with path.open("a") as fh:
        fh.write(f"{time.time()}\n")
    if len(path.read_text().splitlines()) <= failures:
        raise RuntimeError(f"planned failure of {label}")
    audit.record("jobs.probe", "Probe", label)


@jobs.periodic(every_seconds=PERIOD_SECONDS)
def heartbeat() -> None:
    audit.record("jobs.probe", "Probe", "heartbeat", detail={"pid": os.getpid(), "at": time.time()})
