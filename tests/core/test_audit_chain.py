"""The audit trail: append-only, hash-chained, verifiable, correct under concurrent writers."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from yiwang.core import audit
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _write(n=5):
    with audit.acting_as("user:tester"):
        return [audit.record("test.write", "Thing", i, before={"v": i}, after={"v": i + 1}) for i in range(n)]


@pytest.fixture
def guards(db):
    """The triggers every real deployment has (the test database is built without them;
    installed here inside the test's transaction, so they vanish with it)."""
    from yiwang.core import db_guards

    db_guards.install(connection)


def _drop_guards():
    """What an intruder with database access would do first."""
    from yiwang.core import db_guards

    db_guards.uninstall(connection)


def test_entries_chain_and_verify():
    entries = _write(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[0].actor == "user:tester"
    assert entries[0].before_digest == audit.digest({"v": 0})
    assert audit.verify().ok and audit.verify().checked == 5


def test_application_cannot_update_or_delete_entries(guards):
    entry = _write(1)[0]
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(actor="someone else")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_database_refuses_raw_update_and_delete(guards):
    from django.db import DatabaseError, transaction

    _write(1)
    for sql in ("UPDATE core_auditentry SET actor = 'x'", "DELETE FROM core_auditentry"):
        with pytest.raises(DatabaseError), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql)
    assert AuditEntry.objects.count() == 1


def test_verify_names_an_altered_entry(guards):
    _write(5)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute("UPDATE core_auditentry SET actor = 'user:mallory' WHERE seq = 3")
    result = audit.verify()
    assert not result.ok and result.seq == 3 and "篡改" in result.problem
    with pytest.raises(CommandError, match="entry 3"):
        call_command("audit", "verify")


def test_verify_names_a_removed_entry(guards):
    _write(5)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE seq = 2")
    result = audit.verify()
    assert not result.ok and result.seq == 2


def test_verify_notices_reordering_even_with_renumbered_rows(guards):
    _write(4)
    _drop_guards()
    with connection.cursor() as cur:  # swap the content of entries 2 and 3, keeping seq numbers
        cur.execute("UPDATE core_auditentry SET seq = 1000 WHERE seq = 2")
        cur.execute("UPDATE core_auditentry SET seq = 2 WHERE seq = 3")
        cur.execute("UPDATE core_auditentry SET seq = 3 WHERE seq = 1000")
    result = audit.verify()
    assert not result.ok and result.seq == 2


def _run(args, env):
    return subprocess.run([sys.executable, "-m", "yiwang", *args], env=env, capture_output=True, text=True,
                          timeout=240)


@pytest.mark.django_db(transaction=True)
def test_many_processes_appending_at_once_keep_one_linear_chain(tmp_path: Path):
    """Four processes append 25 entries each at the same moment; the chain stays whole."""
    env = {**os.environ}
    if connection.vendor == "postgresql":
        settings_dict = connection.settings_dict
        name = f"yiwang_audit_{uuid.uuid4().hex[:8]}"
        with connection.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        user = settings_dict.get("USER") or "postgres"
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{name}"
    else:
        name = None
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    try:
        assert _run(["migrate", "-v0"], env).returncode == 0
        procs = [subprocess.Popen([sys.executable, "-m", "yiwang", "audit", "append", "25", "--label", f"p{i}"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err
        check = _run(["audit", "verify"], env)
        assert check.returncode == 0, check.stderr
        assert "100" in check.stdout
    finally:
        if name:
            with connection.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
