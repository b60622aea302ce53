"""DeferredStore: a store that is opened on first use, so a server that is down at start
does not stop an agent from starting.

``failover://`` wraps its primary in one when the primary cannot be reached at start:
until it answers, every call raises :class:`~agentmem.errors.BackendUnavailable`, which
is exactly what makes the :class:`~agentmem.routing.FailoverStore` answer from SQLite and
probe Redis until it is back. Configuration errors (bad URL, wrong password) still raise
:class:`~agentmem.errors.ConfigurationError` when the open is attempted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from agentmem.base import StoreBase
from agentmem.changes import ChangeStream
from agentmem.errors import ConfigurationError
from agentmem.plugins import open_store
from agentmem.routing.redact import redact_url
from agentmem.store import Capabilities, Change, Hit, MemoryStore, Page, Record, Ref

__all__ = ["DeferredStore", "mask_password"]

log = logging.getLogger("agentmem.routing")


def mask_password(url: str) -> str:
    """The URL with any password (userinfo or query, nested URLs too) replaced by ``***``."""
    return redact_url(url)


class DeferredStore(StoreBase):
    """Opens ``url`` on the first call that needs it, and again after each failed try."""

    def __init__(self, url: str, *, origin: str | None = None, **options: Any) -> None:
        super().__init__(origin=origin)
        self._target = url
        self._options = options
        self._inner: MemoryStore | None = None
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        # Once opened, the inner store's own (normalised, masked) URL.
        if self._inner is not None:
            return self._inner.url
        return redact_url(self._target)

    @property
    def capabilities(self) -> Capabilities:
        # Before the first open, claim what a shared server store claims.
        if self._inner is not None:
            return self._inner.capabilities
        return Capabilities(cross_process=True, increment=True, vector_search=True)

    async def store(self) -> MemoryStore:
        """The opened store; BackendUnavailable while it cannot be opened."""
        self._check_open()
        if self._inner is not None:
            return self._inner
        async with self._lock:
            if self._inner is None:
                self._inner = await open_store(self._target, origin=self.origin, **self._options)
                log.info("opened %s after it was unavailable at start", self.url)
            return self._inner

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        return await (await self.store()).put(record, expected_version=expected_version)

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        return await (await self.store()).put_many(records)

    async def get(self, ref: Ref) -> Record | None:
        return await (await self.store()).get(ref)

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        return await (await self.store()).get_many(refs)

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        return await (await self.store()).delete(ref, expected_version=expected_version)

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        return await (await self.store()).delete_many(refs)

    async def count(self, kind: str, namespace: str) -> int:
        return await (await self.store()).count(kind, namespace)

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
        inner = await self.store()
        return await inner.scan(
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
        return await (await self.store()).search(kind, namespace, text, limit=limit, tags=tags)

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Vector search on the store once it is open."""
        inner = await self.store()
        return await inner.nearest(vector, kind=kind, namespace=namespace, tags=tags, limit=limit)

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        self._check_open()
        return ChangeStream(self, kind=kind, namespace=namespace, since=since)

    async def change_head(self) -> str:
        inner = await self.store()
        head = getattr(inner, "change_head", None)
        if head is None:
            raise ConfigurationError(f"{self.url} has no change feed to follow")
        result: str = await head()
        return result

    async def read_changes(
        self,
        after: str,
        *,
        limit: int,
        timeout: float,
    ) -> list[Change]:
        inner = await self.store()
        read = getattr(inner, "read_changes", None)
        if read is None:
            raise ConfigurationError(f"{self.url} has no change feed to follow")
        result: list[Change] = await read(after, limit=limit, timeout=timeout)
        return result

    def refs_per_bucket(self, kind: str, namespace: str, stem: str) -> list[Ref]:
        """The opened store's refs, one per unit of failure (none before it opens)."""
        spread = getattr(self._inner, "refs_per_bucket", None)
        return list(spread(kind, namespace, stem)) if callable(spread) else []

    async def import_many(self, records: Sequence[Record]) -> int:
        return await (await self.store()).import_many(records)

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
        inner = await self.store()
        return await inner.increment(
            ref, add=add, append=append, maximum=maximum, ttl=ttl, op_id=op_id
        )

    async def ping(self) -> None:
        await (await self.store()).ping()

    async def _close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
