"""An agent opened with default settings (``backend="redis"``, no fallback path) that
writes through an outage the test causes. ``python -m tests.routing.default_agent_worker
<agent_id> <redis port> <writes>``; prints JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from agentmem.memory import create_memory_adapter
from agentmem.routing import FailoverStore
from agentmem.store import Record, Ref


async def run(agent: str, port: int, writes: int) -> None:
    memory = await create_memory_adapter(
        "redis", agent_id=agent, redis_host="127.0.0.1", redis_port=port, enable_pubsub=False
    )
    async with memory:
        store = memory.store
        assert isinstance(store, FailoverStore)
        print(json.dumps({"ready": True, "fallback": store.fallback.url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        acked: list[str] = []
        for i in range(writes):
            ref = Ref("episodic", "two-agents", f"{agent}-{os.getpid()}-{i}")
            await store.put(Record(ref=ref, body={"i": i}))
            acked.append(ref.id)
            await asyncio.sleep(0.01)
        healthy = await memory.redis_manager.wait_until_available(60)
        print(
            json.dumps({"acked": acked, "healthy": healthy, "pending": store.stats.pending}),
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
