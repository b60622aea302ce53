"""Closing adapters whose notification readers are blocked in (or between) feed reads is
prompt on every backend: no fixed wait, no task left behind."""

from __future__ import annotations

import asyncio
import sys

import pytest

from agentmem.memory import AgentMemory
from tests.memory.support import Backend

pytestmark = pytest.mark.asyncio

ADAPTERS = 10


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "events-flowing"])
async def test_close_with_readers_is_prompt(backend: Backend, busy: bool) -> None:
    adapters: list[AgentMemory] = [await backend.open(f"agent-{i}") for i in range(ADAPTERS)]
    writer = await backend.open("writer", enable_pubsub=False)
    stop = asyncio.Event()

    async def write() -> None:
        n = 0
        while not stop.is_set():
            await writer.save_skill(f"skill_{n % 20}", "a skill", [])
            n += 1
            await asyncio.sleep(0.002)  # memory:// calls never yield on their own

    writing = asyncio.create_task(write()) if busy else None
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    took: list[float] = []

    async def close(memory: AgentMemory) -> None:
        start = loop.time()
        await memory.close()
        took.append(loop.time() - start)

    await asyncio.gather(*(close(m) for m in adapters))
    stop.set()
    if writing is not None:
        await writing
    await writer.close()
    print(
        f"\n{sys.version.split()[0]} {backend.name} {'busy' if busy else 'idle'}: "
        f"slowest of {ADAPTERS} closes {max(took) * 1000:.1f} ms"
    )
    assert max(took) < 1.0
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not pending, pending
