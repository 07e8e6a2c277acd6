"""Background jobs in one process: the interface, the database queue, retries, leases, periodic jobs.

Worker processes that are killed, several workers at once and Celery on Redis are in
test_jobs_processes.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.core import jobs_for_tests
from yiwang.core import jobs
from yiwang.core.jobs import db as job_queue
from yiwang.core.jobs import schedule
from yiwang.core.models import AuditEntry, Job, PeriodicJob

pytestmark = pytest.mark.django_db

PROBE = "tests.core.jobs_for_tests.probe"
FLAKY = "tests.core.jobs_for_tests.flaky"
HEARTBEAT = "tests.core.jobs_for_tests.heartbeat"


@pytest.fixture
def db_backend(settings):
    settings.YIWANG_JOBS_BACKEND = "db"
    settings.YIWANG_JOBS_BACKOFF_SCALE = 0.02  # retry delays of tens of milliseconds
    return settings


def completed(label: str) -> int:
    return AuditEntry.objects.filter(action="jobs.probe", object_id=label).count()


def work_until(worker: job_queue.Worker, done, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        if not worker.run_once():
            time.sleep(0.02)


# ---- the interface ----

def test_a_job_is_registered_under_its_dotted_name():
    assert jobs_for_tests.probe.job_name == PROBE
    definition = jobs.definition(jobs_for_tests.probe)
    assert (definition.name, definition.max_attempts, definition.backoff_seconds) == (PROBE, 3, 1.0)
    assert jobs.definition(PROBE) is definition


def test_enqueue_refuses_an_unknown_job():
    with pytest.raises(jobs.JobError, match="unknown job"):
        jobs.enqueue("tests.core.jobs_for_tests.no_such_job")
    with pytest.raises(jobs.JobError, match="not a registered job"):
        jobs.enqueue(print)


def test_enqueue_refuses_arguments_that_are_not_json(db_backend):
    with pytest.raises(jobs.JobError, match="JSON"):
        jobs.enqueue(jobs_for_tests.probe, label=object())
    with pytest.raises(jobs.JobError, match="negative"):
        jobs.enqueue(jobs_for_tests.probe, label="x", delay=-1)
    assert not Job.objects.exists()


def test_an_unknown_backend_setting_is_a_clear_error(settings):
    settings.YIWANG_JOBS_BACKEND = "rabbit"
    with pytest.raises(jobs.JobError, match="must be one of db, celery, immediate"):
        jobs.enqueue(jobs_for_tests.probe, label="x")


@given(base=st.floats(min_value=0.1, max_value=100))
def test_each_retry_waits_longer_than_the_one_before(base):
    definition = jobs.JobDefinition("x", print, max_attempts=10, backoff_seconds=base,
                                    max_backoff_seconds=1e9)
    waits = [definition.delay_before_attempt(attempt) for attempt in range(2, 11)]
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    assert base * 0.8 <= waits[0] <= base * 1.2


def test_retry_waits_stop_growing_at_the_cap():
    definition = jobs.JobDefinition("x", print, backoff_seconds=10, max_backoff_seconds=60)
    assert definition.delay_before_attempt(30) <= 60 * 1.2


# ---- visibility on commit ----

def test_immediate_mode_runs_the_job_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        jobs.enqueue(jobs_for_tests.probe, label="committed")
        assert completed("committed") == 0  # not before the commit
    assert completed("committed") == 1


def test_immediate_mode_runs_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        jobs.enqueue(jobs_for_tests.probe, label="rolled-back")
        raise RuntimeError("the case could not be saved")
    assert callbacks == []
    assert completed("rolled-back") == 0


def test_the_queued_row_is_part_of_the_callers_transaction(db_backend):
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.enqueue(jobs_for_tests.probe, label="rolled-back")
        assert Job.objects.filter(name=PROBE).count() == 1
        raise RuntimeError("the case could not be saved")
    assert not Job.objects.exists()
    job_queue.Worker(periodic=False).run(burst=True)
    assert completed("rolled-back") == 0


def test_a_job_enqueued_by_a_job_runs_too(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="first")
    jobs.enqueue(jobs_for_tests.probe, label="second")
    job_queue.Worker(periodic=False).run(burst=True)
    assert completed("first") == completed("second") == 1
    assert set(Job.objects.values_list("status", flat=True)) == {Job.Status.SUCCEEDED}


# ---- the database queue ----

def test_the_worker_runs_an_enqueued_job_once(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="hello")
    job = Job.objects.get()
    assert (job.status, job.attempts, job.max_attempts) == (Job.Status.QUEUED, 0, 3)

    job_queue.Worker(periodic=False).run(burst=True)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_until) == (Job.Status.SUCCEEDED, 1, None)
    assert job.finished_at is not None
    assert completed("hello") == 1
    entry = AuditEntry.objects.get(action="jobs.probe")
    assert entry.actor == f"system:job:{PROBE}"


def test_a_delayed_job_waits_for_its_time(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="later", delay=1)
    worker = job_queue.Worker(periodic=False)
    assert worker.run_once() is False
    time.sleep(1.05)
    assert worker.run_once() is True
    assert completed("later") == 1


def test_a_failing_job_is_retried_with_growing_delays_until_it_succeeds(db_backend, tmp_path):
    db_backend.YIWANG_JOBS_BACKOFF_SCALE = 0.5  # waits of 0.4–0.6 s, then 0.8–1.2 s
    attempts_file = tmp_path / "attempts"
    jobs.enqueue(jobs_for_tests.flaky, label="flaky", failures=2, attempts_file=str(attempts_file))
    worker = job_queue.Worker(periodic=False)

    shortest, longest = [], []
    for _ in range(2):
        job = job_queue.claim(worker.worker_id)
        before = timezone.now()
        assert job_queue.run_claimed(job, worker.worker_id) == Job.Status.QUEUED
        after = timezone.now()
        assert job_queue.claim(worker.worker_id) is None  # not before its retry time
        job.refresh_from_db()
        assert job.status == Job.Status.QUEUED
        assert "planned failure of flaky" in job.last_error
        shortest.append((job.run_after - after).total_seconds())
        longest.append((job.run_after - before).total_seconds())
        time.sleep(max(longest[-1], 0) + 0.01)
    assert shortest[1] > longest[0] > 0

    work_until(worker, lambda: completed("flaky"))
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 3)
    assert len(attempts_file.read_text().splitlines()) == 3


def test_a_job_that_keeps_failing_is_kept_as_failed_and_can_be_retried(db_backend, tmp_path):
    jobs.enqueue(jobs_for_tests.flaky, label="broken", failures=99,
                 attempts_file=str(tmp_path / "attempts"))
    worker = job_queue.Worker(periodic=False)
    work_until(worker, lambda: Job.objects.filter(status=Job.Status.FAILED).exists())

    job = Job.objects.get()
    assert (job.attempts, job.max_attempts) == (4, 4)
    assert "RuntimeError: planned failure of broken" in job.last_error
    assert worker.run_once() is False  # failed jobs are not picked up again
    assert completed("broken") == 0

    call_command("jobs", "status", stdout=(out := _Out()))
    assert "失败 / failed: 1" in out.text
    assert f"#{job.pk} {FLAKY}" in out.text and "attempts 4/4" in out.text
    assert "planned failure of broken" in out.text

    call_command("jobs", "retry", str(job.pk), stdout=_Out())
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.QUEUED, 0)
    assert AuditEntry.objects.filter(action="jobs.retry", object_id=str(job.pk)).exists()
    with pytest.raises(CommandError, match="has not failed"):
        call_command("jobs", "retry", str(job.pk))


def test_a_second_enqueue_with_the_same_dedupe_key_is_a_no_op_while_the_first_waits(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="once", dedupe_key="probe:once")
    jobs.enqueue(jobs_for_tests.probe, label="once", dedupe_key="probe:once")
    jobs.enqueue(jobs_for_tests.probe, label="other", dedupe_key="probe:other")
    assert Job.objects.count() == 2

    job_queue.Worker(periodic=False).run(burst=True)
    jobs.enqueue(jobs_for_tests.probe, label="once", dedupe_key="probe:once")  # new work now
    assert Job.objects.filter(dedupe_key="probe:once").count() == 2


def test_a_job_whose_worker_died_is_claimed_again_and_completes_once(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="orphan")
    dead = job_queue.claim("worker-that-dies", lease=1)
    assert dead.status == Job.Status.RUNNING
    assert job_queue.claim("worker-b") is None  # its lease still holds

    time.sleep(1.05)
    again = job_queue.claim("worker-b")
    assert again.pk == dead.pk and again.attempts == 2
    assert job_queue.run_claimed(again, "worker-b") == Job.Status.SUCCEEDED

    # The first worker, had it only been slow, cannot overwrite the outcome.
    assert Job.objects.filter(pk=dead.pk, locked_by="worker-that-dies").count() == 0
    assert completed("orphan") == 1


def test_a_job_whose_worker_died_on_the_last_attempt_is_failed(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="unlucky")
    for attempt in range(3):
        assert job_queue.claim(f"worker-{attempt}", lease=0.01).attempts == attempt + 1
        time.sleep(0.02)
    assert job_queue.claim("worker-last") is None
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    assert "worker-2 stopped during attempt 3" in job.last_error


def test_the_worker_stops_after_the_running_job_when_asked(db_backend):
    jobs.enqueue(jobs_for_tests.probe, label="a")
    worker = job_queue.Worker(periodic=False, poll_seconds=0.01)
    worker.stop()
    worker.run()
    assert completed("a") == 0


def test_jobs_enqueue_command_queues_a_job(db_backend):
    call_command("jobs", "enqueue", PROBE, "--kwargs", '{"label": "cli"}', stdout=_Out())
    assert Job.objects.get().kwargs == {"label": "cli"}
    with pytest.raises(CommandError, match="JSON"):
        call_command("jobs", "enqueue", PROBE, "--kwargs", "{label")
    with pytest.raises(CommandError, match="unknown job"):
        call_command("jobs", "enqueue", "nope.nothing")


# ---- periodic jobs ----

def test_a_periodic_job_is_triggered_once_per_period_whoever_asks(db_backend):
    assert jobs.periodic_jobs()[HEARTBEAT].every_seconds == jobs_for_tests.PERIOD_SECONDS
    assert HEARTBEAT in schedule.trigger_due("worker-a")
    assert HEARTBEAT not in schedule.trigger_due("worker-b")
    assert Job.objects.filter(name=HEARTBEAT).count() == 1
    row = PeriodicJob.objects.get(name=HEARTBEAT)
    assert row.last_claimed_by == "worker-a"
    assert row.next_run_at - row.last_run_at == dt.timedelta(seconds=jobs_for_tests.PERIOD_SECONDS)

    # The next period comes (the clock is moved by moving the row's due time back).
    PeriodicJob.objects.filter(pk=row.pk).update(next_run_at=timezone.now())
    assert HEARTBEAT in schedule.trigger_due("worker-b")
    assert HEARTBEAT not in schedule.trigger_due("worker-a")


def test_missed_periods_are_skipped_not_caught_up(db_backend):
    schedule.trigger_due("worker-a")
    PeriodicJob.objects.filter(name=HEARTBEAT).update(
        next_run_at=timezone.now() - dt.timedelta(days=3))
    job_queue.Worker(periodic=False).run(burst=True)
    assert HEARTBEAT in schedule.trigger_due("worker-a")
    assert HEARTBEAT not in schedule.trigger_due("worker-a")
    assert PeriodicJob.objects.get(name=HEARTBEAT).next_run_at > timezone.now()


def test_a_periodic_job_not_yet_started_is_not_queued_twice(db_backend):
    schedule.trigger_due("worker-a")
    PeriodicJob.objects.filter(name=HEARTBEAT).update(next_run_at=timezone.now())
    schedule.trigger_due("worker-a")  # the worker is behind: the first run has not started
    assert Job.objects.filter(name=HEARTBEAT).count() == 1


def test_the_worker_triggers_and_runs_periodic_jobs(db_backend):
    job_queue.Worker().run(burst=True)
    assert completed("heartbeat") == 1
    job_queue.Worker().run(burst=True)
    assert completed("heartbeat") == 1


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


@pytest.mark.django_db
def test_old_finished_jobs_are_pruned_and_queued_ones_never():
    from yiwang.core.tasks import prune_finished_jobs

    now = timezone.now()
    def make(status, days_ago):
        return Job.objects.create(name="tests.core.jobs_for_tests.add", status=status, run_after=now,
                                  finished_at=now - dt.timedelta(days=days_ago) if days_ago is not None else None)
    old_done, new_done = make(Job.Status.SUCCEEDED, 8), make(Job.Status.SUCCEEDED, 6)
    old_failed, recent_failed = make(Job.Status.FAILED, 31), make(Job.Status.FAILED, 20)
    queued = make(Job.Status.QUEUED, None)
    assert prune_finished_jobs() == {Job.Status.SUCCEEDED: 1, Job.Status.FAILED: 1}
    left = set(Job.objects.values_list("pk", flat=True))
    assert left == {new_done.pk, recent_failed.pk, queued.pk}
    assert old_done.pk not in left and old_failed.pk not in left
    assert "yiwang.core.tasks.prune_finished_jobs" in jobs.periodic_jobs()
