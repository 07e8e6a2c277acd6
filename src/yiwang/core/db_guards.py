"""Database-level guards that make the audit trail append-only.

Installed by migration in every real deployment. In production, also run the application
with a database role that lacks TRUNCATE on ``core_auditentry`` (see docs/deployment.md).
"""

from __future__ import annotations

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit trail is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS core_auditentry_no_change ON core_auditentry",
    """CREATE TRIGGER core_auditentry_no_change BEFORE UPDATE OR DELETE ON core_auditentry
       FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()""",
]


def install(connection) -> None:
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(connection.vendor, [])
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def uninstall(connection) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
            cur.execute("DROP TRIGGER IF EXISTS core_auditentry_no_delete")
        elif connection.vendor == "postgresql":
            cur.execute("DROP TRIGGER IF EXISTS core_auditentry_no_change ON core_auditentry")
