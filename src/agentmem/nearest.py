"""Exact k-nearest-neighbour search by cosine similarity, for any store that can scan.

Backends implement :meth:`agentmem.store.MemoryStore.nearest` with :func:`scan_nearest`:
it pages through the collection with the store's own ``scan`` (so it sees exactly the
live, tag-filtered records a scan sees, on one node or across Redis Cluster buckets) and
keeps the best ``limit`` in a heap. With numpy installed the scores of a page are
computed in one matrix product; without it, in plain Python.
"""

from __future__ import annotations

import heapq
import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from agentmem.errors import InvalidInput
from agentmem.store import Hit, Record, Ref, check_kind_namespace, check_limit, check_tags
from agentmem.vectors import Embedding, cosine_codes, normalize

if TYPE_CHECKING:
    from agentmem.store import MemoryStore

__all__ = [
    "PAGE_SIZE",
    "Ranker",
    "check_query",
    "fetch_winners",
    "rank_codes",
    "rank_vectors",
    "scan_nearest",
    "top_k",
]

log = logging.getLogger("agentmem.nearest")

PAGE_SIZE: Final = 2000

_np: Any
try:  # numpy is optional: an embedder plugin brings it, the core does not need it
    _np = importlib.import_module("numpy")
except ImportError:  # pragma: no cover - exercised where numpy is absent
    _np = None


Ranker = Callable[[int], list[tuple[str, float]]]
"""``want`` -> the ``want`` best (record id, cosine) pairs of a backend's vectors, best
first."""


async def fetch_winners(
    store: MemoryStore, kind: str, namespace: str, rank: Ranker, limit: int
) -> list[Hit]:
    """Fetch the records ``rank`` puts first, skipping winners that are gone, expired or
    corrupt (``get_many`` answers None), asking ``rank`` for twice as many until ``limit``
    records are found or the vectors run out. Backends that score vectors kept beside
    their records (sqlite://, redis://) end ``nearest`` with this."""
    want = limit
    while True:
        ranked = rank(want)
        refs = [Ref(kind, namespace, rid) for rid, _ in ranked]
        found = await store.get_many(refs) if refs else []
        hits = [
            Hit(record, score)
            for record, (_, score) in zip(found, ranked, strict=True)
            if record is not None
        ]
        if len(hits) >= limit or len(ranked) < want:
            return hits[:limit]
        want *= 2


def check_query(vector: Sequence[float]) -> list[float]:
    """Validate a query vector and scale it to unit length."""
    if isinstance(vector, (str, bytes)) or not isinstance(vector, Sequence):
        raise InvalidInput("a query vector must be a sequence of floats")
    return normalize(vector)


def _scores(unit: list[float], embeddings: Sequence[Embedding]) -> list[float]:
    """Cosine of ``unit`` with each embedding (all of ``len(unit)`` dimensions)."""
    if _np is not None and embeddings:
        matrix: Any = _np.frombuffer(b"".join(e.codes for e in embeddings), dtype=_np.int8)
        values = _scores_matrix(unit, matrix.reshape(len(embeddings), len(unit)))
        return [float(v) for v in values.tolist()]
    return [cosine_codes(unit, e) for e in embeddings]


def rank_codes(
    unit: list[float], ids: Sequence[str], codes: bytes | Sequence[bytes], limit: int
) -> list[tuple[str, float]]:
    """The ``limit`` (id, cosine) pairs nearest to the unit vector, best first (ties: the
    smaller id), from raw int8 codes of exactly ``len(unit)`` bytes each (the caller
    filters other lengths out). No :class:`Embedding` is built per candidate, so backends
    that keep codes beside their records (sqlite://, redis://) score a whole collection
    in one matrix product with numpy. ``codes`` is one code string per id, or all of
    them concatenated.
    """
    if not ids:
        return []
    joined = codes if isinstance(codes, bytes) else b"".join(codes)
    dim = len(unit)
    if len(joined) != dim * len(ids):
        raise ValueError(f"{len(ids)} ids need {dim * len(ids)} code bytes, got {len(joined)}")
    if _np is None:
        scored = [
            (cosine_codes(unit, Embedding(joined[i * dim : (i + 1) * dim], 1.0)), rid)
            for i, rid in enumerate(ids)
        ]
        best = heapq.nsmallest(limit, scored, key=lambda item: (-item[0], item[1]))
        return [(rid, score) for score, rid in best]
    matrix: Any = _np.frombuffer(joined, dtype=_np.int8).reshape(len(ids), dim)
    values = _scores_matrix(unit, matrix)
    if len(ids) > limit:
        # Everything scoring at least the limit-th best, so ties at the edge are kept
        # and broken by id below.
        kth = _np.partition(values, len(ids) - limit)[len(ids) - limit]
        chosen = _np.nonzero(values >= kth)[0].tolist()
    else:
        chosen = range(len(ids))
    pairs = [(float(values[i]), ids[i]) for i in chosen]
    best = heapq.nsmallest(limit, pairs, key=lambda item: (-item[0], item[1]))
    return [(rid, score) for score, rid in best]


def _scores_matrix(unit: list[float], matrix: Any) -> Any:
    """Cosine of ``unit`` with each int8 row of ``matrix`` (numpy float32 array)."""
    rows = matrix.astype(_np.float32)
    norms = _np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1.0
    return (rows @ _np.asarray(unit, dtype=_np.float32)) / norms


def rank_vectors(
    unit: list[float], items: Iterable[tuple[str, Embedding | None]], limit: int
) -> list[tuple[str, float]]:
    """The ``limit`` (id, cosine) pairs nearest to the unit vector, best first (ties: the
    smaller id). Items without an embedding of ``len(unit)`` dimensions are skipped.
    Backends that keep vectors beside their records call this and decode only the winners.
    """
    kept = [(rid, e) for rid, e in items if e is not None and e.dimensions == len(unit)]
    scores = _scores(unit, [e for _, e in kept])
    pairs = zip(scores, (rid for rid, _ in kept), strict=True)
    best = heapq.nsmallest(limit, pairs, key=lambda item: (-item[0], item[1]))
    return [(rid, score) for score, rid in best]


def top_k(unit: list[float], records: Iterable[Record], limit: int) -> list[Hit]:
    """The ``limit`` records nearest to the unit vector ``unit``, best first."""
    by_id = {r.ref.id: r for r in records}
    ranked = rank_vectors(unit, ((rid, r.embedding) for rid, r in by_id.items()), limit)
    return [Hit(by_id[rid], score) for rid, score in ranked]


async def scan_nearest(
    store: MemoryStore,
    vector: Sequence[float],
    *,
    kind: str,
    namespace: str,
    tags: Iterable[str] | None = None,
    limit: int = 10,
) -> list[Hit]:
    """Exact nearest neighbours over ``store.scan`` pages (see the module docstring)."""
    check_kind_namespace(kind, namespace)
    limit = check_limit(limit)
    wanted = check_tags(tags)
    unit = check_query(vector)
    best: list[Hit] = []
    cursor: str | None = None
    while True:
        page = await store.scan(kind, namespace, tags=wanted, limit=PAGE_SIZE, cursor=cursor)
        best = top_k(unit, [h.record for h in best] + page.records, limit)
        cursor = page.cursor
        if cursor is None:
            return best
