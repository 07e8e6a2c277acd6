"""The database itself refuses UPDATE and DELETE on the audit trail."""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    from yiwang.core import db_guards

    if getattr(settings, "YIWANG_AUDIT_DB_GUARDS", True):
        db_guards.install(schema_editor.connection)


def backwards(apps, schema_editor):
    from yiwang.core import db_guards

    db_guards.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
