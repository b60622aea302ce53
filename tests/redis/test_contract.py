"""The contract suite against a real redis-server and a real 3-master Redis Cluster."""

from __future__ import annotations

import uuid

import pytest

from agentmem import open_store
from agentmem.store import Clock, MemoryStore
from agentmem.testing import StateMachineSettings, StoreContractTests
from tests.support.redis_servers import RedisClusterProcesses, RedisServer


def _prefix() -> str:
    return f"contract-{uuid.uuid4().hex[:8]}"


class TestRedisContract(StoreContractTests):
    """Single node: one bucket, one change stream."""

    state_machine_settings = StateMachineSettings(max_examples=200, step_count=25)

    @pytest.fixture(autouse=True)
    def _server(self, redis_server: RedisServer) -> None:
        self.url = redis_server.url
        self.prefix = _prefix()

    async def make_store(self, clock: Clock) -> MemoryStore:
        return await open_store(self.url, clock=clock, prefix=self.prefix, warn_persistence=False)


@pytest.mark.redis_cluster
class TestRedisClusterContract(StoreContractTests):
    """Redis Cluster: records spread over 16 buckets on 3 masters."""

    state_machine_settings = StateMachineSettings(max_examples=100, step_count=20)

    @pytest.fixture(autouse=True)
    def _cluster(self, redis_cluster: RedisClusterProcesses) -> None:
        self.url = redis_cluster.url
        self.prefix = _prefix()

    async def make_store(self, clock: Clock) -> MemoryStore:
        return await open_store(self.url, clock=clock, prefix=self.prefix, warn_persistence=False)
