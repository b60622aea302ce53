"""Noticing a primary that came back empty, and remembering what the fallback holds.

The primary carries an epoch marker record (:data:`PRIMARY_EPOCH_REF`), created by the
first failover store that finds none, and one copy of it in every *unit of failure* the
primary reports: a store with a ``refs_per_bucket(kind, namespace, stem)`` method (Redis
Cluster: one bucket per hash slot group, each on one master) gets a marker in each
bucket, so a master restarted empty is noticed even when another master holds the main
marker. Each failover store remembers in its fallback the epoch it last saw. A primary
with a marker missing, or a different one, lost data (a restart without persistence, a
flush, a new server) and must be refilled.

Refilling needs to know which (kind, namespace) collections the fallback holds, because
the store contract lists records per collection only: :class:`FallbackMeta` keeps that
list in the fallback too, updated the first time a collection is written.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Final

from agentmem.errors import ConflictError
from agentmem.store import MemoryStore, Record, Ref

__all__ = [
    "META_KIND",
    "PRIMARY_EPOCH_REF",
    "FallbackMeta",
    "ensure_primary_epoch",
    "epoch_refs",
    "read_epoch",
]

log = logging.getLogger("agentmem.routing")

META_KIND: Final = "agentmem_meta"
PRIMARY_EPOCH_REF: Final = Ref(META_KIND, "agentmem", "epoch")


def epoch_refs(primary: MemoryStore) -> list[Ref]:
    """Where the primary's epoch markers live: the main one, then one per bucket."""
    spread = getattr(primary, "refs_per_bucket", None)
    extra: list[Ref] = list(spread(META_KIND, "agentmem", "epoch")) if callable(spread) else []
    return list(dict.fromkeys([PRIMARY_EPOCH_REF, *extra]))


async def read_epoch(primary: MemoryStore) -> str | None:
    """The epoch every marker holds, or None when one is missing or they disagree."""
    refs = epoch_refs(primary)
    records = await primary.get_many(refs)
    if epoch_refs(primary) != refs:  # a deferred primary opened meanwhile: ask it again
        records = await primary.get_many(epoch_refs(primary))
    epochs = {r.body.get("epoch") if r is not None else None for r in records}
    if len(epochs) != 1:
        return None
    (epoch,) = epochs
    return epoch if isinstance(epoch, str) else None


async def ensure_primary_epoch(primary: MemoryStore) -> tuple[str, bool]:
    """The primary's epoch and whether this call created it (a marker was missing)."""
    for _ in range(10):
        refs = epoch_refs(primary)
        records = await primary.get_many(refs)
        if epoch_refs(primary) != refs:
            continue  # a deferred primary opened meanwhile: it may have more units
        epochs = {r.body.get("epoch") if r is not None else None for r in records}
        if len(epochs) == 1:
            (found,) = epochs
            if isinstance(found, str):
                return found, False
        # Some unit lost its marker (or all did): a new epoch everywhere, so that every
        # agent sees a change and refills what it holds.
        epoch = secrets.token_hex(8)
        try:
            for ref, record in zip(refs, records, strict=True):
                await primary.put(
                    Record(ref=ref, body={"epoch": epoch}),
                    expected_version=0 if record is None else record.version,
                )
        except ConflictError:
            continue  # another agent is renewing it too: read again
        return epoch, True
    raise ConflictError("could not agree on the primary's epoch after 10 attempts")


class FallbackMeta:
    """The failover store's own bookkeeping in the fallback: seen epoch, collections."""

    def __init__(self, fallback: MemoryStore, namespace: str) -> None:
        self._fallback = fallback
        self._seen_ref = Ref(META_KIND, namespace, "primary_epoch")
        self._collections_ref = Ref(META_KIND, namespace, "collections")
        self._collections: set[tuple[str, str]] = set()
        self._note_lock = asyncio.Lock()

    async def seen_epoch(self) -> str | None:
        """The primary epoch this fallback last saw, or None if it never saw one."""
        record = await self._fallback.get(self._seen_ref)
        epoch = record.body.get("epoch") if record else None
        return epoch if isinstance(epoch, str) else None

    async def remember_epoch(self, epoch: str) -> None:
        await self._fallback.put(Record(ref=self._seen_ref, body={"epoch": epoch}))

    async def load_collections(self) -> set[tuple[str, str]]:
        record = await self._fallback.get(self._collections_ref)
        pairs = record.body.get("pairs", []) if record else []
        self._collections = {
            (str(p[0]), str(p[1])) for p in pairs if isinstance(p, list) and len(p) == 2
        }
        return set(self._collections)

    @property
    def collections(self) -> set[tuple[str, str]]:
        return set(self._collections)

    async def note_collections(self, refs: list[Ref]) -> None:
        """Persist any (kind, namespace) not recorded yet, before data is written there."""
        if not {(r.kind, r.namespace) for r in refs} - self._collections:
            return
        # One update at a time in this process: concurrent first writes to a collection
        # would otherwise race each other's compare-and-set on the same record.
        async with self._note_lock:
            new = {(r.kind, r.namespace) for r in refs} - self._collections
            if new:
                await self._note(new)

    async def _note(self, new: set[tuple[str, str]]) -> None:
        for _ in range(10):
            current = await self._fallback.get(self._collections_ref)
            stored = {
                (str(p[0]), str(p[1]))
                for p in (current.body.get("pairs", []) if current else [])
                if isinstance(p, list) and len(p) == 2
            }
            merged = stored | self._collections | new
            try:
                await self._fallback.put(
                    Record(ref=self._collections_ref, body={"pairs": sorted(map(list, merged))}),
                    expected_version=current.version if current else 0,
                )
            except ConflictError:
                continue  # another store sharing this fallback updated it; merge again
            self._collections = merged
            return
        raise ConflictError(f"could not update {self._collections_ref} after 10 attempts")
