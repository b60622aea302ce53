"""The contract suite (and its state machine) against ``sqlite://`` files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.store import Clock, MemoryStore
from agentmem.testing import StoreContractTests


class TestSQLiteStoreContract(StoreContractTests):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        # One file per test; the state machine's runs share it, each in fresh namespaces.
        self.path = tmp_path / "contract.db"

    async def make_store(self, clock: Clock) -> MemoryStore:
        return await open_store(f"sqlite://{self.path}", clock=clock)
