"""Access bookkeeping (``last_accessed``, ``access_count``) for explicitly fetched memories.

A read that counts an access costs the read (``get``) and a share of one increment:
concurrent reads of one record in this process join a batch, and the batch is written as
a single :meth:`~agentmem.store.MemoryStore.increment` (``access_count + n``,
``last_accessed = max``) while the previous batch's increment is still in flight (group
commit). Every caller waits for the increment that carries its access, so a count is
never dropped silently: a failed increment raises in every read it carried.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from agentmem.memory.counters import bump
from agentmem.memory.space import MemorySpace, local_lock
from agentmem.store import MemoryStore, Record, Ref

__all__ = ["touch"]

log = logging.getLogger("agentmem.memory.access")


@dataclass(slots=True)
class _Batch:
    last: datetime
    done: asyncio.Future[Record]
    count: int = 0


_pending: dict[tuple[int, Ref], _Batch] = {}
"""Batches not yet written, per (store, record)."""
_flushing: set[asyncio.Task[None]] = set()


async def touch(space: MemorySpace, ref: Ref) -> Record | None:
    """Count one access of the record at ``ref``; the record as of that count, or None
    (nothing written) if it does not exist.

    Only explicit fetches (``get_episode``, ``get_skill``) count; searches do not write.
    """
    store = space.store
    if not store.capabilities.increment:
        return await bump(
            space, ref, add={"access_count": 1}, maximum={"last_accessed": space.clock()}
        )
    # An increment creates a missing record: a count must not resurrect a deleted memory.
    if await store.get(ref) is None:
        return None
    now = space.clock()
    key = (id(store), ref)
    batch = _pending.get(key)
    if batch is None:
        batch = _Batch(last=now, done=asyncio.get_running_loop().create_future())
        _pending[key] = batch
        task = asyncio.create_task(_flush(store, ref, key, batch), name=f"agentmem access {ref}")
        _flushing.add(task)
        task.add_done_callback(_flushing.discard)
    batch.count += 1
    batch.last = max(batch.last, now)
    # Shielded: a cancelled reader does not cancel the write that carries the others.
    return await asyncio.shield(batch.done)


async def _flush(store: MemoryStore, ref: Ref, key: tuple[int, Ref], batch: _Batch) -> None:
    try:
        # Wait for the previous batch's increment; readers arriving meanwhile join this one.
        async with local_lock(store, ref):
            if _pending.get(key) is batch:
                del _pending[key]
            record = await store.increment(
                ref, add={"access_count": batch.count}, maximum={"last_accessed": batch.last}
            )
    except asyncio.CancelledError:
        _forget(key, batch)
        log.warning("counting %d access(es) of %s was cancelled", batch.count, ref)
        batch.done.cancel()
        raise
    except Exception as exc:
        _forget(key, batch)
        log.warning("counting %d access(es) of %s failed: %r", batch.count, ref, exc)
        batch.done.set_exception(exc)
        batch.done.exception()  # raised in every waiting read; retrieved here if none waits
        return
    batch.done.set_result(record)


def _forget(key: tuple[int, Ref], batch: _Batch) -> None:
    if _pending.get(key) is batch:
        del _pending[key]
