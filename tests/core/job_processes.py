"""Worker processes on databases of their own, for tests/core/test_jobs_processes.py and
test_jobs_celery.py.

Each database (a SQLite file, or a fresh PostgreSQL database) gets the job tables from
``yiwang migrate core``; jobs are enqueued with ``yiwang jobs enqueue``; outcomes are read back
with plain SQL. The jobs are in tests/core/jobs_for_tests.py and leave audit entries as their effect.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("YIWANG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
JOBS = "tests.core.jobs_for_tests"


class ExternalDatabase:
    """A database of its own for worker processes, read back with plain SQL."""

    def __init__(self, url: str, tmp: Path):
        self.url, self.tmp = url, tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")},
            "DATABASE_URL": url,
            "PYTHONPATH": str(ROOT),
            "YIWANG_VAR_DIR": str(tmp / "var"),
            "YIWANG_JOBS_BACKEND": "db",
            "YIWANG_JOBS_MODULES": JOBS,
            "YIWANG_JOBS_POLL_SECONDS": "0.1",
            "YIWANG_JOBS_LEASE_SECONDS": "2",
            "YIWANG_JOBS_BACKOFF_SCALE": "0.05",
        }

    def yiwang(self, *args: str, env: dict | None = None, timeout: float = 60) -> str:
        result = subprocess.run([sys.executable, "-m", "yiwang", *args], check=False, env={**self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        assert result.returncode == 0, f"yiwang {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return result.stdout

    def start(self, argv: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("w")
        return subprocess.Popen(argv, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, text=True)

    def worker(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        return self.start([sys.executable, "-m", "yiwang", "worker", "--id", name, *args], name, env)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def query(self, sql: str, *params):
        if self.url.startswith("sqlite"):
            import sqlite3

            with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def completed(self, label: str) -> int:
        return self.query("SELECT count(*) FROM core_auditentry WHERE action = 'jobs.probe' "
                          "AND object_id = %s", label)[0][0]

    def job(self, name: str, label: str):
        rows = self.query("SELECT status, attempts, locked_by, last_error, kwargs FROM core_job "
                          "WHERE name = %s ORDER BY id", f"{JOBS}.{name}")
        rows = [row for row in rows if _kwargs(row[4]).get("label") == label]
        return rows[-1] if rows else None


def _kwargs(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def stop(process: subprocess.Popen, timeout: float = 15) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the worker did not stop on SIGTERM")


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
        return True
    except Exception:  # noqa: BLE001
        return False


def moment(value) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start_celery(database: ExternalDatabase, name: str, env: dict | None = None) -> subprocess.Popen:
    queue = {**database.env, **(env or {})}["YIWANG_CELERY_QUEUE"]
    return database.start([sys.executable, "-m", "celery", "-A", "yiwang.celery", "worker",
                           "--pool=solo", "-Q", queue, "-n", f"{name}-{queue}@%h", "--without-gossip",
                           "--without-mingle", "--without-heartbeat", "-l", "INFO"], name, env)
