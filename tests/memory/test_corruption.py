"""One corrupt episode (garbage bytes under its real Redis key, or in the SQLite file)
does not take the memory layer's searches down: the other hits still come back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agentmem import CorruptRecord, Ref
from agentmem.corruption import delete_corrupt, find_corrupt
from agentmem.memory import AgentMemory
from agentmem.routing import FailoverStore
from tests.memory.support import Backend, new_namespace

GARBAGE = b"\x11garbage"


async def plant(backend: Backend, memory: AgentMemory, ref: Ref) -> None:
    """Overwrite the stored bytes of ``ref`` where the adapter reads them from."""
    if backend.name == "sqlite":
        with sqlite3.connect(backend.tmp / "shared.db") as conn:
            conn.execute(
                "UPDATE records SET blob = ? WHERE kind = ? AND namespace = ? AND id = ?",
                (GARBAGE, ref.kind, ref.namespace, ref.id),
            )
        return
    store = memory.store
    assert isinstance(store, FailoverStore)
    key = store.primary.layout.record_key(ref)  # type: ignore[attr-defined]
    client = aioredis.Redis(port=backend.redis_port)
    try:
        assert await client.exists(key)
        await client.set(key, GARBAGE)
    finally:
        await client.aclose()


@pytest.fixture(params=["sqlite", "redis"])
def persistent(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backends that keep bytes someone else can damage."""
    port = request.getfixturevalue("redis_server").port if request.param == "redis" else None
    return Backend(request.param, tmp_path, new_namespace(), port)


@pytest.mark.asyncio
async def test_searches_skip_a_corrupt_episode(persistent: Backend) -> None:
    async with await persistent.open("a1") as memory:
        episodes = [
            await memory.save_episode(f"deploy the web app, try {i}", "deployed", True, 1.0)
            for i in range(3)
        ]
        await memory.save_knowledge("deploy on fridays", "do not")
        await memory.save_skill("deploy", "deploy the web app", [{"action": "deploy"}])
        bad = episodes[1]
        ref = Ref("episodic", memory.namespace, bad.memory_id)
        await plant(persistent, memory, ref)
        good = sorted(e.memory_id for e in episodes if e is not bad)

        found = await memory.search_episodes("deploy web app", limit=10)
        assert sorted(e.memory_id for e in found) == good
        everything = await memory.search_all("deploy", limit_per_type=5)
        assert sorted(e.memory_id for e in everything["episodic"]) == good
        assert len(everything["semantic"]) == 1 and len(everything["skills"]) == 1
        context = await memory.get_enriched_context("deploy web app", limit_per_type=5)
        assert "[Relevant Past Experiences]" in context and "[Relevant Skills]" in context
        with pytest.raises(CorruptRecord):
            await memory.get_episode(bad.memory_id)
        assert (await memory.get_stats())["corrupt_records"] == 1

        # What `agentmem doctor` does: find (one collection or the whole store), delete.
        assert await find_corrupt(memory.store, "episodic", memory.namespace) == [ref]
        assert ref in await find_corrupt(memory.store)
        assert await delete_corrupt(memory.store, [ref]) == 1
        assert await memory.get_episode(bad.memory_id) is None
        json.dumps(await memory.get_stats())  # still plain data
