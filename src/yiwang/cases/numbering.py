"""办件编号 and 文号: numbers that stay unique with any number of processes writing at once.

Case number (docs/cases.md): the item's 31-character implementation code, the local date of
submission as yyyyMMdd, and a daily sequence per item of at least four digits — 43 characters
(GB/T 39046 allows up to 50; a 10,000th case of one item in one day widens the sequence).
The sequence comes from one atomic upsert on a counter row, so two submissions can never draw
the same number, on SQLite or PostgreSQL, in one process or many.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.utils import timezone

CASE_NUMBER_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}[0-9][0-9A-Z]{12}\d{8}\d{4,11}$")


def next_value(table: str, key_columns: tuple[str, ...], key_values: tuple) -> int:
    """Increment and return the counter row for the key, creating it at 1."""
    cols = ", ".join(key_columns)
    marks = ", ".join(["%s"] * len(key_values))
    sql = (f"INSERT INTO {table} ({cols}, last) VALUES ({marks}, 1) "
           f"ON CONFLICT ({cols}) DO UPDATE SET last = {table}.last + 1 RETURNING last")
    with connection.cursor() as cur:
        cur.execute(sql, list(key_values))
        return int(cur.fetchone()[0])


def local_day(when: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(when or timezone.now()).date()


def next_case_number(implementation_code: str, when: dt.datetime | None = None) -> str:
    """Allocate the next case number of an item for the local day of ``when``."""
    day = local_day(when).strftime("%Y%m%d")
    seq = next_value("cases_casenumbercounter", ("implementation_code", "day"), (implementation_code, day))
    return f"{implementation_code}{day}{seq:04d}"


def next_bundle_number(when: dt.datetime | None = None) -> str:
    """一件事编号: YJS + yyyyMMdd + a daily sequence of at least five digits."""
    day = local_day(when).strftime("%Y%m%d")
    seq = next_value("cases_casenumbercounter", ("implementation_code", "day"), ("bundle", day))
    return f"YJS{day}{seq:05d}"


def is_case_number(value: str) -> bool:
    return bool(CASE_NUMBER_RE.match(value or ""))


def next_document_number(organization, kind_word: str, kind: str, when: dt.datetime | None = None) -> str:
    """文号 like 临江市场监管受字〔2026〕第0012号: per organisation, document kind and year."""
    year = local_day(when).year
    seq = next_value("cases_documentcounter", ("organization_id", "kind", "year"), (organization.pk, kind, year))
    prefix = organization.short_name or organization.name
    return f"{prefix}{kind_word}〔{year}〕第{seq:04d}号"
