"""Working memory's in-process cache honours the working TTL (issue 9, item 9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentmem.memory import create_memory_adapter

pytestmark = pytest.mark.asyncio


async def test_expired_steps_leave_the_cache(tmp_path: Path) -> None:
    async with await create_memory_adapter(
        "sqlite", agent_id="ttl", sqlite_path=tmp_path / "m.db", ttls={"working": 0.4}
    ) as memory:
        await memory.add_step("old action", "old observation")
        await asyncio.sleep(0.6)
        fresh = await memory.add_step("new action", "new observation")
        assert [s.step_id for s in await memory.get_recent_steps(5)] == [fresh.step_id]
        assert "old action" not in await memory.get_context()
        assert "new action" in await memory.get_context()
        assert "old action" not in await memory.get_enriched_context("action")
        await asyncio.sleep(0.6)
        assert await memory.get_recent_steps(5) == []
        assert "new action" not in await memory.get_context()
        assert memory.working.token_count() == 0 and len(memory.working) == 0
