"""consolidate(): recurring successful tool sets become knowledge; counters never reset."""

from __future__ import annotations

import pytest

from agentmem.memory import AgentMemory
from agentmem.memory.consolidation import tool_pattern
from tests.memory.support import Backend


async def _episode(memory: AgentMemory, prompt: str, tools: list[str], success: bool = True) -> str:
    for tool in tools:
        await memory.add_step(f"use {tool}", "ok", tool_calls=[{"name": tool}])
    if not tools:
        await memory.add_step("think hard", "ok")
    return (await memory.save_episode(prompt, "done", success, 1.0)).memory_id


@pytest.mark.asyncio
async def test_consolidation_rule(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        group = [await _episode(memory, f"deploy {i}", ["build", "ship"]) for i in range(3)]
        await _episode(memory, "deploy reversed", ["ship", "build", "ship"])  # same set
        await _episode(memory, "deploy failed", ["build", "ship"], success=False)
        for i in range(3):
            await _episode(memory, f"ponder {i}", [])  # empty tool set: never a pattern
        await _episode(memory, "lint once", ["ruff"])  # below min_episodes
        written = await memory.consolidate()
        assert [k.pattern for k in written] == [tool_pattern(frozenset({"build", "ship"}))]
        knowledge = written[0]
        assert knowledge.times_validated == 4
        assert set(group) <= set(knowledge.source_episodes)
        assert len(knowledge.source_episodes) == 4
        assert knowledge.confidence == 0.8  # 4 / (4 + 0 + 1)

        # Consolidating again counts nothing twice; feedback and re-saving keep counters.
        again = await memory.consolidate()
        assert again[0].times_validated == 4
        await memory.record_knowledge_feedback(knowledge.memory_id, valid=False)
        resaved = await memory.save_knowledge(knowledge.pattern, "build then ship", 0.9)
        assert (resaved.times_validated, resaved.times_invalidated) == (4, 1)
        assert resaved.content == "build then ship"
        assert resaved.source_episodes == knowledge.source_episodes
        await _episode(memory, "deploy 5", ["build", "ship"])
        grown = await memory.consolidate()
        assert (grown[0].times_validated, grown[0].times_invalidated) == (5, 1)
        assert grown[0].memory_id == knowledge.memory_id
        found = await memory.search_semantic("build ship tools")
        assert [k.memory_id for k in found] == [knowledge.memory_id]


@pytest.mark.asyncio
async def test_same_pattern_spelled_differently_is_one_record(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        a = await memory.save_knowledge("Retry with backoff", "on 503", sources=["e1"])
        b = await memory.save_knowledge("retry  WITH backoff", "on 503 and 429", sources=["e2"])
        assert a.memory_id == b.memory_id
        assert b.source_episodes == ["e1", "e2"]
        assert (await memory.get_stats())["semantic_memory"]["total_patterns"] == 1
