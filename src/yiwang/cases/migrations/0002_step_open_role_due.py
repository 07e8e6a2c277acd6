"""Index for the workbench to-do list: open steps of a role in due-date order.

A window clerk's list can cover a whole city's open cases; with this partial index the list
(and its capped count) reads only that role's open steps, soonest due first. Plain SQL (no model
state), understood by PostgreSQL and SQLite alike.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS step_open_role_due ON cases_casestep (role, due_date) WHERE state = 'open'",
            reverse_sql="DROP INDEX IF EXISTS step_open_role_due",
        ),
    ]
