"""Background jobs across real processes: ``yiwang worker`` killed mid-job and two workers
sharing periodic jobs, on a SQLite file and on PostgreSQL; ``yiwang serve`` with its worker
(helpers in job_processes.py)."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import sys
import urllib.request

import pytest

from tests.core.job_processes import JOBS, moment, stop, wait_for


def test_a_job_of_a_killed_worker_runs_to_completion_exactly_once(external_db, tmp_path):
    started = tmp_path / "started"
    workers = {name: external_db.worker(name, "--no-periodic") for name in ("w1", "w2", "w3")}
    # The job outlasts the 2-second lease: only the extended lease keeps the idle workers off it.
    external_db.yiwang("jobs", "enqueue", f"{JOBS}.slow_probe", "--kwargs", json.dumps(
        {"label": "survivor", "seconds": 2.5, "started_file": str(started)}))
    try:
        wait_for(lambda: started.exists() and started.read_text(), 30, "a worker to start the job")
        status, attempts, victim, _, _ = external_db.job("slow_probe", "survivor")
        assert (status, attempts) == ("running", 1)
        workers[victim].send_signal(signal.SIGKILL)
        workers.pop(victim).wait()

        wait_for(lambda: external_db.job("slow_probe", "survivor")[0] == "succeeded", 30,
                 "another worker to finish the job")
        _, attempts, locked_by, _, _ = external_db.job("slow_probe", "survivor")
        assert attempts == 2 and locked_by in workers
        assert len(started.read_text().splitlines()) == 2  # killed once, then run through once
        assert external_db.completed("survivor") == 1
    finally:
        codes = {name: stop(worker) for name, worker in workers.items()}
    assert set(codes.values()) == {0}  # SIGTERM: a clean stop
    assert all(f"job worker stopped: {name}" in external_db.log(name) for name in codes)


def test_two_workers_run_a_periodic_job_once_per_period(external_db):
    period = 1
    env = {"YIWANG_TEST_PERIOD_SECONDS": str(period)}
    workers = [external_db.worker(name, env=env) for name in ("periodic-a", "periodic-b")]
    try:
        wait_for(lambda: external_db.completed("heartbeat") >= 3, 30, "three heartbeats")
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0]
    triggered = external_db.query("SELECT created_at, status FROM core_job WHERE name = %s "
                                  "ORDER BY created_at", f"{JOBS}.heartbeat")
    times = [moment(created) for created, _ in triggered]
    # Two workers triggering the same period would do so within moments of each other; the
    # rows are written a little after each claim (lock waits), hence the margin.
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > period / 2, f"one period triggered twice: {gaps}"
    succeeded = sum(status == "succeeded" for _, status in triggered)
    assert succeeded == external_db.completed("heartbeat") >= 3  # each triggered job ran once
    claimed_by = external_db.query("SELECT last_claimed_by FROM core_periodicjob")[0][0]
    assert claimed_by in ("periodic-a", "periodic-b")


def test_serve_runs_a_job_worker_beside_the_web_server_and_stops_both(external_db):
    if not external_db.url.startswith("sqlite"):
        pytest.skip("`yiwang serve` with its worker is the embedded setup: checked on SQLite")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = external_db.start([sys.executable, "-m", "yiwang", "serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], "serve")
    try:
        external_db.yiwang("jobs", "enqueue", f"{JOBS}.probe", "--kwargs", '{"label": "served"}')
        wait_for(lambda: external_db.completed("served"), 30, "the worker started by serve")
        health = wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz"), 30, "the web server")
        assert health == 200
    finally:
        code = stop(serve, timeout=40)
    assert code == 0
    log = external_db.log("serve")
    assert f"http://127.0.0.1:{port}/" in log and "job worker stopped" in log


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None
