"""Access bookkeeping (``last_accessed``, ``access_count``) for explicitly fetched memories."""

from __future__ import annotations

from agentmem.memory.counters import bump
from agentmem.memory.space import MemorySpace
from agentmem.store import Record, Ref

__all__ = ["touch"]


async def touch(space: MemorySpace, ref: Ref) -> Record | None:
    """Count one access of the record at ``ref`` (an increment, so no count is lost).

    Only explicit fetches (``get_episode``, ``get_skill``) count; searches do not write.
    """
    return await bump(space, ref, add={"access_count": 1}, maximum={"last_accessed": space.clock()})
