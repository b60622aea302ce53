"""TieredStore: a fast shared store in front of a durable one (the seed's dual storage).

- Writes go to the durable store first, which assigns the version (it is the source of
  truth), then to the fast store with that same version (``import_many``).
- Reads try the fast store; on a miss they read the durable store and copy what they
  found back into the fast one (backfill).
- search, scan, count and watch use the fast store: that is where the data all agents
  share lives.

It composes any two stores and adds no resilience of its own: an outage of either store
reaches the caller. Wrap a store in :class:`~agentmem.routing.FailoverStore` for that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from agentmem.base import StoreBase
from agentmem.changes import ChangeStream
from agentmem.routing.health import same_content
from agentmem.routing.urls import tiered_url
from agentmem.store import Capabilities, Hit, MemoryStore, Page, Record, Ref

__all__ = ["TieredStore"]

log = logging.getLogger("agentmem.routing")


class TieredStore(StoreBase):
    """Write-through ``durable`` then ``fast``; read ``fast`` then ``durable`` with backfill.

    >>> import asyncio
    >>> from agentmem.inmemory import InMemoryStore
    >>> async def demo():
    ...     fast, durable = InMemoryStore(), InMemoryStore()
    ...     async with TieredStore(fast, durable) as store:
    ...         rec = await store.put(Record(ref=Ref("skill", "ns", "a"), text="deploy"))
    ...         return (await fast.get(rec.ref)).version, (await durable.get(rec.ref)).version
    >>> asyncio.run(demo())
    (1, 1)
    """

    def __init__(
        self,
        fast: MemoryStore,
        durable: MemoryStore,
        *,
        owns_stores: bool = True,
        origin: str | None = None,
    ) -> None:
        super().__init__(origin=origin or durable.origin)
        self._fast = fast
        self._durable = durable
        self._owns_stores = owns_stores

    @property
    def fast(self) -> MemoryStore:
        return self._fast

    @property
    def durable(self) -> MemoryStore:
        return self._durable

    @property
    def url(self) -> str:
        return tiered_url(self._fast.url, self._durable.url)

    @property
    def capabilities(self) -> Capabilities:
        f, d = self._fast.capabilities, self._durable.capabilities
        return Capabilities(
            search=f.search,
            watch=f.watch,
            ttl=f.ttl and d.ttl,
            compare_and_set=d.compare_and_set,
            cross_process=f.cross_process,
            durable=d.durable,
            increment=d.increment and f.increment,
            vector_search=f.vector_search,
        )

    async def _copy_to_fast(self, records: Sequence[Record]) -> None:
        """Give the fast store the durable store's records, versions kept."""
        if not records:
            return
        written = await self._fast.import_many(records)
        if written == len(records):
            return
        latest = {r.ref: r for r in records}
        held = await self._fast.get_many(list(latest))
        for mine, theirs in zip(latest.values(), held, strict=True):
            if theirs is not None and not same_content(mine, theirs):
                # The fast store already holds an equal or newer version with other data
                # (written through another durable store): the higher version stays there.
                log.warning(
                    "tiered write of %s v%d kept in %s only: %s holds v%d with other data",
                    mine.ref,
                    mine.version,
                    self._durable.url,
                    self._fast.url,
                    theirs.version,
                )

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        self._check_open()
        stored = await self._durable.put(record, expected_version=expected_version)
        await self._copy_to_fast([stored])
        return stored

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        self._check_open()
        stored = await self._durable.put_many(records)
        await self._copy_to_fast(stored)
        return stored

    async def increment(
        self,
        ref: Ref,
        *,
        add: Mapping[str, int | float] | None = None,
        append: Mapping[str, Sequence[Any]] | None = None,
        maximum: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
        op_id: str | None = None,
    ) -> Record:
        """Applied by the durable store (the source of truth), then copied to the fast one."""
        self._check_open()
        stored = await self._durable.increment(
            ref, add=add, append=append, maximum=maximum, ttl=ttl, op_id=op_id
        )
        await self._copy_to_fast([stored])
        return stored

    async def import_many(self, records: Sequence[Record]) -> int:
        self._check_open()
        written = await self._durable.import_many(records)
        await self._fast.import_many(records)
        return written

    async def get(self, ref: Ref) -> Record | None:
        self._check_open()
        record = await self._fast.get(ref)
        if record is not None:
            return record
        record = await self._durable.get(ref)
        if record is not None:
            await self._fast.import_many([record])
        return record

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        self._check_open()
        found = await self._fast.get_many(refs)
        missing = [i for i, record in enumerate(found) if record is None]
        if not missing:
            return found
        backfill = await self._durable.get_many([refs[i] for i in missing])
        for i, record in zip(missing, backfill, strict=True):
            found[i] = record
        await self._fast.import_many([r for r in backfill if r is not None])
        return found

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        self._check_open()
        removed = await self._durable.delete(ref, expected_version=expected_version)
        removed_fast = await self._fast.delete(ref)
        return removed or removed_fast

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        self._check_open()
        removed = await self._durable.delete_many(refs)
        removed_fast = await self._fast.delete_many(refs)
        return max(removed, removed_fast)

    async def count(self, kind: str, namespace: str) -> int:
        self._check_open()
        return await self._fast.count(kind, namespace)

    async def scan(
        self,
        kind: str,
        namespace: str,
        *,
        tags: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        self._check_open()
        return await self._fast.scan(
            kind, namespace, tags=tags, since=since, until=until, limit=limit, cursor=cursor
        )

    async def search(
        self,
        kind: str,
        namespace: str,
        text: str,
        *,
        limit: int = 10,
        tags: Iterable[str] | None = None,
    ) -> list[Hit]:
        self._check_open()
        return await self._fast.search(kind, namespace, text, limit=limit, tags=tags)

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Vector search on the fast tier, like :meth:`search`."""
        self._check_open()
        return await self._fast.nearest(
            vector, kind=kind, namespace=namespace, tags=tags, limit=limit
        )

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        self._check_open()
        return self._fast.watch(kind, namespace, since=since)

    async def ping(self) -> None:
        self._check_open()
        await self._durable.ping()
        await self._fast.ping()

    async def _close(self) -> None:
        if self._owns_stores:
            try:
                await self._fast.close()
            finally:
                await self._durable.close()
