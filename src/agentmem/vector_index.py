"""An in-process copy of one collection's vectors, searched exactly in one matrix product.

sqlite:// and redis:// keep every vector in the store, where a search would have to read
them all (38 MB for 100,000 vectors of 384 dimensions) on every query. With numpy
installed they keep a :class:`VectorIndex` per collection instead: the vectors as unit
float32 rows, brought up to date before each search from the store's log of changed
vectors (only what changed since the last search crosses the wire), then scored in one
matrix-vector product (about 7 ms for 100,000 x 384 on one core). Results are exact: the
same top-k as scoring every stored code, not an approximation.

The price is memory in each searching process: 4 bytes per dimension per vector
(1,536 bytes for 384 dimensions), for the collections it searches.
"""

from __future__ import annotations

import heapq
import importlib
from collections.abc import Callable, Collection, Container, Hashable, Iterable, Sequence
from typing import Any, Final, Generic, TypeVar

__all__ = ["VectorIndex", "available"]

_np: Any
try:  # numpy is optional; without it the backends score the stored codes directly
    _np = importlib.import_module("numpy")
except ImportError:  # pragma: no cover - exercised where numpy is absent
    _np = None

K = TypeVar("K", bound=Hashable)

_FIRST_CAPACITY: Final = 256
_CHUNK_ROWS: Final = 4096
"""Rows normalized at a time by a bulk load (4096 x 384 float32: 6 MB)."""


