"""The contract suite against the in-process reference store."""

from __future__ import annotations

from agentmem import open_store
from agentmem.store import Clock, MemoryStore
from agentmem.testing import StoreContractTests


class TestMemoryStoreContract(StoreContractTests):
    async def make_store(self, clock: Clock) -> MemoryStore:
        return await open_store("memory://", clock=clock)
