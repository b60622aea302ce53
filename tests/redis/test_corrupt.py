"""Garbage under a real Redis key is skipped by reads of many records, reported once,
raised by get, and found and removed by agentmem.corruption."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from agentmem import CorruptRecord, Record, Ref
from agentmem.corruption import corrupt_count, delete_corrupt, find_corrupt
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisClusterProcesses

pytestmark = pytest.mark.asyncio

NS = "corrupt"


async def test_garbage_under_one_key_is_skipped_and_reported_once(
    store: RedisStore, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    refs = [Ref("episodic", NS, f"ep-{i}") for i in range(4)]
    await store.put_many([Record(ref=r, text=f"deploy the web app {r.id}") for r in refs])
    bad, good = refs[1], [r for r in refs if r != refs[1]]
    key = store.layout.record_key(bad)
    assert await raw.exists(key)
    await raw.set(key, b"\x11garbage")
    caplog.set_level(logging.WARNING, logger="agentmem.corruption")
    for _ in range(2):
        hits = await store.search("episodic", NS, "deploy web", limit=10)
        assert sorted(h.ref for h in hits) == good
        assert [r.ref for r in (await store.scan("episodic", NS)).records] == good
        first = await store.scan("episodic", NS, limit=1)
        second = await store.scan("episodic", NS, limit=1, cursor=first.cursor)
        assert [r.ref for r in first.records + second.records] == [refs[0]]  # ep-1 skipped
        assert second.cursor == bad.id
        got = await store.get_many(refs)
        assert [r is not None for r in got] == [True, False, True, True]
    with pytest.raises(CorruptRecord):
        await store.get(bad)
    warnings = [r for r in caplog.records if r.name == "agentmem.corruption"]
    assert len(warnings) == 1
    assert f"episodic/{NS}/{bad.id}" in warnings[0].getMessage()
    assert corrupt_count(store) == 1

    assert await find_corrupt(store, "episodic", NS) == [bad]
    assert ("episodic", NS) in await store.collections()
    assert await find_corrupt(store) == [bad]  # every collection of this prefix
    assert await delete_corrupt(store, [bad, refs[0]]) == 1
    assert await store.get(bad) is None
    assert await find_corrupt(store, "episodic", NS) == []
    assert await store.count("episodic", NS) == 3
    # The ref can be written again afterwards.
    assert (await store.put(Record(ref=bad, text="fresh deploy"))).text == "fresh deploy"


async def test_a_key_of_the_wrong_type_is_skipped_too(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    refs = [Ref("episodic", NS, f"w-{i}") for i in range(3)]
    await store.put_many([Record(ref=r, text=f"deploy {r.id}") for r in refs])
    key = store.layout.record_key(refs[0])
    await raw.delete(key)
    await raw.hset(key, "not", "ours")
    hits = await store.search("episodic", NS, "deploy", limit=10)
    assert sorted(h.ref for h in hits) == refs[1:]
    assert [r.ref for r in (await store.scan("episodic", NS)).records] == refs[1:]
    with pytest.raises(CorruptRecord):
        await store.get(refs[0])
    assert await find_corrupt(store, "episodic", NS) == [refs[0]]
    assert await delete_corrupt(store, [refs[0]]) == 1
    assert not await raw.exists(key)


async def test_collections_and_find_corrupt_span_every_cluster_node(
    redis_cluster: RedisClusterProcesses, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_cluster.url)
    refs = [
        Ref(kind, f"ns-{n}", f"id-{i}")
        for kind in ("episodic", "skill")
        for n in range(3)
        for i in range(4)
    ]
    await store.put_many([Record(ref=r, text="spread over buckets") for r in refs])
    expected = sorted({(r.kind, r.namespace) for r in refs})
    assert await store.collections() == expected
    bad = refs[5]
    await store.redis.set(store.layout.record_key(bad), b"\x11garbage")
    assert await find_corrupt(store) == [bad]
