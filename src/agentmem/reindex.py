"""Give existing records an embedding: the engine of ``agentmem reindex``.

Records written before an embedder was installed have no vector, so vector and hybrid
search find them by keyword only. :func:`reindex` walks a collection with ``scan`` and
embeds, in batches, every record that has text and no embedding yet, writing each back
with a compare-and-set on the version it read (a record changed meanwhile is left to
its writer, not overwritten). Because it skips records that already have a vector, an
interrupted run resumes where it stopped when started again.

``agentmem reindex --kind episodic [--namespace N] [--embedder NAME]`` runs it with a
progress bar (rate and time left) on a terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from agentmem.errors import ConfigurationError, ConflictError
from agentmem.hookspecs import Embedder
from agentmem.memory.embedding import check_vector_count
from agentmem.store import MemoryStore, Record, check_kind_namespace
from agentmem.vectors import Embedding

__all__ = ["ReindexReport", "reindex"]

log = logging.getLogger("agentmem.reindex")


@dataclass(frozen=True, slots=True)
class ReindexReport:
    """What a :func:`reindex` run did."""

    examined: int
    embedded: int
    already: int
    """Records that had an embedding (or no text) and were left alone."""
    skipped: int
    """Records changed by another writer while being embedded (left to that writer)."""


Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each batch (``total`` counted at the start)."""


async def reindex(
    store: MemoryStore,
    embedder: Embedder,
    *,
    kind: str,
    namespace: str,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> ReindexReport:
    """Embed every record of ``kind`` in ``namespace`` that has text and no embedding."""
    check_kind_namespace(kind, namespace)
    if not store.capabilities.vector_search:
        raise ConfigurationError(
            f"{store.url} keeps no vectors (capabilities.vector_search is false): "
            "reindex a store whose backend supports vector search"
        )
    total = await store.count(kind, namespace)
    examined = embedded = already = skipped = 0
    cursor: str | None = None
    while True:
        page = await store.scan(kind, namespace, limit=batch_size, cursor=cursor)
        todo = [r for r in page.records if r.text and r.embedding is None]
        already += len(page.records) - len(todo)
        if todo:
            done, lost = await _embed_batch(store, embedder, todo)
            embedded += done
            skipped += lost
        examined += len(page.records)
        if progress is not None:
            progress(min(examined, max(total, examined)), max(total, examined))
        cursor = page.cursor
        if cursor is None:
            break
    log.info("reindexed %s/%s: %d embedded, %d skipped", kind, namespace, embedded, skipped)
    return ReindexReport(examined, embedded, already, skipped)


async def _embed_batch(
    store: MemoryStore, embedder: Embedder, records: Sequence[Record]
) -> tuple[int, int]:
    vectors = await embedder([r.text for r in records])
    check_vector_count(vectors, len(records))
    done = lost = 0
    for record, vector in zip(records, vectors, strict=True):
        updated = replace(record, embedding=Embedding.quantize(vector))
        try:
            await store.put(updated, expected_version=record.version)
            done += 1
        except ConflictError:
            # Rewritten (or deleted) meanwhile: its new writer embeds it, or a rerun does.
            lost += 1
    return done, lost
