"""How search results are ordered: keyword relevance, importance, recency (and vectors).

The store's keyword search (BM25, :mod:`agentmem.text`) picks the candidates: up to
``max(4 * limit, 20)`` hits. Each candidate then gets::

    score = 0.6 * keyword + 0.2 * importance + 0.2 * recency  [+ 0.4 * similarity]

- ``keyword``: the hit's BM25 score divided by the best BM25 score among the candidates
  (so the best keyword match has 1.0; scores are comparable across backends even though
  their BM25 statistics differ slightly).
- ``importance``: the record's ``importance`` (0..1, default 0.5).
- ``recency``: ``0.5 ** (age / half_life)`` with age since the record was last written
  and a half-life of 7 days (1.0 just written, 0.5 a week ago).
- ``similarity``: only when an embedder is in use (:mod:`agentmem.memory.embedding`) on
  a store without vector search: the cosine similarity (clamped at 0) between the
  query's and the record's embeddings.

With an embedder on a store with vector search (``capabilities.vector_search``), the
candidates come from hybrid search instead (:func:`agentmem.hybrid.hybrid_search`:
keyword and nearest-vector hits fused), and ``keyword`` above is the fused score divided
by the best one: records that share no word with the query are found by meaning.

Ties are broken by record id, so the order is deterministic. Weights and half-life are
adjustable with :class:`RankingWeights`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agentmem.errors import ConfigurationError
from agentmem.hookspecs import Embedder
from agentmem.hybrid import HybridWeights, hybrid_search
from agentmem.memory.embedding import embed_queries
from agentmem.store import Clock, Hit, MemoryStore, Record

__all__ = ["RankingWeights", "Retriever", "candidate_limit", "cosine", "rank_hits"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """The weights of the ranking formula (see the module docstring)."""

    keyword: float = 0.6
    importance: float = 0.2
    recency: float = 0.2
    similarity: float = 0.4
    half_life: timedelta = timedelta(days=7)


def candidate_limit(limit: int) -> int:
    """How many keyword hits to fetch so re-ranking has room to reorder."""
    return min(max(4 * limit, 20), 1000)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 if either is all zeros or lengths differ)."""
    if len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _importance(record: Record) -> float:
    value = record.body.get("importance", 0.5)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return 0.5
    return min(max(float(value), 0.0), 1.0)


def _recency(record: Record, now: datetime, half_life: timedelta) -> float:
    written = record.updated_at or record.created_at
    if written is None:
        return 0.0
    age = max((now - written).total_seconds(), 0.0)
    return float(0.5 ** (age / half_life.total_seconds()))


def rank_hits(
    hits: Sequence[Hit],
    *,
    now: datetime,
    weights: RankingWeights,
    similarities: Sequence[float] | None = None,
) -> list[tuple[Record, float]]:
    """Order keyword hits by the combined score, best first."""
    best = max((hit.score for hit in hits), default=0.0)
    scored: list[tuple[float, str, Record]] = []
    for i, hit in enumerate(hits):
        keyword = hit.score / best if best > 0 else 0.0
        score = (
            weights.keyword * keyword
            + weights.importance * _importance(hit.record)
            + weights.recency * _recency(hit.record, now, weights.half_life)
        )
        if similarities is not None:
            score += weights.similarity * max(similarities[i], 0.0)
        scored.append((-score, hit.record.ref.id, hit.record))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [(record, -neg) for neg, _, record in scored]


class Retriever:
    """Keyword candidates from the store, re-ranked by :func:`rank_hits`."""

    def __init__(
        self,
        store: MemoryStore,
        clock: Clock,
        *,
        weights: RankingWeights | None = None,
        embedder: Embedder | None = None,
        hybrid: HybridWeights | None = None,
    ) -> None:
        self._store = store
        self.hybrid = hybrid or HybridWeights()
        self._clock = clock
        self.weights = weights or RankingWeights()
        self.embedder = embedder

    async def search(
        self,
        kind: str,
        namespace: str,
        query: str,
        *,
        limit: int,
        tags: Iterable[str] | None = None,
    ) -> list[tuple[Record, float]]:
        """The ``limit`` best records of ``kind`` for ``query``, with their scores."""
        if self.embedder is not None and self._store.capabilities.vector_search:
            (vector,) = await embed_queries(self.embedder, [query])
            hits = await hybrid_search(
                self._store,
                kind,
                namespace,
                query,
                vector,
                limit=candidate_limit(limit),
                tags=tags,
                weights=self.hybrid,
            )
            ranked = rank_hits(hits, now=self._clock(), weights=self.weights)
            return ranked[:limit]
        hits = await self._store.search(
            kind, namespace, query, limit=candidate_limit(limit), tags=tags
        )
        if self.embedder is not None and self._store.capabilities.vector_search:
            (vector,) = await embed_queries(self.embedder, [query])
            hits = await hybrid_search(
                self._store,
                kind,
                namespace,
                query,
                vector,
                limit=candidate_limit(limit),
                tags=tags,
                weights=self.hybrid,
            )
            ranked = rank_hits(hits, now=self._clock(), weights=self.weights)
            return ranked[:limit]
        similarities: list[float] | None = None
        if self.embedder is not None and hits:
            (query_vector,) = await embed_queries(self.embedder, [query])
            vectors = [query_vector, *await self.embedder([hit.record.text for hit in hits])]
            if len(vectors) != len(hits) + 1:
                raise ConfigurationError(
                    f"embedder returned {len(vectors)} vectors for {len(hits) + 1} texts: "
                    "it must return one vector per text; fix or replace the embedder plugin"
                )
            similarities = [cosine(vectors[0], v) for v in vectors[1:]]
        ranked = rank_hits(hits, now=self._clock(), weights=self.weights, similarities=similarities)
        return ranked[:limit]
