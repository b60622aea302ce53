"""The store contract suite against the routing stores (healthy and degraded)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.inmemory import InMemoryStore
from agentmem.routing import FailoverStore, failover_url, tiered_url
from agentmem.store import Capabilities, Clock, MemoryStore
from agentmem.testing import StateMachineSettings, StoreContractTests
from tests.routing.faults import FaultyStore

# The inner stores get the full state machine in their own suites; here it checks the
# routing on top, so fewer examples keep this file quick.
ROUTED = StateMachineSettings(max_examples=150)


class TestTieredMemoryContract(StoreContractTests):
    state_machine_settings = ROUTED

    async def make_store(self, clock: Clock) -> MemoryStore:
        return await open_store(tiered_url("memory://", "memory://"), clock=clock)


class TestFailoverHealthyContract(StoreContractTests):
    state_machine_settings = ROUTED

    async def make_store(self, clock: Clock) -> MemoryStore:
        url = failover_url("memory://", "memory://", epoch_check_interval="off")
        return await open_store(url, clock=clock)


class TestFailoverSQLiteFallbackContract(StoreContractTests):
    state_machine_settings = ROUTED

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.opened = 0

    async def make_store(self, clock: Clock) -> MemoryStore:
        # A fresh file per store: an old fallback with a new empty memory:// primary is
        # a primary that lost its data, which is the recovery tests' business, not this.
        self.opened += 1
        path = self.directory / f"fallback-{self.opened}.db"
        url = failover_url("memory://", f"sqlite://{path}", epoch_check_interval="off")
        return await open_store(url, clock=clock)


class _DegradedFailoverStore(FailoverStore):
    """Claims no watch: the feed is the primary's, which is down for the whole test.

    Watchers wait out an outage and get its writes after replay; test_failover_unit's
    test_watch_follows_the_primary_and_waits_out_an_outage checks that.
    """

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, watch=False)


class TestFailoverDegradedContract(StoreContractTests):
    state_machine_settings = ROUTED

    """Primary down for the whole test: every call is answered by the fallback."""

    async def make_store(self, clock: Clock) -> MemoryStore:
        primary = FaultyStore(InMemoryStore(clock=clock))
        primary.set("down")
        return _DegradedFailoverStore(
            primary,
            InMemoryStore(clock=clock),
            clock=clock,
            probe_initial=60,
            probe_max=60,
            epoch_check_interval=None,
        )
