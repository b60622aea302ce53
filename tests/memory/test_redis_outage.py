"""backend="redis": starts with Redis down (degraded, on SQLite) and switches when it is up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.memory.support import Backend, available_backends, new_namespace

if "redis" in available_backends():

    @pytest.mark.asyncio
    async def test_starts_with_redis_down_and_recovers(
        redis_server_factory: Any, tmp_path: Path
    ) -> None:
        server = redis_server_factory()  # a port, no process yet
        backend = Backend("redis", tmp_path, new_namespace(), server.port)
        async with await backend.open("early-bird") as memory:
            assert memory.redis_manager.available is False
            assert memory.redis_manager.state == "degraded"
            await memory.add_step("work offline", "ok", tool_calls=[{"name": "editor"}])
            episode = await memory.save_episode("written while Redis was down", "ok", True, 1.0)
            assert [e.memory_id for e in await memory.search_episodes("redis down")] == [
                episode.memory_id
            ]
            server.start()
            assert await memory.redis_manager.wait_until_available(within=30)
            # The episode written on SQLite was replayed into Redis: a second agent with its
            # own (empty) fallback file finds it there, and hears of new writes.
            async with await backend.open("late-comer") as other:
                found = await other.search_episodes("redis down")
                assert [e.memory_id for e in found] == [episode.memory_id]
                events = other.events()
                skill = await memory.save_skill("offline_edit", "edit without network", [])
                event = await asyncio.wait_for(anext(events), 30)
                assert (event.kind, event.memory_id) == ("skill", skill.skill_name)
