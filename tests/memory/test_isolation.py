"""Working memory is private to its agent; shared kinds are shared."""

from __future__ import annotations

import asyncio

import pytest

from agentmem.memory.config import WORKING
from tests.memory.support import Backend


@pytest.mark.asyncio
async def test_working_memory_is_invisible_to_other_agents(backend: Backend) -> None:
    async with (
        await backend.open("alice") as alice,
        await backend.open("bob") as bob,
    ):
        seen = []
        bob.on_event(seen.append)
        await alice.add_step("open the vault", "secret code 4711", tool_calls=[{"name": "vault"}])
        assert [s.action for s in await alice.get_recent_steps(5)] == ["open the vault"]
        # Bob sees nothing of it: not in his working memory, context, searches or stats.
        assert await bob.get_recent_steps(5) == []
        assert "vault" not in await bob.get_context()
        assert "vault" not in await bob.get_enriched_context("vault secret code")
        found = await bob.search_all("vault secret code 4711")
        assert found == {"episodic": [], "semantic": [], "skills": []}
        assert (await bob.get_stats())["working_memory"]["stored_steps_all_sessions"] == 0
        # Even asking the store for the working kind in the shared namespace finds nothing.
        assert await bob.store.search(WORKING, bob.namespace, "vault") == []
        # Bob opening Alice's session id still gets his own (empty) working memory.
        async with await backend.open("bob", session_id=alice.session_id) as bob_again:
            assert await bob_again.get_recent_steps(5) == []
        # Shared kinds are shared.
        await alice.save_skill("open_vault", "open the vault", ["vault"])
        assert await bob.get_skill("open_vault") is not None
        await asyncio.sleep(0.3)  # a working-memory event would have arrived by now
        assert {e.kind for e in seen} == {"skill"}


@pytest.mark.asyncio
async def test_working_memory_survives_a_restart_with_same_agent_and_session(
    backend: Backend,
) -> None:
    async with await backend.open("alice") as first:
        session = first.session_id
        await first.add_step("step one", "ok")
        await first.add_step("step two", "ok")
    async with await backend.open("alice", session_id=session) as again:
        steps = await again.get_recent_steps(10)
        assert [(s.step_number, s.action) for s in steps] == [(1, "step one"), (2, "step two")]
        third = await again.add_step("step three", "ok")
        assert third.step_number == 3
