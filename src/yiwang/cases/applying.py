"""The item an application is made on: read once per worker process, checked on every use.

The apply page, the 核对信息 page and every submission need the item, its organisation and region,
its published version with the material list and form, and the process new cases start on. A
published version never changes and stored process definitions are keyed by their XML's SHA-256,
so the snapshot is kept in a :class:`~yiwang.core.memo.Memo`; one small query on every use compares
the item's state, published version and process binding with the snapshot, so a publication, a
retirement or a new process takes effect on the next request in every process. Only the names of
the organisation and region may be up to the memo's ``ttl`` old in another process.

The snapshot is shared by the requests of the process: read it, never change or save it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import prefetch_related_objects

from yiwang.catalog.models import ServiceItem
from yiwang.core.memo import Memo

ITEMS = Memo("cases.published_items", ttl=60, size=512, watch=(
    "catalog.ServiceItem", "catalog.ItemVersion", "catalog.Material", "core.Organization", "core.Region",
    "applications.ItemForm", "cases.ItemProcess", "cases.ProcessDefinition"))

_CHECK = ("SELECT i.id, i.state, i.published_version_id, p.definition_id FROM catalog_serviceitem i "
          "LEFT JOIN cases_itemprocess p ON p.item_id = i.id WHERE i.implementation_code = %s")


def _current(code: str) -> tuple | None:
    with connection.cursor() as cur:
        cur.execute(_CHECK, [code])
        row = cur.fetchone()
    if row is None or row[1] != ServiceItem.State.ACTIVE or row[2] is None:
        return None
    return row[0], row[2], row[3]


def _load(code: str, current: tuple) -> ServiceItem | None:
    """The snapshot, labelled with the check row read before it: a change committed in between
    makes the label older than the rows, and the next check loads again."""
    from yiwang.cases.services import process_for

    item = (ServiceItem.objects.select_related("published_version", "organization", "region")
            .filter(implementation_code=code, state=ServiceItem.State.ACTIVE).order_by()[:1])
    item = next(iter(item), None)
    if item is None or item.published_version is None:
        return None
    prefetch_related_objects([item.published_version], "materials")
    item._process = process_for(item)
    item._snapshot = current
    return item


def published_item(code: str) -> ServiceItem | None:
    """The active item with this implementation code and its published version, or None."""
    current = _current(code)
    if current is None:
        return None
    item = ITEMS.get(code, lambda: _load(code, current))
    if item is not None and item._snapshot == current:
        return item
    ITEMS.forget(code)  # published, retired or re-bound since: load afresh
    return ITEMS.get(code, lambda: _load(code, current))
