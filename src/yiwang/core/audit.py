"""The audit trail: an append-only, hash-chained log of every write.

Services call :func:`record` inside their transaction. Appends are serialised (an advisory
lock on PostgreSQL; IMMEDIATE transactions on SQLite) so the chain stays linear when many
processes write at once; the unique ``seq`` and ``prev_hash`` columns make a fork impossible
to commit. :func:`verify` walks the chain and names the first entry that does not fit.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from yiwang.core.models import AuditEntry

GENESIS = "0" * 64
_ADVISORY_LOCK_KEY = 0x59495741  # "YIWA"

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("audit_actor", default="system")
_on_behalf_of: contextvars.ContextVar[str] = contextvars.ContextVar("audit_on_behalf_of", default="")


@contextlib.contextmanager
def acting_as(actor: str, on_behalf_of: str = "") -> Iterator[None]:
    """Attribute every audit entry written inside the block to ``actor``."""
    token = _actor.set(actor)
    token2 = _on_behalf_of.set(on_behalf_of)
    try:
        yield
    finally:
        _actor.reset(token)
        _on_behalf_of.reset(token2)


def actor_name(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return f"user:{user.get_username()}"


def digest(value: Any) -> str:
    """SHA-256 of a canonical JSON rendering; empty for None."""
    if value is None:
        return ""
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "created_at": entry.created_at.astimezone(dt.timezone.utc).isoformat(),
        "actor": entry.actor,
        "on_behalf_of": entry.on_behalf_of,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before_digest,
        "after": entry.after_digest,
        "detail": entry.detail,
        "prev": entry.prev_hash,
    }


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    # SQLite: the surrounding transaction began IMMEDIATE and already holds the write lock.


def record(action: str, object_type: str, object_id: Any, *, before: Any = None, after: Any = None,
           detail: dict | None = None, actor: str | None = None) -> AuditEntry:
    """Append one entry. Joins the caller's transaction, so the entry and the change commit together
    (no savepoint of its own: a failure here fails the caller's whole change)."""
    with transaction.atomic(savepoint=False):
        _lock_chain()
        table = connection.ops.quote_name(AuditEntry._meta.db_table)
        with connection.cursor() as cur:  # the chain's head (plain SQL: every audited write asks)
            cur.execute(f"SELECT seq, entry_hash FROM {table} ORDER BY seq DESC LIMIT 1")
            last = cur.fetchone()
        entry = AuditEntry(
            seq=(last[0] + 1) if last else 1,
            created_at=timezone.now(),
            actor=(actor or _actor.get())[:150],
            on_behalf_of=_on_behalf_of.get()[:150],
            action=action[:60],
            object_type=object_type[:60],
            object_id=str(object_id)[:64],
            before_digest=digest(before),
            after_digest=digest(after),
            detail=json.loads(canonical(detail or {})),
            prev_hash=last[1] if last else GENESIS,
        )
        entry.entry_hash = _entry_hash(_hashed_fields(entry))
        entry.save(force_insert=True)
        return entry


@dataclasses.dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None
    head: str = GENESIS


def verify(batch: int = 5000) -> VerifyResult:
    """Walk the whole chain in order; report the first entry altered, removed or reordered."""
    expected_seq, prev, checked = 1, GENESIS, 0
    last_seq = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return VerifyResult(False, checked, f"第 {expected_seq} 条缺失或顺序被打乱 / entry {expected_seq} "
                                    f"is missing or out of order (found {entry.seq})", expected_seq)
            if entry.prev_hash != prev:
                return VerifyResult(False, checked, f"第 {entry.seq} 条与前一条不衔接（被删除或重排）/ entry "
                                    f"{entry.seq} does not follow its predecessor (removed or reordered)", entry.seq)
            if _entry_hash(_hashed_fields(entry)) != entry.entry_hash:
                return VerifyResult(False, checked, f"第 {entry.seq} 条内容被篡改 / entry {entry.seq} was altered",
                                    entry.seq)
            prev, expected_seq, checked = entry.entry_hash, expected_seq + 1, checked + 1
        last_seq = rows[-1].seq
    return VerifyResult(True, checked, head=prev)
