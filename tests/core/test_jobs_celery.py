"""Background jobs on Celery with the local Redis: a real ``celery worker`` runs, retries, keeps
failures and takes over the job of a killed worker (helpers in job_processes.py). Skipped, with
the reason, only when Redis is unreachable."""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid

from tests.core.job_processes import JOBS, REDIS_HOST, REDIS_PORT, start_celery, stop, wait_for


def test_celery_runs_an_enqueued_job(celery_worker):
    celery_worker.yiwang("jobs", "enqueue", f"{JOBS}.probe", "--kwargs", '{"label": "via-celery"}')
    wait_for(lambda: celery_worker.completed("via-celery"), 30, "the Celery worker to run the job")


def test_celery_retries_a_failing_job_with_backoff(celery_worker, tmp_path):
    attempts = tmp_path / "attempts"
    celery_worker.yiwang("jobs", "enqueue", f"{JOBS}.flaky", "--kwargs", json.dumps(
        {"label": "celery-flaky", "failures": 2, "attempts_file": str(attempts)}))
    wait_for(lambda: celery_worker.completed("celery-flaky"), 30, "the retried job to succeed")
    assert len(attempts.read_text().splitlines()) == 3


def test_celery_keeps_a_job_that_ran_out_of_attempts_as_failed(celery_worker, tmp_path):
    celery_worker.yiwang("jobs", "enqueue", f"{JOBS}.flaky", "--kwargs", json.dumps(
        {"label": "celery-hopeless", "failures": 99, "attempts_file": str(tmp_path / "a")}))
    wait_for(lambda: celery_worker.job("flaky", "celery-hopeless"), 30, "the failure to be recorded")
    assert celery_worker.job("flaky", "celery-hopeless")[:2] == ("failed", 4)
    assert len((tmp_path / "a").read_text().splitlines()) == 4
    assert "planned failure of celery-hopeless" in celery_worker.yiwang("jobs", "status")


def test_celery_hands_the_job_of_a_killed_worker_to_another(celery_worker, tmp_path):
    # A queue of its own, with a short visibility timeout, so no other worker sees the job.
    env = {"YIWANG_CELERY_QUEUE": f"yiwang-test-kill-{uuid.uuid4().hex[:8]}",
           "YIWANG_CELERY_VISIBILITY_TIMEOUT": "5", "YIWANG_CELERY_RESTORE_SECONDS": "1"}
    started = tmp_path / "started"
    first = start_celery(celery_worker, "celery-first", env)
    celery_worker.yiwang("jobs", "enqueue", f"{JOBS}.slow_probe", "--kwargs", json.dumps(
        {"label": "celery-survivor", "seconds": 1.2, "started_file": str(started)}), env=env)
    wait_for(lambda: started.exists() and started.read_text(), 30, "the first worker to start the job")
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = start_celery(celery_worker, "celery-second", env)
    try:
        wait_for(lambda: celery_worker.completed("celery-survivor"), 30,
                 "the job to be redelivered and finished")
        time.sleep(1)
        assert celery_worker.completed("celery-survivor") == 1
        assert len(started.read_text().splitlines()) == 2
    finally:
        stop(second, timeout=30)
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT).delete(env["YIWANG_CELERY_QUEUE"])


def test_celery_sends_a_job_with_a_pending_dedupe_key_once(celery_worker):
    key = f"probe:celery-once:{uuid.uuid4().hex[:8]}"
    # Twice in one process, the second while the first waits for its time.
    celery_worker.yiwang("shell", "-c", "from yiwang.core import jobs\nfor _ in range(2): jobs.enqueue("
                         f"'{JOBS}.probe', label='celery-once', delay=2, dedupe_key='{key}')")
    wait_for(lambda: celery_worker.completed("celery-once"), 30, "the delayed job to run")
    time.sleep(1)
    assert celery_worker.completed("celery-once") == 1


def test_celery_beat_triggers_the_periodic_jobs(celery_worker, tmp_path):
    beat = celery_worker.start([sys.executable, "-m", "celery", "-A", "yiwang.celery", "beat",
                                "-s", str(tmp_path / "beat-schedule"), "--pidfile", str(tmp_path / "beat.pid"),
                                "-l", "INFO"], "celery-beat", {"YIWANG_CELERY_BEAT_SECONDS": "0.5"})
    try:
        wait_for(lambda: celery_worker.completed("heartbeat"), 30, "beat to trigger the heartbeat job")
    finally:
        stop(beat, timeout=30)
    assert celery_worker.query("SELECT last_claimed_by FROM core_periodicjob "
                               "WHERE name = %s", f"{JOBS}.heartbeat") == [("celery-beat",)]
