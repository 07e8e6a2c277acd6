"""OpenAPI post-processing: one schema whatever the database.

Django derives integer bounds from the database backend (SQLite has none, PostgreSQL's
smallint stops at 32767), so the raw schema would differ between deployments. Bounds that
merely echo a column type are removed; bounds we set on purpose (validators) stay.
"""

from __future__ import annotations

_DB_MAXIMA = {32767, 2147483647, 9223372036854775807}
_DB_MINIMA = {-32768, -2147483648, -9223372036854775808}


def _clean(node):
    if isinstance(node, dict):
        if node.get("maximum") in _DB_MAXIMA:
            node.pop("maximum")
            if node.get("format") == "int64":
                node.pop("format")
        if node.get("minimum") in _DB_MINIMA:
            node.pop("minimum")
        for value in node.values():
            _clean(value)
    elif isinstance(node, list):
        for value in node:
            _clean(value)


def database_neutral_bounds(result, generator, request, public):
    _clean(result)
    return result
