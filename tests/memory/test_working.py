"""Working memory: steps, capacity, context text, TTL and legacy fields."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agentmem.errors import InvalidInput
from agentmem.memory.config import WORKING, resolve_ttls
from agentmem.memory.context import NO_STEPS
from tests.memory.support import Backend

STEP_FIELDS = {
    "step_id",
    "step_number",
    "action",
    "observation",
    "reasoning",
    "tool_calls",
    "timestamp",
    "duration_ms",
    "success",
    "error",
}
MEMORY_FIELDS = {
    "memory_id",
    "content",
    "compressed_content",
    "created_at",
    "last_accessed",
    "access_count",
    "importance",
    "task_id",
    "session_id",
    "tags",
    "original_tokens",
    "compressed_tokens",
}
EPISODE_FIELDS = MEMORY_FIELDS | {
    "task_prompt",
    "steps",
    "outcome",
    "success",
    "duration_seconds",
    "tools_used",
    "error_messages",
    "patterns_discovered",
}
SEMANTIC_FIELDS = MEMORY_FIELDS | {
    "pattern",
    "context",
    "examples",
    "confidence",
    "times_validated",
    "times_invalidated",
    "source_episodes",
}
SKILL_FIELDS = MEMORY_FIELDS | {
    "skill_name",
    "description",
    "action_sequence",
    "preconditions",
    "postconditions",
    "success_rate",
    "times_executed",
    "average_duration",
    "error_handling",
    "decision_logic",
}


@pytest.mark.asyncio
async def test_capacity_drops_oldest_steps_in_the_store_too(backend: Backend) -> None:
    async with await backend.open(working_capacity=3, enable_pubsub=False) as memory:
        for i in range(5):
            await memory.add_step(f"step {i}", "ok")
        assert [s.action for s in await memory.get_recent_steps(10)] == [
            "step 2",
            "step 3",
            "step 4",
        ]
        assert [s.step_number for s in await memory.get_recent_steps(2)] == [4, 5]
        stats = await memory.get_stats()
        assert stats["working_memory"]["current_steps"] == 3
        assert stats["working_memory"]["capacity"] == 3
        assert stats["working_memory"]["stored_steps_all_sessions"] == 3
        await memory.clear_working_memory()
        assert await memory.get_recent_steps(10) == []
        assert await memory.get_context() == NO_STEPS


@pytest.mark.asyncio
async def test_context_details_recent_steps_and_compresses_older(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        await memory.add_step("Open the repository", "cloned", reasoning="start")
        await memory.add_step(
            "Run the tests", "3 failures", reasoning="baseline", tool_calls=[{"name": "pytest"}]
        )
        await memory.add_step("Fix the import", "ImportError", success=False, error="no module x")
        assert await memory.get_context(detailed_steps=2) == "\n".join(
            [
                "Earlier steps (compressed):",
                "- Step 1 [ok]: Open the repository -> cloned",
                "Recent steps:",
                "Step 2 [ok]: Run the tests",
                "  Reasoning: baseline",
                "  Observation: 3 failures",
                "  Tools: pytest",
                "Step 3 [failed]: Fix the import",
                "  Observation: ImportError",
                "  Error: no module x",
            ]
        )


@pytest.mark.asyncio
async def test_records_keep_every_legacy_field(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        memory.working.current_task_id = "task-7"
        step = await memory.add_step("a", "b", tool_calls=[{"name": "t"}], error=None)
        assert set(step.to_dict()) >= STEP_FIELDS
        episode = await memory.save_episode("p", "o", True, 2.5, tags=["x"])
        assert set(episode.to_dict()) >= EPISODE_FIELDS
        assert episode.task_id == "task-7"
        assert episode.tools_used == ["t"]
        assert episode.steps[0]["action"] == "a"
        assert episode.original_tokens > episode.compressed_tokens > 0
        fetched = await memory.get_episode(episode.memory_id)
        assert fetched is not None
        assert set(fetched.to_dict()) >= EPISODE_FIELDS
        assert fetched.access_count == 1
        knowledge = await memory.add_semantic("pattern p", "content c", 0.7, ["e1"], ["t"])
        assert set(knowledge.to_dict()) >= SEMANTIC_FIELDS
        skill = await memory.save_skill("s", "d", ["x"])
        assert set(skill.to_dict()) >= SKILL_FIELDS


@pytest.mark.asyncio
async def test_ttls_default_and_override(backend: Backend) -> None:
    ttls = resolve_ttls({"working": 120, "episodic": None})
    assert ttls["working"] == timedelta(seconds=120)
    assert ttls["episodic"] is None
    assert ttls["skill"] == timedelta(days=180)
    with pytest.raises(InvalidInput):
        resolve_ttls({"bogus": 1})
    async with await backend.open(ttls={"working": 120}, enable_pubsub=False) as memory:
        step = await memory.add_step("a", "b")
        ns = memory._space.namespace_of(WORKING)
        page = await memory.store.scan(WORKING, ns)
        (record,) = page.records
        assert record.expires_at is not None
        lifetime = record.expires_at - step.timestamp
        assert timedelta(seconds=119) <= lifetime <= timedelta(seconds=121)
        episode = await memory.save_episode("p", "o", True, 1.0)
        stored = await memory.store.get(memory._space.ref("episodic", episode.memory_id))
        assert stored is not None
        assert stored.expires_at is not None  # default: 30 days
        assert stored.expires_at - episode.created_at == timedelta(days=30)


@pytest.mark.asyncio
async def test_initialize_is_harmless_and_close_idempotent(backend: Backend) -> None:
    memory = await backend.open(enable_pubsub=False)
    await memory.initialize()
    await memory.initialize()
    await memory.add_step("a", "b")
    await memory.close()
    await memory.close()
