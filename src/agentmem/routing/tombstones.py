"""Tombstones: a delete remembered with its version, so a refill never resurrects.

A failover store's fallback holds a copy of every record its agent wrote. When another
agent deletes one and the primary later comes back empty, that copy would be refilled:
the delete is undone. So every delete made through a failover store leaves a tombstone,
a record of the reserved kind :data:`TOMB_KIND` in the same namespace whose *version*
is the version deleted and whose ``updated_at`` is when, in the primary and in the
fallback. A record is dead when a tombstone covers it: its version is at or below the
tombstone's and it was last written no later than the delete (a record re-created after
the delete starts again at v1 but is newer, so it lives). Refill skips dead records and
first restores its tombstones into the primary, deleting what they cover there, so the
result is the same whichever agent refills first.

Tombstones expire: with the deleted record's own expiry when it had one (past it, scan
would not list the stale copy anyway), else after ``ttl``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from agentmem.errors import ConflictError
from agentmem.store import MAX_ID_LENGTH, MemoryStore, Record, Ref

if TYPE_CHECKING:
    from agentmem.routing.replay import PrimaryCaller as Caller

__all__ = [
    "DEFAULT_TOMBSTONE_TTL",
    "TOMB_KIND",
    "dead",
    "live_only",
    "restore_tombstones",
    "tomb_ref",
    "tombstone",
    "tombstones_of",
]

log = logging.getLogger("agentmem.routing")

TOMB_KIND: Final = "agentmem_tomb"
DEFAULT_TOMBSTONE_TTL: Final = timedelta(days=7)
_PAGE: Final = 500


def tomb_ref(ref: Ref) -> Ref:
    """Where the tombstone of ``ref`` lives (same namespace, kind folded into the id)."""
    key = f"{ref.kind}:{ref.id}"
    if len(key) > MAX_ID_LENGTH:
        key = f"{ref.kind}:#{hashlib.sha256(ref.id.encode()).hexdigest()}"
    return Ref(TOMB_KIND, ref.namespace, key)


def tombstone(deleted: Record, at: datetime, ttl: timedelta) -> Record:
    """The tombstone of ``deleted``: its ref, at its version."""
    expires = deleted.expires_at if deleted.expires_at is not None else at + ttl
    return Record(
        ref=tomb_ref(deleted.ref),
        body={"kind": deleted.ref.kind, "id": deleted.ref.id},
        version=deleted.version,
        created_at=at,
        updated_at=at,
        expires_at=max(expires, at + timedelta(seconds=1)),
    )


async def tombstones_of(store: MemoryStore, refs: Sequence[Ref]) -> dict[Ref, Record]:
    """The tombstone of each ref that has one in ``store``."""
    if not refs:
        return {}
    found = await store.get_many([tomb_ref(r) for r in refs])
    return {ref: tomb for ref, tomb in zip(refs, found, strict=True) if tomb is not None}


def dead(record: Record, tomb: Record | None) -> bool:
    """True when ``tomb`` covers ``record`` (same or older version, written no later)."""
    if tomb is None or record.version > tomb.version:
        return False
    written, deleted = record.updated_at, tomb.updated_at
    return written is None or deleted is None or written <= deleted


def live_only(records: Sequence[Record], tombs: dict[Ref, Record], what: str) -> list[Record]:
    """``records`` without those a tombstone covers (each logged at INFO)."""
    kept = []
    for record in records:
        tomb = tombs.get(record.ref)
        if tomb is not None and dead(record, tomb):
            log.info(
                "not %s %s v%d: it was deleted at v%d (%s)",
                what,
                record.ref,
                record.version,
                tomb.version,
                tomb.updated_at,
            )
        else:
            kept.append(record)
    return kept


async def restore_tombstones(namespace: str, *, fallback: MemoryStore, primary: Caller) -> int:
    """Copy the fallback's tombstones of ``namespace`` into the primary, and delete what
    they cover there. Returns how many primary records were deleted."""
    deleted = 0
    cursor: str | None = None
    while True:
        page = await fallback.scan(TOMB_KIND, namespace, limit=_PAGE, cursor=cursor)
        if page.records:
            deleted += await _restore_page(page.records, namespace, primary)
        if page.cursor is None:
            return deleted
        cursor = page.cursor


async def _restore_page(tombs: list[Record], namespace: str, primary: Caller) -> int:
    await primary(lambda p: p.import_many(tombs))
    refs = [Ref(str(t.body["kind"]), namespace, str(t.body["id"])) for t in tombs]
    held = await primary(lambda p: p.get_many(refs))
    deleted = 0
    for tomb, record in zip(tombs, held, strict=True):
        if record is not None and dead(record, tomb):
            deleted += await _delete_covered(record, tomb, primary)
    return deleted


async def _delete_covered(record: Record, tomb: Record, primary: Caller) -> int:
    try:
        await primary(lambda p: p.delete(record.ref, expected_version=record.version))
    except ConflictError:
        return 0  # written again meanwhile: that write is newer than the delete
    log.info(
        "deleted %s v%d from the primary again: it was deleted at v%d",
        record.ref,
        record.version,
        tomb.version,
    )
    return 1
