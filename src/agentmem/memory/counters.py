"""Exact counters for memories: one commutative increment per count, never a lost update.

Skill statistics, access counts and knowledge feedback are deltas (one more run, one more
access), so they are written with :meth:`~agentmem.store.MemoryStore.increment`: no
version race between agents, and a failover store replays them after an outage as the
same deltas, so every acknowledged count arrives. Stores that do not claim the
``increment`` capability get the same delta through a compare-and-set update.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from agentmem.increments import make_increment
from agentmem.memory.space import MemorySpace, local_lock
from agentmem.store import Record, Ref

__all__ = ["bump"]


async def bump(
    space: MemorySpace,
    ref: Ref,
    *,
    add: Mapping[str, int | float] | None = None,
    maximum: Mapping[str, Any] | None = None,
    ttl: timedelta | None = None,
    count_unseen: bool = False,
) -> Record | None:
    """Apply a delta to the existing record at ``ref``; None (nothing written) if absent.

    The existence check comes first because an increment creates a missing record, and a
    counter must not resurrect a memory that is gone. With ``count_unseen``, while a
    failover store is degraded the check is not trusted (see below) and the returned
    record may be this agent's partial local view.
    """
    store = space.store
    if await store.get(ref) is None and not (
        count_unseen and not getattr(store, "available", True)
    ):
        return None
    # With ``count_unseen``: a failover store answering from its fallback may simply not
    # hold a record that only other agents wrote. Take the count anyway (journalled as a
    # delta, it reaches the shared record when the primary is back) rather than refuse it.
    if store.capabilities.increment:
        # Queue this process's increments of one record here, outside any store call
        # timeout: a store that retries a version check (Redis) then races only other
        # processes, never its own hundreds of concurrent callers.
        async with local_lock(store, ref):
            return await store.increment(ref, add=add, maximum=maximum, ttl=ttl)
    delta = make_increment(add=add, maximum=maximum, ttl=ttl)

    def change(current: Record | None) -> Record | None:
        return None if current is None else delta.apply(ref, current, space.clock())

    return await space.update(ref, change)
