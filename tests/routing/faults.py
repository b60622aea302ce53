"""A test-only wrapper that makes a real store fail on demand (down, hung, corrupt).

It wraps a real :class:`~agentmem.inmemory.InMemoryStore` (every answer comes from it);
only the failure is injected. The fault tests against real redis-server processes are in
test_redis_faults.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from agentmem.changes import ChangeStream
from agentmem.errors import BackendUnavailable, CorruptRecord
from agentmem.inmemory import InMemoryStore
from agentmem.store import Capabilities, Change, Hit, Page, Record, Ref

Mode = Literal["up", "down", "hang", "corrupt"]


class FaultyStore:
    """Delegates to ``inner``; ``mode`` decides whether a call fails first."""

    def __init__(self, inner: InMemoryStore | None = None) -> None:
        self.inner = inner or InMemoryStore()
        self.mode: Mode = "up"
        self.calls = 0
        self._resumed = asyncio.Event()

    def set(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "hang":
            self._resumed = asyncio.Event()
        else:
            self._resumed.set()

    def wipe(self) -> None:
        """Lose every record, like a server restarted without persistence."""
        self.inner = InMemoryStore(origin=self.inner.origin)

    async def _enter(self) -> None:
        self.calls += 1
        if self.mode == "down":
            raise BackendUnavailable("injected: connection refused")
        if self.mode == "corrupt":
            raise CorruptRecord("injected: bad bytes")
        if self.mode == "hang":
            await self._resumed.wait()

    @property
    def url(self) -> str:
        return "faulty+" + self.inner.url

    @property
    def origin(self) -> str:
        return self.inner.origin

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        await self._enter()
        return await self.inner.put(record, expected_version=expected_version)

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        await self._enter()
        return await self.inner.put_many(records)

    async def get(self, ref: Ref) -> Record | None:
        await self._enter()
        return await self.inner.get(ref)

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        await self._enter()
        return await self.inner.get_many(refs)

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        await self._enter()
        return await self.inner.delete(ref, expected_version=expected_version)

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        await self._enter()
        return await self.inner.delete_many(refs)

    async def count(self, kind: str, namespace: str) -> int:
        await self._enter()
        return await self.inner.count(kind, namespace)

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
        await self._enter()
        return await self.inner.scan(
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
        await self._enter()
        return await self.inner.search(kind, namespace, text, limit=limit, tags=tags)

    def watch(
        self, kind: str | None = None, namespace: str | None = None, *, since: str | None = None
    ) -> ChangeStream:
        return ChangeStream(self, kind=kind, namespace=namespace, since=since)

    async def change_head(self) -> str:
        await self._enter()
        return await self.inner.change_head()

    async def read_changes(self, after: str, *, limit: int, timeout: float) -> list[Change]:
        await self._enter()
        return await self.inner.read_changes(after, limit=limit, timeout=timeout)

    async def import_many(self, records: Sequence[Record]) -> int:
        await self._enter()
        return await self.inner.import_many(records)

    async def increment(self, ref: Ref, **delta: Any) -> Record:
        await self._enter()
        return await self.inner.increment(ref, **delta)

    async def ping(self) -> None:
        await self._enter()
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> FaultyStore:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