def _grown(capacity: int, needed: int) -> int:
    """The next capacity: half again, or what is needed plus an eighth, whichever is more,
    so a collection loaded whole and then written to one by one copies its rows rarely."""
    return max(capacity + capacity // 2, needed + needed // 8 + _FIRST_CAPACITY)


def _identity(key: Any) -> Any:
    return key


def available() -> bool:
    """Whether an index can be kept here (numpy is installed)."""
    return _np is not None


class _Block(Generic[K]):
    """The rows of one dimension: a growing float32 matrix with a free list."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.matrix: Any = _np.zeros((_FIRST_CAPACITY, dim), dtype=_np.float32)
        self.live: Any = _np.zeros(_FIRST_CAPACITY, dtype=bool)
        self.keys: list[K | None] = []
        self.free: list[int] = []

    def add_many(self, keys: Sequence[K], codes: bytes) -> range:
        """Append the rows of ``codes`` (int8, ``dim`` bytes per key) after the last used
        one, scaled to unit length chunk by chunk straight into the matrix (no full-size
        temporaries: a 100k x 384 load stays in cache-sized pieces). The free list is left
        for single adds."""
        start = len(self.keys)
        end = start + len(keys)
        if end > len(self.live):
            grown = _grown(len(self.live), end)
            matrix = _np.empty((grown, self.dim), dtype=_np.float32)
            matrix[:start] = self.matrix[:start]
            live = _np.zeros(grown, dtype=bool)
            live[:start] = self.live[:start]
            self.matrix, self.live = matrix, live
        source = _np.frombuffer(codes, dtype=_np.int8).reshape(len(keys), self.dim)
        for first in range(0, len(keys), _CHUNK_ROWS):
            last = min(first + _CHUNK_ROWS, len(keys))
            target = self.matrix[start + first : start + last]
            target[:] = source[first:last]
            norms = _np.sqrt(_np.einsum("ij,ij->i", target, target))
            norms[norms == 0] = 1.0
            target /= norms[:, None]
        self.live[start:end] = True
        self.keys.extend(keys)
        return range(start, end)

    def add(self, key: K, row_values: Any) -> int:
        if self.free:
            row = self.free.pop()
            self.keys[row] = key
        else:
            row = len(self.keys)
            if row == len(self.live):
                grown = _grown(row, row + 1)
                matrix = _np.zeros((grown, self.dim), dtype=_np.float32)
                matrix[:row] = self.matrix
                live = _np.zeros(grown, dtype=bool)
                live[:row] = self.live
                self.matrix, self.live = matrix, live
            self.keys.append(key)
        self.matrix[row] = row_values
        self.live[row] = True
        return row

    def drop(self, row: int) -> None:
        self.keys[row] = None
        self.live[row] = False
        self.free.append(row)


class VectorIndex(Generic[K]):
    """Unit float32 rows keyed by ``K`` (a record id, or a backend's row id).

    Rows of different lengths live in separate blocks; a search scores only the rows of
    its query's length.

    >>> index: VectorIndex[str] = VectorIndex()
    >>> index.put("a", bytes([10, 0])); index.put("b", bytes([0, 10]))
    >>> [key for key, _ in index.search([1.0, 0.0], limit=1)]
    ['a']
    """

    def __init__(self) -> None:
        if _np is None:
            raise RuntimeError("VectorIndex needs numpy")
        self._blocks: dict[int, _Block[K]] = {}
        self._where: dict[K, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def keys(self) -> Iterable[K]:
        """Every key held."""
        return self._where.keys()

    def put(self, key: K, codes: bytes) -> None:
        """Hold ``key``'s vector, given as int8 codes (replaces what it had)."""
        self.remove(key)
        values = _np.frombuffer(codes, dtype=_np.int8).astype(_np.float32)
        norm = float(_np.linalg.norm(values))
        if norm:
            values /= norm
        block = self._blocks.get(len(codes))
        if block is None:
            block = self._blocks[len(codes)] = _Block(len(codes))
        self._where[key] = (len(codes), block.add(key, values))

    def put_many(self, items: Iterable[tuple[K, bytes]]) -> None:
        """Hold many vectors at once (a few matrix operations per dimension)."""
        by_dim: dict[int, dict[K, bytes]] = {}
        for key, codes in items:
            if key in self._where:
                self.remove(key)
            by_dim.setdefault(len(codes), {})[key] = codes
        for dim, group in by_dim.items():
            block = self._blocks.get(dim)
            if block is None:
                block = self._blocks[dim] = _Block(dim)
            keys = list(group)
            rows = block.add_many(keys, b"".join(group.values()))
            self._where.update(zip(keys, ((dim, row) for row in rows), strict=True))

    def remove(self, key: K) -> None:
        """Forget ``key`` (nothing happens when it is not held)."""
        place = self._where.pop(key, None)
        if place is not None:
            self._blocks[place[0]].drop(place[1])

    def clear(self) -> None:
        """Forget everything."""
        self._blocks.clear()
        self._where.clear()

    def search(
        self,
        unit: list[float],
        limit: int,
        *,
        allowed: Collection[K] | None = None,
        excluded: Container[K] = frozenset(),
        order: Callable[[K], Any] | None = None,
    ) -> list[tuple[K, float]]:
        """The ``limit`` (key, cosine) pairs nearest to the unit vector, best first, among
        the rows of ``len(unit)`` dimensions, only ``allowed`` keys when given, never
        ``excluded`` ones. Equal scores go by ``order(key)`` (default: the key itself),
        smaller first: a backend keyed by row id orders by record id, as every search
        does."""
        block = self._blocks.get(len(unit))
        if block is None or limit <= 0:
            return []
        query = _np.asarray(unit, dtype=_np.float32)
        if allowed is not None:
            rows = [
                place[1]
                for key in allowed
                if (place := self._where.get(key)) is not None and place[0] == len(unit)
            ]
            if not rows:
                return []
            picked: Any = _np.asarray(rows, dtype=_np.int64)
            scores = block.matrix[picked] @ query
        else:
            used = len(block.keys)
            picked = _np.nonzero(block.live[:used])[0]
            scores = (block.matrix[:used] @ query)[picked]
        want = limit
        while True:
            if len(scores) > want:
                cut = len(scores) - want
                kth = _np.partition(scores, cut)[cut]
                chosen = _np.nonzero(scores >= kth)[0]
            else:
                chosen = _np.arange(len(scores))
            pairs = [
                (float(scores[i]), key)
                for i in chosen.tolist()
                if (key := block.keys[int(picked[i])]) is not None and key not in excluded
            ]
            if len(pairs) >= limit or len(chosen) == len(scores):
                rank = order or _identity
                best = heapq.nsmallest(limit, pairs, key=lambda item: (-item[0], rank(item[1])))
                return [(key, score) for score, key in best]
            want *= 2
