"""Fixtures for the background-job tests that start worker processes (helpers in job_processes.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.core.job_processes import (
    POSTGRES_URL,
    REDIS_HOST,
    REDIS_PORT,
    ExternalDatabase,
    postgres_reachable,
    redis_reachable,
    start_celery,
    stop,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def external_db(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"jobs-{request.param}")
    name = f"yiwang_jobs_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'jobs.sqlite3'}"
    else:
        if not postgres_reachable():
            pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    database = ExternalDatabase(url, tmp)
    database.yiwang("migrate", "core", "--skip-checks", "-v0", timeout=180)  # the job tables
    yield database
    if request.param == "postgresql":
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def celery_worker(tmp_path_factory):
    if not redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}: the Celery backend is not tested")
    tmp = tmp_path_factory.mktemp("jobs-celery")
    database = ExternalDatabase(f"sqlite:///{tmp / 'jobs.sqlite3'}", tmp)
    queue = f"yiwang-test-{uuid.uuid4().hex[:10]}"
    database.env.update({"YIWANG_JOBS_BACKEND": "celery", "YIWANG_CELERY_QUEUE": queue,
                         "YIWANG_CELERY_BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0"})
    database.yiwang("migrate", "core", "--skip-checks", "-v0", timeout=180)  # the job tables
    worker = start_celery(database, "celery")
    yield database
    stop(worker, timeout=30)
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT).delete(queue)
