"""Name-and-alias index and a popularity walk index for bounded search pages.

SQLite: an FTS5 table ``catalog_search_names`` (name and aliases as phrase tokens and characters);
PostgreSQL: ``catalog_search_names`` with two small tsvectors under GIN. Both hold a few tokens
per item, so ranking by name never reads the full document index. On PostgreSQL the document
vectors move out of line (TOAST) so that the rows a GIN scan visits are narrow. The walk index lists the
search rows in result order (popularity, name, id) with the filter columns, so a page in
popularity order stops early without reading table rows; a (theme, entry) index lets a theme's
items be counted from the index alone. The name index is filled from the
existing search rows; the text indexes are merged (SQLite) or analysed (PostgreSQL).
"""

from django.db import migrations

WALK_COLUMNS = "item_type, for_person, for_legal, online_level, organization_id, region_code"
THEME_INDEX = ("CREATE INDEX IF NOT EXISTS catalog_searchentry_themes_theme_entry "
               "ON catalog_searchentry_themes (theme_id, searchentry_id)")


def narrow_document_index(schema_editor, search):
    """PostgreSQL: keep every document vector out of line, so that index rows stay narrow."""
    schema_editor.execute("DROP TABLE IF EXISTS catalog_search_tsv_narrow")
    schema_editor.execute("CREATE TABLE catalog_search_tsv_narrow (item_id bigint PRIMARY KEY, tsv tsvector NOT NULL) "
                          "WITH (toast_tuple_target = 128)")
    schema_editor.execute("ALTER TABLE catalog_search_tsv_narrow ALTER COLUMN tsv SET STORAGE EXTERNAL")
    schema_editor.execute("INSERT INTO catalog_search_tsv_narrow (item_id, tsv) SELECT item_id, "
                          f"{search.padded_tsvector_sql('tsv')} FROM catalog_search_tsv ORDER BY item_id")
    schema_editor.execute("DROP TABLE catalog_search_tsv")
    schema_editor.execute("ALTER TABLE catalog_search_tsv_narrow RENAME TO catalog_search_tsv")
    schema_editor.execute("ALTER INDEX catalog_search_tsv_narrow_pkey RENAME TO catalog_search_tsv_pkey")
    schema_editor.execute("CREATE INDEX catalog_search_tsv_gin ON catalog_search_tsv USING gin (tsv)")


def create(apps, schema_editor):
    from yiwang.catalog import search

    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS catalog_search_names")
        schema_editor.execute(
            "CREATE VIRTUAL TABLE catalog_search_names USING fts5("
            "name_seq, name_chars, alias_seq, alias_chars, tokenize = 'unicode61 remove_diacritics 0')")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS catalog_searchentry_walk ON catalog_searchentry "
            f"(popularity DESC, name, item_id, {WALK_COLUMNS})")
        schema_editor.execute(THEME_INDEX)
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE TABLE IF NOT EXISTS catalog_search_names ("
            "item_id bigint PRIMARY KEY, name_tsv tsvector NOT NULL, alias_tsv tsvector NOT NULL)")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS catalog_searchentry_walk ON catalog_searchentry "
            f"(popularity DESC, name, item_id) INCLUDE ({WALK_COLUMNS})")
        schema_editor.execute(THEME_INDEX)
        narrow_document_index(schema_editor, search)
    else:
        return
    SearchEntry = apps.get_model("catalog", "SearchEntry")
    ids = list(SearchEntry.objects.order_by("item_id").values_list("item_id", flat=True))
    for start in range(0, len(ids), 2000):
        search.write_name_index(ids[start:start + 2000])
    if vendor == "postgresql":  # built after the load, kept without a pending list
        for column in ("name", "alias"):
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS catalog_search_names_{column}_gin "
                                  f"ON catalog_search_names USING gin ({column}_tsv) WITH (fastupdate = off)")
    search.optimize_index()


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor in ("sqlite", "postgresql"):
        schema_editor.execute("DROP TABLE IF EXISTS catalog_search_names")
        schema_editor.execute("DROP INDEX IF EXISTS catalog_searchentry_walk")
        schema_editor.execute("DROP INDEX IF EXISTS catalog_searchentry_themes_theme_entry")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_item_listing_fields")]
    operations = [migrations.RunPython(create, drop)]
