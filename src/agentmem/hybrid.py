"""Hybrid search: keyword (BM25) and vector (cosine) results fused into one ranking.

:func:`hybrid_search` asks the store for two candidate lists, ``store.search`` (keyword)
and ``store.nearest`` (vector), each ``candidates`` long, and fuses them with
:func:`fuse`. Two fusion methods:

- ``"score"`` (default): each list's scores are normalized over its candidates, then
  summed with the weights (a record missing from a list gets 0 from it). BM25 scores are
  divided by the best one: BM25 has a natural zero (no shared term), so a near-tie stays
  a near-tie. Cosine similarities are min-max normalized (best 1, worst 0): embedding
  models use only part of the -1..1 range (e5's scores sit around 0.7-0.9), so the raw
  values would barely count. Keeps how *much* better one candidate is than the next,
  which reciprocal ranks throw away.
- ``"rrf"``: weighted reciprocal-rank fusion, ``sum(weight / (rrf_k + rank))``.

Both depend only on the stores' keyword and vector results, so every backend that agrees
on those agrees on the fused ranking. Without an embedding for the query (no embedder),
use ``store.search`` alone: that is keyword-only search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from agentmem.errors import InvalidInput
from agentmem.store import Hit, MemoryStore, Record, check_limit

__all__ = ["HybridWeights", "fuse", "hybrid_search"]


@dataclass(frozen=True, slots=True)
class HybridWeights:
    """How keyword and vector results are fused (see the module docstring)."""

    keyword: float = 0.5
    vector: float = 0.5
    method: Literal["score", "rrf"] = "score"
    rrf_k: int = 60
    candidates: int = 50
    """How many hits each side contributes (at least ``limit``)."""

    def __post_init__(self) -> None:
        if self.keyword < 0 or self.vector < 0 or self.keyword + self.vector <= 0:
            raise InvalidInput("hybrid weights must be >= 0 and not both 0")
        if self.method not in ("score", "rrf"):
            raise InvalidInput(f"fusion method must be 'score' or 'rrf', got {self.method!r}")
        if self.rrf_k < 0 or self.candidates < 1:
            raise InvalidInput("rrf_k must be >= 0 and candidates >= 1")


def _by_best(hits: Sequence[Hit]) -> dict[str, float]:
    top = max((h.score for h in hits), default=0.0)
    return {h.ref.id: h.score / top if top > 0 else 1.0 for h in hits}


def _min_max(hits: Sequence[Hit]) -> dict[str, float]:
    if not hits:
        return {}
    top = max(h.score for h in hits)
    bottom = min(h.score for h in hits)
    span = top - bottom
    return {h.ref.id: (h.score - bottom) / span if span > 0 else 1.0 for h in hits}


def fuse(
    keyword: Sequence[Hit],
    vector: Sequence[Hit],
    *,
    limit: int,
    weights: HybridWeights | None = None,
) -> list[Hit]:
    """Fuse two ranked hit lists of one collection; scores are the fused scores (0..1 for
    ``"score"``), ties broken by id. Records whose fused score is 0 are left out."""
    weights = weights or HybridWeights()
    records: dict[str, Record] = {}
    for hit in (*keyword, *vector):
        records.setdefault(hit.ref.id, hit.record)
    fused: dict[str, float] = dict.fromkeys(records, 0.0)
    if weights.method == "rrf":
        for weight, hits in ((weights.keyword, keyword), (weights.vector, vector)):
            for rank, hit in enumerate(hits, start=1):
                fused[hit.ref.id] += weight / (weights.rrf_k + rank)
    else:
        total = weights.keyword + weights.vector
        for weight, scores in (
            (weights.keyword, _by_best(keyword)),
            (weights.vector, _min_max(vector)),
        ):
            for rid, score in scores.items():
                fused[rid] += weight / total * score
    # A fused score of 0 means no shared word and the least similar vector candidate:
    # nothing recommends the record, so it is not a hit.
    ordered = sorted(
        ((rid, score) for rid, score in fused.items() if score > 0),
        key=lambda item: (-item[1], item[0]),
    )
    return [Hit(records[rid], score) for rid, score in ordered[:limit]]


async def hybrid_search(
    store: MemoryStore,
    kind: str,
    namespace: str,
    text: str,
    vector: Sequence[float] | None,
    *,
    limit: int = 10,
    tags: Iterable[str] | None = None,
    weights: HybridWeights | None = None,
) -> list[Hit]:
    """Keyword and vector search fused (keyword only when ``vector`` is None or the store
    has no vector search)."""
    limit = check_limit(limit)
    weights = weights or HybridWeights()
    wanted = None if tags is None else list(tags)
    pool = max(limit, weights.candidates)
    keyword = await store.search(kind, namespace, text, limit=pool, tags=wanted)
    if vector is None or not store.capabilities.vector_search:
        return keyword[:limit]
    nearest = await store.nearest(vector, kind=kind, namespace=namespace, tags=wanted, limit=pool)
    return fuse(keyword, nearest, limit=limit, weights=weights)
