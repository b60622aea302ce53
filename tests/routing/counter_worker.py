"""An agent process for the counter fault tests: records skill executions through an
outage and reports how many calls were acknowledged.

``python -m tests.routing.counter_worker '<json adapter options>' SKILL CALLS TASKS``:
prints ``{"ready": true}``, waits for a line on stdin, makes CALLS
``record_skill_execution`` calls from TASKS concurrent tasks, waits until the failover
store is healthy with an empty outbox, then prints ``{"acked": n, "errors": [...], ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agentmem.memory import create_memory_adapter
from agentmem.routing import FailoverStore


async def run(options: dict[str, Any], skill: str, calls: int, tasks: int) -> None:
    memory = await create_memory_adapter(**options, enable_pubsub=False)
    async with memory:
        # A read that counts an access: an increment, mirrored into this agent's fallback,
        # so the skill is known there when the outage starts.
        assert await memory.get_skill(skill) is not None
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        acked = 0
        errors: list[str] = []
        queue = iter(range(calls))

        async def task() -> None:
            nonlocal acked
            for i in queue:
                try:
                    await memory.record_skill_execution(
                        skill, success=i % 3 != 0, duration=0.25 * (i % 4)
                    )
                except Exception as exc:  # reported to the test, which asserts none
                    errors.append(repr(exc))
                else:
                    acked += 1

        await asyncio.gather(*(task() for _ in range(tasks)))
        store = memory.store
        assert isinstance(store, FailoverStore)
        healthy = await store.wait_until_healthy(within=120)
        stats = store.stats
        print(
            json.dumps(
                {
                    "acked": acked,
                    "errors": errors,
                    "healthy": healthy,
                    "failovers": stats.failovers,
                    "pending": stats.pending,
                    "lost": stats.lost,
                    "conflicts": stats.conflicts,
                    "refills": stats.refills,
                    "replayed": stats.replayed,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
