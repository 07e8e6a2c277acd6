"""Process-local memos of rows that change rarely and are read on every application.

A submission reads the same item version, its materials, its form, its process and the list of
certificate types each time; loading them is most of a request's database and ORM work. A
:class:`Memo` keeps such values in the worker process:

* per database (the connection's ``NAME``), so a test database never sees another's values;
* for at most ``ttl`` seconds, which bounds how long another process can serve a changed row;
* emptied in this process at once, and again when the transaction commits, whenever a model it
  ``watch``-es is saved or deleted.

Callers that must never be stale validate what they take out (the published item snapshot in
:mod:`yiwang.cases.applying` checks its ids with one small query on every use). Values are shared
by every request of the process: treat them as read-only. docs/cases.md ("How a submission stays
cheap") lists the memos and how stale each may be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

_MEMOS: list[Memo] = []


class Memo:
    def __init__(self, name: str, *, ttl: float, watch: Iterable[str] = (), size: int = 512):
        self.name, self.ttl, self.size = name, ttl, size
        self._values: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._watch = tuple(watch)  # "app_label.ModelName", connected on first use
        self._connected = False
        _MEMOS.append(self)

    def _key(self, key: Hashable) -> tuple:
        return (str(connection.settings_dict.get("NAME")), key)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The value for ``key``, loaded with ``load()`` when missing or older than ``ttl``."""
        if not self._connected:
            self._connect()
        full = self._key(key)
        now = time.monotonic()
        found = self._values.get(full)
        if found is not None and now - found[0] < self.ttl:
            return found[1]
        value = load()
        with self._lock:
            if len(self._values) >= self.size:  # a bound, not an LRU: start afresh
                self._values.clear()
            self._values[full] = (now, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(self._key(key), None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def _changed(self, **kwargs) -> None:
        self.clear()
        if connection.in_atomic_block:  # a reader later in the same transaction may have refilled it
            transaction.on_commit(self.clear)

    def _connect(self) -> None:
        from django.apps import apps

        for label in self._watch:
            model = apps.get_model(label)
            post_save.connect(self._changed, sender=model, weak=False, dispatch_uid=f"memo:{self.name}:{label}:s")
            post_delete.connect(self._changed, sender=model, weak=False, dispatch_uid=f"memo:{self.name}:{label}:d")
        self._connected = True


def clear_all() -> None:
    """Empty every memo of this process (tests start each test with this)."""
    for memo in _MEMOS:
        memo.clear()
