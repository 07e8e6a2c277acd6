"""The token index behind catalog search: FTS5 on SQLite, GIN over the token array on PostgreSQL."""

from django.db import migrations


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS catalog_search_fts USING fts5("
            "tokens, tokenize = 'unicode61 remove_diacritics 0', detail = none)")
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS catalog_searchentry_tokens_gin ON catalog_searchentry "
            "USING gin (string_to_array(tokens, ' '))")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS catalog_search_fts")
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_searchentry_tokens_gin")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
