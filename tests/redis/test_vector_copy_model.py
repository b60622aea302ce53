"""The client copy of the vectors against reading every code, driven by a state machine
(tests/support/vector_copy_model.py), on a collection spread over two buckets."""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from agentmem.testing import ManualClock
from agentmem_redis import RedisStore, open_redis_store
from tests.support.redis_servers import RedisServer
from tests.support.vector_copy_model import vector_copy_machine


def test_vector_copy_state_machine(redis_server: RedisServer, prefix: str) -> None:
    counter = iter(range(1_000_000))

    async def open_handle(clock: ManualClock, cached: bool) -> RedisStore:
        return await open_redis_store(
            redis_server.url,
            prefix=prefix,
            clock=clock,
            vector_cache=cached,
            buckets=2,
            warn_persistence=False,
        )

    machine = vector_copy_machine(open_handle, lambda: f"model{next(counter)}")
    run_state_machine_as_test(machine, settings=machine.TestCase.settings)
