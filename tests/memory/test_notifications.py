"""Notifications: other agents' writes arrive (callbacks and iterator); own ones do not.

Latency is measured and printed, never asserted (timing belongs in benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from agentmem.memory import MemoryEvent
from tests.memory.support import Backend, read_json_line


@pytest.mark.asyncio
async def test_other_agents_writes_arrive_own_are_filtered(backend: Backend) -> None:
    async with (
        await backend.open("agent-1") as one,
        await backend.open("agent-2") as two,
    ):
        received: list[MemoryEvent] = []
        arrived = asyncio.Event()

        async def on_event(event: MemoryEvent) -> None:
            received.append(event)
            if len(received) == 3:
                arrived.set()

        two.on_event(on_event)
        own: list[MemoryEvent] = []
        one.on_event(own.append)
        iterator = two.events()
        await one.add_step("look", "saw it")  # working memory: never an event
        episode = await one.save_episode("look around", "saw it", True, 1.0)
        knowledge = await one.save_knowledge("look before you leap", "check first")
        await one.save_skill("look", "look around", [])
        await asyncio.wait_for(arrived.wait(), 30)
        assert [(e.kind, e.memory_id, e.agent_id, e.created) for e in received] == [
            ("episodic", episode.memory_id, "agent-1", True),
            ("semantic", knowledge.memory_id, "agent-1", True),
            ("skill", "look", "agent-1", True),
        ]
        first = await asyncio.wait_for(anext(iterator), 30)
        assert first.memory_id == episode.memory_id
        await asyncio.sleep(0.2)
        assert own == []  # agent 1 is not told about its own writes


@pytest.mark.asyncio
async def test_a_failing_callback_is_logged_and_delivery_goes_on(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        await backend.open("agent-1") as one,
        await backend.open("agent-2") as two,
    ):
        got = asyncio.Event()

        def broken(event: MemoryEvent) -> None:
            raise RuntimeError("callback bug")

        two.on_event(broken)
        two.on_event(lambda event: got.set())
        await one.save_skill("s", "a skill", [])
        await asyncio.wait_for(got.wait(), 30)
        assert "callback bug" in caplog.text


@pytest.mark.asyncio
async def test_iterators_end_when_the_adapter_closes(backend: Backend) -> None:
    memory = await backend.open("agent-1")
    iterator = memory.events()
    pending = asyncio.ensure_future(anext(iterator, None))
    await asyncio.sleep(0.05)
    await memory.close()
    assert await asyncio.wait_for(pending, 10) is None
    await memory.close()  # idempotent


@pytest.mark.asyncio
async def test_notified_across_processes_and_found_by_search(shared_backend: Backend) -> None:
    """Agent 1 in another process saves an episode; agent 2 hears of it and finds it."""
    async with await shared_backend.open("agent-2") as two:
        iterator = two.events()
        worker = shared_backend.worker("agent-1", "episode")
        try:
            assert worker.stdin is not None
            assert read_json_line(worker) == {"ready": True}
            worker.stdin.write("go\n")
            worker.stdin.flush()
            event = await asyncio.wait_for(anext(iterator), 30)
            heard = time.time()
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
        finally:
            if worker.poll() is None:
                worker.kill()
        result = json.loads(out.strip().splitlines()[-1])
        assert (event.kind, event.memory_id, event.agent_id) == (
            "episodic",
            result["memory_id"],
            "agent-1",
        )
        found = await two.search_episodes("flaky payments endpoint")
        assert [e.memory_id for e in found] == [result["memory_id"]]
        # Agent 1's working memory (a "private step" still in its working memory) is unseen.
        assert "private" not in await two.get_enriched_context("private step nobody")
        print(
            f"\n{shared_backend.name}: notified {1000 * (heard - result['sent']):.1f} ms after "
            "the other process started saving the episode"
        )
