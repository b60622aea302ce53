"""Search agrees with the memory:// reference store, also where early termination kicks in."""

from __future__ import annotations

import random

import pytest

from agentmem import Record, Ref
from agentmem.inmemory import InMemoryStore
from agentmem.testing import ManualClock
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisClusterProcesses, RedisServer

pytestmark = pytest.mark.asyncio

VOCABULARY = [f"w{i}" for i in range(400)]
WEIGHTS = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]  # Zipf


def zipf_records(ns: str, count: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        words = rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(3, 40))
        tags = {rng.choice(["red", "green", "blue"])} if i % 3 else set()
        records.append(
            Record(ref=Ref("episodic", ns, f"doc{i:05}"), text=" ".join(words), tags=tags)
        )
    return records


QUERIES = ["w0", "w0 w1", "w1 w2 w3", "w0 w399", "w250", "w5 w17 w0 w1", "nothing here", "w2 red"]


async def check_agrees(store: RedisStore, ns: str, count: int) -> None:
    clock = ManualClock()
    memory = InMemoryStore(clock=clock)
    records = zipf_records(ns, count, seed=count)
    for start in range(0, count, 500):
        await store.put_many(records[start : start + 500])
        await memory.put_many(records[start : start + 500])
    for query in QUERIES:
        for limit in (1, 5, 50, 10_000):
            for tags in (None, {"red"}):
                want = await memory.search("episodic", ns, query, limit=limit, tags=tags)
                got = await store.search("episodic", ns, query, limit=limit, tags=tags)
                assert [h.ref.id for h in got] == [h.ref.id for h in want], (query, limit, tags)
                assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-12)


async def test_search_agrees_with_memory_store(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_server.url)
    await check_agrees(store, "zipf-small", 300)


async def test_search_agrees_past_the_early_termination_point(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    # 3000 records: the common terms have thousands of postings, so the max-score walk
    # stops long before reading them all for small limits; the hits must not change.
    store = await open_store_on(redis_server.url)
    await check_agrees(store, "zipf-large", 3000)


async def test_search_budget_bounds_the_work(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_server.url, search_budget=300)
    ns = "budget"
    await store.put_many(zipf_records(ns, 1000, seed=7))
    hits = await store.search("episodic", ns, "w0 w1", limit=10_000)
    assert 0 < len(hits) < 1000  # stopped at the budget: best found so far


async def test_cluster_search_agrees_with_memory_store(
    redis_cluster: RedisClusterProcesses, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_cluster.url)
    assert store.layout.buckets == 16
    await check_agrees(store, "zipf-cluster", 600)
