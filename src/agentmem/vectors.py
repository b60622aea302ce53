"""Compact embeddings: int8 codes with one float scale, and cosine similarity over them.

A record's embedding (:attr:`agentmem.store.Record.embedding`) is stored as one signed
byte per dimension plus a scale (``value ~= code * scale``): 384 dimensions take 388
bytes instead of 1,536 as float32, and cosine similarity loses well under 1% (the
quantization error of each dimension is at most ``scale / 2``).

Cosine similarity does not depend on the scale, so search compares codes directly.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from agentmem.errors import InvalidInput

__all__ = ["MAX_DIMENSIONS", "Embedding", "cosine_codes", "normalize"]

MAX_DIMENSIONS: Final = 4096


@dataclass(frozen=True, slots=True)
class Embedding:
    """An embedding quantized to int8: ``codes`` (one signed byte per dimension) and
    ``scale`` (the float one code step stands for).

    >>> e = Embedding.quantize([0.5, -1.0, 0.25])
    >>> [round(x, 2) for x in e.floats()]
    [0.5, -1.0, 0.25]
    """

    codes: bytes
    scale: float

    def __post_init__(self) -> None:
        if not isinstance(self.codes, bytes) or not 1 <= len(self.codes) <= MAX_DIMENSIONS:
            raise InvalidInput(f"embedding codes must be 1..{MAX_DIMENSIONS} bytes")
        if not isinstance(self.scale, float) or not math.isfinite(self.scale) or self.scale < 0.0:
            raise InvalidInput(f"embedding scale must be a finite float >= 0, got {self.scale!r}")

    @property
    def dimensions(self) -> int:
        """How many dimensions the vector has."""
        return len(self.codes)

    @classmethod
    def quantize(cls, values: Sequence[float]) -> Embedding:
        """Quantize a float vector (any length 1..4096, finite values)."""
        floats = [float(v) for v in values]
        if not 1 <= len(floats) <= MAX_DIMENSIONS:
            raise InvalidInput(
                f"an embedding has 1..{MAX_DIMENSIONS} dimensions, got {len(floats)}"
            )
        if not all(math.isfinite(v) for v in floats):
            raise InvalidInput("an embedding's values must be finite")
        peak = max(abs(v) for v in floats)
        scale = peak / 127.0 if peak > 0 else 0.0
        if scale == 0.0:
            return cls(bytes(len(floats)), 0.0)
        codes = struct.pack(f"{len(floats)}b", *(round(v / scale) for v in floats))
        return cls(codes, scale)

    def ints(self) -> tuple[int, ...]:
        """The signed codes."""
        return struct.unpack(f"{len(self.codes)}b", self.codes)

    def floats(self) -> list[float]:
        """The vector, dequantized."""
        return [c * self.scale for c in self.ints()]


def normalize(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to unit length (all zeros stays all zeros)."""
    values = [float(v) for v in vector]
    if not values or not all(math.isfinite(v) for v in values):
        raise InvalidInput("a query vector must be non-empty and finite")
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm else values


def cosine_codes(unit_query: Sequence[float], embedding: Embedding) -> float:
    """Cosine similarity of a unit-length query and a stored embedding (0.0 when the
    dimensions differ or the embedding is all zeros)."""
    if len(unit_query) != embedding.dimensions:
        return 0.0
    codes = embedding.ints()
    norm = math.sqrt(sum(c * c for c in codes))
    if not norm:
        return 0.0
    return sum(q * c for q, c in zip(unit_query, codes, strict=True)) / norm
