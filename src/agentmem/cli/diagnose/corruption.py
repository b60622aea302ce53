"""The hook for listing corrupt records: ``agentmem.corruption.find_corrupt(store)``,
called only when that module is installed."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from agentmem.store import MemoryStore

__all__ = ["list_corrupt_records"]


async def list_corrupt_records(store: MemoryStore) -> list[Any] | None:
    """Corrupt records of ``store``, from ``agentmem.corruption.find_corrupt(store)``.

    The hook for the corruption scanner: None (not checked) until that module is installed.
    ``find_corrupt`` may return a list, an awaitable of one or an async iterator.
    """
    if importlib.util.find_spec("agentmem.corruption") is None:
        return None
    module = importlib.import_module("agentmem.corruption")
    result: Any = module.find_corrupt(store)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return list(result)
