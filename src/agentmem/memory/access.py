"""Access bookkeeping (``last_accessed``, ``access_count``) for explicitly fetched memories."""

from __future__ import annotations

from agentmem.memory.space import MemorySpace
from agentmem.store import Record, Ref

__all__ = ["touch"]


async def touch(space: MemorySpace, ref: Ref) -> Record | None:
    """Count one access of the record at ``ref`` (compare-and-set, so no count is lost).

    Only explicit fetches (``get_episode``, ``get_skill``) count; searches do not write.
    """
    now = space.clock()

    def bump(current: Record | None) -> Record | None:
        if current is None:
            return None
        body = dict(current.body)
        body["access_count"] = int(body.get("access_count", 0)) + 1
        body["last_accessed"] = now
        return Record(
            ref=current.ref,
            body=body,
            text=current.text,
            tags=current.tags,
            expires_at=current.expires_at,
        )

    return await space.update(ref, bump)
