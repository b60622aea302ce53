"""What of an item is indexed: the text agentmem's keyword index sees and the texts an
embedder turns into vectors, chosen by the store's ``index`` config or a put's ``index=``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langgraph.store.base import IndexConfig, ensure_embeddings, get_text_at_path, tokenize_path

__all__ = ["Indexing", "cosine", "fuse"]

_RRF_K = 60
"""Reciprocal rank fusion's damping constant (the value of Cormack et al.)."""


def _strings(value: Any) -> Iterator[str]:
    """Every string leaf of a JSON-like value, depth first (keys are not text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


@dataclass(frozen=True)
class Indexing:
    """The resolved ``index`` config: which fields are text, and the embedder if any."""

    fields: tuple[str, ...] = ("$",)
    embeddings: Embeddings | None = None

    @classmethod
    def from_config(cls, config: IndexConfig | None) -> Indexing:
        """Resolve a LangGraph ``IndexConfig`` (``fields``, ``embed``; ``dims`` is not needed)."""
        if not config:
            return cls()
        fields = tuple(config.get("fields") or ("$",))
        embed = config.get("embed")
        return cls(fields=fields, embeddings=ensure_embeddings(embed) if embed else None)

    def texts(
        self, value: Mapping[str, Any], index: Literal[False] | Sequence[str] | None
    ) -> list[str]:
        """The texts of ``value`` to index: none for ``index=False``, else those at the
        put's paths or the configured ones (``$`` is every string in the value)."""
        if index is False:
            return []
        paths = self.fields if index is None else tuple(index)
        texts: list[str] = []
        for path in paths:
            if path == "$":
                texts.extend(_strings(value))
            else:
                texts.extend(get_text_at_path(dict(value), tokenize_path(path)))
        return [t for t in texts if t]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def fuse(rankings: Sequence[Sequence[str]]) -> dict[str, float]:
    """Reciprocal rank fusion: each id scores the sum of 1/(k + rank) over the rankings."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (_RRF_K + rank)
    return scores
