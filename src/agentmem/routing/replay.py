"""Carrying the fallback's writes into the primary: outbox replay and refill.

Both use :meth:`~agentmem.store.MemoryStore.import_many`, which keeps the versions the
fallback assigned and skips any record whose primary copy is already at an equal or
newer version. That is the conflict rule: **the higher version wins; on a tie the copy
already in the primary stays**. A replayed write that loses is never dropped silently:
it is logged at WARNING with its ref, version and time, and its copy stays in the
fallback. A replayed write that overwrites a primary copy changed during the outage is
logged too, naming the overwritten version.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from agentmem.errors import ConflictError, InvalidInput
from agentmem.increments import Increment
from agentmem.routing.health import same_content
from agentmem.routing.outbox import OutboxEntry
from agentmem.routing.tombstones import (
    DEFAULT_TOMBSTONE_TTL,
    live_only,
    restore_tombstones,
    tombstone,
    tombstones_of,
)
from agentmem.store import MemoryStore, Record, Ref

if TYPE_CHECKING:
    from agentmem.routing.conflicts import ConflictLedger

__all__ = ["PrimaryCaller", "import_resolving", "refill", "replay_entries"]

log = logging.getLogger("agentmem.routing")

T = TypeVar("T")
_PAGE: Final = 500


class PrimaryCaller(Protocol):
    """Runs one operation against the primary, under the failover store's timeout."""

    async def __call__(self, op: Callable[[MemoryStore], Awaitable[T]]) -> T: ...


def _body_preview(record: Record) -> str:
    text = repr(record.body)
    return text if len(text) <= 200 else text[:197] + "..."


async def replay_entries(
    entries: Sequence[OutboxEntry],
    *,
    primary: PrimaryCaller,
    fallback: MemoryStore,
    reported: set[tuple[Ref, int]],
    ledger: ConflictLedger | None = None,
    incremented: set[Ref] | None = None,
    forget: Callable[[Sequence[str]], Awaitable[None]] | None = None,
) -> int:
    """Replay journalled operations in order; return how many writes lost a conflict.

    ``reported`` holds the (ref, version) of losers already logged in this recovery.
    Puts of records with compare-and-set writes go to ``ledger`` (which reports their
    conflicts itself); increments are sent as deltas and their refs added to
    ``incremented``; each replayed increment is passed to ``forget`` (to leave the
    journal) at once, so a round cut short by an outage does not send it again: its op
    id would catch a repeat, but only within the store's op-id memory.
    """
    lost = 0
    for op, group in groupby(entries, key=lambda e: e.op):
        batch = list(group)
        if op == "put":
            checked: set[Ref] = set()
            if ledger is not None:
                checked = {e.ref for e in batch if e.expected is not None or ledger.decided(e.ref)}
                if checked:
                    await ledger.replay(
                        [e for e in batch if e.ref in checked], primary=primary, fallback=fallback
                    )
            plain = [e for e in batch if e.ref not in checked]
            if plain:
                lost += await _replay_puts(
                    plain, primary=primary, fallback=fallback, reported=reported
                )
        elif op == "increment":
            for entry in batch:
                lost += await _replay_increment(entry, primary=primary)
                if incremented is not None:
                    incremented.add(entry.ref)
                if forget is not None:
                    await forget([entry.entry_id])
        else:
            for entry in batch:
                kept = await _replay_delete(entry, primary=primary)
                if kept is None:
                    continue
                if ledger is not None and entry.expected is not None:
                    # A compare-and-set delete that is not carried: a conflict to report.
                    await ledger.report_delete(entry, kept)
                else:
                    lost += 1
    return lost


async def _replay_puts(
    entries: Sequence[OutboxEntry],
    *,
    primary: PrimaryCaller,
    fallback: MemoryStore,
    reported: set[tuple[Ref, int]],
) -> int:
    first_at: dict[Ref, datetime] = {}
    for entry in entries:
        first_at.setdefault(entry.ref, entry.at)
    # The fallback's current copy is the newest state this agent made; a ref whose copy
    # is gone (expired, or deleted later: a delete entry follows) has nothing to carry.
    ours = [r for r in await fallback.get_many(list(first_at)) if r is not None]
    # A copy older than a delete another agent made (its tombstone) must not come back.
    refs = [r.ref for r in ours]
    ours = live_only(ours, await primary(lambda p: tombstones_of(p, refs)), "replaying")
    return await import_resolving(
        ours, primary=primary, what="replayed", first_at=first_at, reported=reported
    )


