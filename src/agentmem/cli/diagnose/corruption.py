"""Corrupt records for ``agentmem doctor``: found with :func:`agentmem.corruption.find_corrupt`,
deleted on request with :func:`agentmem.corruption.delete_corrupt`."""

from __future__ import annotations

from agentmem.corruption import delete_corrupt, find_corrupt
from agentmem.store import MemoryStore, Ref

__all__ = ["list_corrupt_records", "remove_corrupt_records"]


async def list_corrupt_records(store: MemoryStore) -> list[Ref]:
    """The refs of every record of ``store`` that fails to decode."""
    return await find_corrupt(store)


async def remove_corrupt_records(store: MemoryStore, refs: list[Ref]) -> int:
    """Delete those of ``refs`` that are still corrupt; how many were deleted."""
    return await delete_corrupt(store, refs)
