"""A second agent process for the cross-process tests.

``python -m tests.memory.worker '<json adapter options>' COMMAND [ARGS...]``; prints
results as JSON lines on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from agentmem.memory import create_memory_adapter


async def record_executions(options: dict[str, Any], skill: str, calls: int) -> None:
    memory = await create_memory_adapter(**options, enable_pubsub=False)
    async with memory:
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()  # start together with the other process
        # i % 3 != 0 succeeds; durations 0.25 * (i % 4): exact in binary floating point.
        await asyncio.gather(
            *(
                memory.record_skill_execution(skill, success=i % 3 != 0, duration=0.25 * (i % 4))
                for i in range(calls)
            )
        )
        print(json.dumps({"done": calls}), flush=True)


async def save_episode_on_signal(options: dict[str, Any]) -> None:
    memory = await create_memory_adapter(**options, enable_pubsub=False)
    async with memory:
        await memory.add_step("private step", "nobody else may see this", tool_calls=[])
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        await memory.add_step(
            "probe the flaky endpoint", "timeouts after 30s", tool_calls=[{"name": "http_get"}]
        )
        sent = time.time()
        episode = await memory.save_episode(
            "Diagnose the flaky payments endpoint",
            "connection pool exhausted; raised the pool size",
            True,
            12.0,
            tags=["payments"],
        )
        print(json.dumps({"memory_id": episode.memory_id, "sent": sent}), flush=True)


async def session_chain(options: dict[str, Any], *session_ids: str) -> None:
    """Open on the first session id and rotate through the others."""
    first, *rest = session_ids
    memory = await create_memory_adapter(**options, session_id=first, enable_pubsub=False)
    async with memory:
        for session in rest:
            await memory.rotate_session(session)
        history = await memory.get_session_history()
        print(json.dumps(history), flush=True)


def main() -> None:
    options = json.loads(sys.argv[1])
    command, args = sys.argv[2], sys.argv[3:]
    if command == "skill":
        asyncio.run(record_executions(options, args[0], int(args[1])))
    elif command == "episode":
        asyncio.run(save_episode_on_signal(options))
    elif command == "sessions":
        asyncio.run(session_chain(options, *args))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
