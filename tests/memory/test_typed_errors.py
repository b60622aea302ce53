"""Use after close and a misbehaving embedder raise the library's typed errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agentmem import AgentMemError, ConfigurationError, StoreClosed
from agentmem.memory import create_memory_adapter
from tests.memory.support import Backend

pytestmark = pytest.mark.asyncio


async def test_a_closed_adapter_raises_store_closed(backend: Backend) -> None:
    memory = await backend.open("a1")
    await memory.add_step("before", "close")
    store = memory.store
    await memory.close()
    for call in (
        lambda: memory.add_step("after", "close"),
        lambda: memory.search_episodes("close"),
        lambda: memory.get_stats(),
        lambda: memory.initialize(),
    ):
        with pytest.raises(StoreClosed):
            await call()
    with pytest.raises(StoreClosed):
        await store.ping()
    assert issubclass(StoreClosed, AgentMemError)


async def test_an_embedder_returning_the_wrong_number_of_vectors_is_a_configuration_error() -> None:
    async def short(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0]] * (len(texts) - 1)  # one vector short, whatever it was given

    async with await create_memory_adapter("memory", agent_id="a1", embedder=short) as memory:
        with pytest.raises(ConfigurationError, match="one vector per text"):
            await memory.save_episode("deploy the app", "done", True, 1.0)  # embeds on write
        with pytest.raises(ConfigurationError, match="one vector per text"):
            await memory.search_episodes("deploy")  # embeds the query
