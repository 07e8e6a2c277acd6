"""Shared fixtures: a small city with two departments and their staff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests import factories

# Timing varies on shared CI machines; correctness, not speed, is what these tests check.
hypothesis_settings.register_profile("yiwang", deadline=None, max_examples=100)
hypothesis_settings.load_profile("yiwang")


def pytest_configure(config):
    from django.conf import settings

    # The test database is emptied between transactional tests, which the append-only
    # triggers would refuse; tests that check the triggers install them themselves.
    settings.YIWANG_AUDIT_DB_GUARDS = False
    # Password hashing at production cost is measured in bench/, not paid in every test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Search answers are cached per catalog revision; tests see the uncached path unless they
    # turn the cache on (tests/catalog/test_search_cache.py).
    settings.YIWANG_SEARCH_CACHE_SECONDS = 0
    # Background jobs run synchronously when the transaction commits (use
    # django_capture_on_commit_callbacks(execute=True) inside a test transaction); the real
    # backends are tested in tests/core/test_jobs*.py.
    settings.YIWANG_JOBS_BACKEND = "immediate"
from yiwang.identity.models import Role


@pytest.fixture(autouse=True)
def _fresh_memos():
    """Each test starts with the process-local memos empty (yiwang.core.memo): a test database's
    rows, rolled back after the test before, must not be served to the next one."""
    from yiwang.core import memo

    memo.clear_all()


@pytest.fixture
def city(db):
    province = factories.region("390000000000", "江川省")
    city = factories.region("390100000000", "临江市", province)
    district = factories.region("390102000000", "滨江区", city)
    return {"province": province, "city": city, "district": district}


@pytest.fixture
def org_a(city):
    return factories.organization("临江市市场监督管理局", city["city"], "0117")


@pytest.fixture
def org_b(city):
    return factories.organization("临江市民政局", city["city"], "0107")


@pytest.fixture
def admin_a(org_a):
    return factories.staff("catalog_a", org_a, Role.CATALOG_ADMIN)


@pytest.fixture
def admin_a2(org_a):
    return factories.staff("catalog_a2", org_a, Role.CATALOG_ADMIN)


@pytest.fixture
def admin_b(org_b):
    return factories.staff("catalog_b", org_b, Role.CATALOG_ADMIN)


@pytest.fixture
def org_admin_a(org_a):
    return factories.staff("orgadmin_a", org_a, Role.ORG_ADMIN)


@pytest.fixture
def org_admin_b(org_b):
    return factories.staff("orgadmin_b", org_b, Role.ORG_ADMIN)


@pytest.fixture
def platform_admin(city):
    gov = factories.organization("临江市人民政府办公室", city["city"], "0001")
    return factories.staff("platform", gov, Role.PLATFORM_ADMIN)


@pytest.fixture
def published(org_a, admin_a, admin_a2):
    """One published item of department A: 食品经营许可."""
    factories.theme()
    return factories.published_item(org_a, admin_a, admin_a2, theme_codes=["kaiban"])


# The search index lives partly in tables Django does not model (FTS5 / tsvector tables), which
# the flush after a transactional test does not empty. Left behind, their rows would be counted
# by later tests in the same worker; in service they are always deleted with their items.
RAW_SEARCH_TABLES = {"postgresql": ("catalog_search_tsv", "catalog_search_names"),
                     "sqlite": ("catalog_search_fts", "catalog_search_names")}


@pytest.fixture(autouse=True)
def _raw_search_tables_follow_the_flush(request, django_db_blocker):
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or \
        {"transactional_db", "live_server"} & set(request.fixturenames)
    if not transactional:
        return
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cur:
        for table in RAW_SEARCH_TABLES.get(connection.vendor, ()):
            cur.execute(f"DELETE FROM {table}")


# ---------------------------------------------------------------- browser tests (one Chromium per run)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the CI image must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped outside CI")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