async def import_resolving(
    ours: Sequence[Record],
    *,
    primary: PrimaryCaller,
    what: str,
    first_at: Mapping[Ref, datetime] | None,
    reported: set[tuple[Ref, int]],
) -> int:
    """Import ``ours`` into the primary; log (once) every write that loses; count them.

    ``first_at`` is when this agent first wrote each ref during the outage: a primary copy
    updated later was written concurrently by another agent. Without it (refill), any
    primary copy with other data that ours replaces is another agent's write.
    """
    if not ours:
        return 0
    theirs = await primary(lambda p: p.get_many([r.ref for r in ours]))
    await primary(lambda p: p.import_many(ours))
    lost = 0
    for mine, before in zip(ours, theirs, strict=True):
        if before is None or same_content(before, mine):
            continue
        if before.version < mine.version:
            concurrent = first_at is None or (
                before.updated_at is not None and before.updated_at > first_at[mine.ref]
            )
            if not concurrent or (before.ref, before.version) in reported:
                continue
            reported.add((before.ref, before.version))
            lost += 1
            log.warning(
                "write lost: %s v%d (updated %s) in the primary was overwritten by this "
                "agent's %s v%d (written %s): the higher version wins; the lost body: %s",
                before.ref,
                before.version,
                before.updated_at,
                what,
                mine.version,
                mine.updated_at,
                _body_preview(before),
            )
        else:
            if (mine.ref, mine.version) in reported:
                continue
            reported.add((mine.ref, mine.version))
            lost += 1
            log.warning(
                "write lost: this agent's %s %s v%d (written %s) lost to v%d (updated %s) "
                "already in the primary (equal or higher version wins); the losing copy "
                "stays in the fallback; the lost body: %s",
                what,
                mine.ref,
                mine.version,
                mine.updated_at,
                before.version,
                before.updated_at,
                _body_preview(mine),
            )
    return lost


async def _replay_increment(entry: OutboxEntry, *, primary: PrimaryCaller) -> int:
    """Send the journalled delta (with its op id, so a repeat is not applied twice)."""
    assert entry.delta is not None
    delta = Increment.from_body(entry.delta)
    try:
        await primary(
            lambda p: p.increment(
                entry.ref,
                add=delta.add,
                append=delta.append,
                maximum=delta.maximum,
                ttl=delta.ttl,
                op_id=delta.op_id,
            )
        )
    except InvalidInput as exc:
        # The primary's copy no longer fits the delta (a put changed a field's type).
        log.error(
            "replayed increment lost: %s (op %s, made %s) no longer applies to the primary's "
            "copy: %s; the delta: %s",
            entry.ref,
            delta.op_id,
            entry.at,
            exc,
            entry.delta,
        )
        return 1
    return 0


async def _bury(entry: OutboxEntry, before: Record | None, primary: PrimaryCaller) -> None:
    """Leave the replayed delete's tombstone in the primary (see tombstones.py)."""
    version = max(entry.version, before.version if before else 0)
    if version < 1:
        return  # nothing known was deleted: no version to bury
    gone = Record(ref=entry.ref, version=version, expires_at=before.expires_at if before else None)
    tomb = tombstone(gone, entry.at, DEFAULT_TOMBSTONE_TTL)
    await primary(lambda p: p.import_many([tomb]))


async def _replay_delete(entry: OutboxEntry, *, primary: PrimaryCaller) -> Record | None:
    """Carry a delete; return the primary's copy when a newer write keeps it (else None)."""
    ref = entry.ref
    before = await primary(lambda p: p.get(ref))
    if before is None:
        await _bury(entry, None, primary)
        return None
    newer = (
        before.version > entry.version
        if entry.version
        # The fallback did not hold the record, so its version is unknown: compare times.
        else before.updated_at is not None and before.updated_at > entry.at
    )
    if not newer:
        try:
            await primary(lambda p: p.delete(ref, expected_version=before.version))
            await _bury(entry, before, primary)
            return None
        except ConflictError:
            pass  # changed between our read and the delete: that write is newer
    log.warning(
        "replayed delete lost: %s (deleted at v%d, %s, during the outage) is at v%d in the "
        "primary (updated %s), a newer write; it stays",
        ref,
        entry.version,
        entry.at,
        before.version,
        before.updated_at,
    )
    return before


async def _refill_page(
    records: list[Record], *, primary: PrimaryCaller, reported: set[tuple[Ref, int]]
) -> int:
    refs = [r.ref for r in records]
    tombs = await primary(lambda p: tombstones_of(p, refs))
    return await import_resolving(
        live_only(records, tombs, "refilling"),
        primary=primary,
        what="refilled",
        first_at=None,
        reported=reported,
    )


async def refill(
    collections: Iterable[tuple[str, str]],
    *,
    primary: PrimaryCaller,
    fallback: MemoryStore,
    reported: set[tuple[Ref, int]],
) -> int:
    """Copy every live record of the given collections from the fallback into the primary.

    Records past their TTL are not listed by scan, so they stay gone. A primary copy at an
    equal or newer version is kept; either way a write that loses is logged. Returns how
    many writes lost.
    """
    lost = 0
    pairs = sorted(collections)
    # Deletes first, so no agent's refill brings back what another deleted (tombstones.py).
    for namespace in sorted({ns for _, ns in pairs}):
        await restore_tombstones(namespace, fallback=fallback, primary=primary)
    for kind, namespace in pairs:
        cursor: str | None = None
        while True:
            page = await fallback.scan(kind, namespace, limit=_PAGE, cursor=cursor)
            lost += await _refill_page(page.records, primary=primary, reported=reported)
            if page.cursor is None:
                break
            cursor = page.cursor
    return lost
