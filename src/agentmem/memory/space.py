"""MemorySpace: the store plus where each kind lives and when it expires.

Every memory module (working, episodic, semantic, skills, sessions) works through one
MemorySpace, so scoping and TTL rules are written once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from agentmem.errors import ConflictError
from agentmem.memory.config import SHARED_KINDS, WORKING, working_namespace
from agentmem.store import Clock, MemoryStore, Record, Ref

__all__ = ["CAS_ATTEMPTS", "MemorySpace"]

log = logging.getLogger("agentmem.memory")

CAS_ATTEMPTS = 1000
"""How often a compare-and-set update is retried before ConflictError reaches the caller.
Each retry means another writer succeeded, so this bounds starvation, not progress."""


_local_locks: weakref.WeakValueDictionary[tuple[int, Ref], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


def local_lock(store: MemoryStore, ref: Ref) -> asyncio.Lock:
    """This process's lock for writes of ``ref`` through ``store`` (see MemorySpace.update)."""
    key = (id(store), ref)
    lock = _local_locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _local_locks[key] = lock
    return lock


@dataclass(frozen=True, slots=True)
class MemorySpace:
    """One agent's view of a store: its id, the shared namespace, TTLs and clock."""

    store: MemoryStore
    agent_id: str
    namespace: str
    ttls: dict[str, timedelta | None]
    clock: Clock

    def namespace_of(self, kind: str) -> str:
        """Working memory is private to the agent; every other kind is shared."""
        if kind == WORKING:
            return working_namespace(self.namespace, self.agent_id)
        assert kind in SHARED_KINDS, kind
        return self.namespace

    def ref(self, kind: str, record_id: str) -> Ref:
        return Ref(kind, self.namespace_of(kind), record_id)

    def expires_at(self, kind: str, now: datetime | None = None) -> datetime | None:
        ttl = self.ttls.get(kind)
        return None if ttl is None else (now or self.clock()) + ttl

    async def update(
        self,
        ref: Ref,
        change: Callable[[Record | None], Record | None],
    ) -> Record | None:
        """Read-modify-write made safe: compare-and-set on the version read, retried.

        ``change`` gets the current record (None if absent) and returns the record to
        write, or None to write nothing. It may run several times: it must be pure.
        Returns what was written (or the unchanged current record).

        Updates of one record from this process queue on a local lock first, so only
        one writer per process takes part in the compare-and-set race: correctness comes
        from the compare-and-set, the lock only keeps conflicts (and retries) rare.
        """
        async with local_lock(self.store, ref):
            return await self._update(ref, change)

    async def _update(
        self,
        ref: Ref,
        change: Callable[[Record | None], Record | None],
    ) -> Record | None:
        for attempt in range(CAS_ATTEMPTS):
            current = await self.store.get(ref)
            new = change(current)
            if new is None:
                return current
            try:
                return await self.store.put(new, expected_version=current.version if current else 0)
            except ConflictError:
                # Another writer won this round; back off with jitter so contenders spread out.
                await asyncio.sleep(random.uniform(0, min(0.02, 0.0005 * 2 ** min(attempt, 6))))
        log.warning("gave up updating %s after %d conflicts", ref, CAS_ATTEMPTS)
        raise ConflictError(f"{ref} kept changing under {CAS_ATTEMPTS} attempts to update it")
