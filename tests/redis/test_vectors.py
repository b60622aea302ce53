"""The per-bucket vec hashes: kept by the write scripts, read by nearest() without decoding."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

import agentmem_redis.store
import agentmem_redis.vector_cache
from agentmem import BackendUnavailable, Record, Ref
from agentmem.inmemory import InMemoryStore
from agentmem.testing import ManualClock
from agentmem.vectors import Embedding
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisClusterProcesses, RedisServer

pytestmark = pytest.mark.asyncio


def _e(values: list[float]) -> Embedding:
    return Embedding.quantize(values)


async def _vec_ids(raw: aioredis.Redis, store: RedisStore, kind: str, ns: str) -> list[str]:
    ids: list[str] = []
    for b in range(store.layout.buckets):
        ids += [k.decode() for k in await raw.hkeys(store.layout.vectors_key(b, kind, ns))]
    return sorted(ids)


async def test_vec_hash_follows_put_overwrite_delete_and_expiry(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    clock = ManualClock()
    store = await open_store_on(redis_server.url, clock=clock)

    def ref(i: str) -> Ref:
        return Ref("episodic", "ns", i)

    await store.put(Record(ref=ref("a"), embedding=_e([1.0, 0.0])))
    await store.put_many(
        [
            Record(ref=ref("b"), embedding=_e([0.0, 1.0])),
            Record(ref=ref("c"), embedding=_e([1.0, 1.0])),
            Record(ref=ref("d"), embedding=_e([1.0, -1.0])),
            Record(ref=ref("d"), text="same ref again, no embedding: the last write wins"),
            Record(
                ref=ref("t"), embedding=_e([1.0, 0.5]), expires_at=clock() + timedelta(seconds=5)
            ),
        ]
    )
    assert await _vec_ids(raw, store, "episodic", "ns") == ["a", "b", "c", "t"]
    stored = await raw.hget(store.layout.vectors_key(0, "episodic", "ns"), "a")
    assert stored == _e([1.0, 0.0]).codes
    await store.put(Record(ref=ref("b"), text="overwritten without an embedding"))
    assert await _vec_ids(raw, store, "episodic", "ns") == ["a", "c", "t"]
    await store.delete(ref("a"))
    await store.delete_many([ref("c")])
    assert await _vec_ids(raw, store, "episodic", "ns") == ["t"]
    assert [h.ref.id for h in await store.nearest([1.0, 0.5], kind="episodic", namespace="ns")] == [
        "t"
    ]
    clock.advance(6)
    assert await store.nearest([1.0, 0.5], kind="episodic", namespace="ns") == []
    assert await store.count("episodic", "ns") == 2  # b, d; reclaims the expired t
    assert await _vec_ids(raw, store, "episodic", "ns") == []
    await store.put(Record(ref=ref("n"), embedding=_e([0.5, 0.5]), body={"n": 1}))
    after = await store.increment(ref("n"), add={"n": 1})
    assert await _vec_ids(raw, store, "episodic", "ns") == (
        [] if after.embedding is None else ["n"]
    )


async def test_vec_hash_matches_records_after_import_many(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    rng = random.Random(3)
    records = [
        Record(
            ref=Ref("episodic", "imp", f"r{i:03}"),
            embedding=_e([rng.uniform(-1, 1) for _ in range(8)]) if i % 3 else None,
            version=2,
            created_at=when,
            updated_at=when,
        )
        for i in range(60)
    ]
    assert await store.import_many(records) == 60
    assert (
        await store.import_many([records[1].stored(version=1, created_at=when, updated_at=when)])
        == 0
    )
    newer = Record(ref=records[2].ref, text="no vector now", version=3, created_at=when)
    assert await store.import_many([newer]) == 1
    key = store.layout.vectors_key(0, "episodic", "imp")
    kept = {k.decode(): v for k, v in (await raw.hgetall(key)).items()}
    for got in await store.get_many([r.ref for r in records]):
        assert got is not None
        if got.embedding is None:
            assert got.ref.id not in kept
        else:
            assert kept[got.ref.id] == got.embedding.codes


async def _compare_with_reference(store: RedisStore, ns: str, dims: int = 4) -> None:
    rng = random.Random(11)
    reference = InMemoryStore()
    records = []
    for i in range(300):
        values = [float(rng.randint(-2, 2)) for _ in range(dims)]  # many exact ties
        records.append(
            Record(
                ref=Ref("episodic", ns, f"r{i:03}"),
                embedding=_e(values) if i % 7 else None,
                tags=frozenset({"even"} if i % 2 == 0 else {"odd"}),
            )
        )
    records.append(Record(ref=Ref("episodic", ns, "short"), embedding=_e([1.0, 2.0])))
    await store.put_many(records)
    await reference.put_many(records)
    for _ in range(10):
        query = [rng.uniform(-1, 1) for _ in range(dims)]
        for tags in (None, {"even"}, {"even", "odd"}):
            for limit in (1, 10, 50):
                got = await store.nearest(
                    query, kind="episodic", namespace=ns, tags=tags, limit=limit
                )
                want = await reference.nearest(
                    query, kind="episodic", namespace=ns, tags=tags, limit=limit
                )
                assert [h.ref.id for h in got] == [h.ref.id for h in want]
                assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(got, want, strict=True))
    await reference.close()


async def test_nearest_matches_the_reference_store(store: RedisStore) -> None:
    await _compare_with_reference(store, "ref")


async def test_nearest_across_buckets_on_a_single_node_in_small_pages(
    redis_server: RedisServer, open_store_on: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agentmem_redis.store, "_VECTOR_PAGE", 7)
    monkeypatch.setattr(agentmem_redis.vector_cache, "_PAGE", 7)
    store = await open_store_on(redis_server.url, buckets=4)
    await _compare_with_reference(store, "buckets")
    # codes over 64 bytes make a hashtable-encoded hash, which HSCAN reads in pages
    await _compare_with_reference(store, "paged", dims=80)


@pytest.mark.redis_cluster
async def test_nearest_across_cluster_buckets(
    redis_cluster: RedisClusterProcesses, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_cluster.url)
    assert store.layout.buckets > 1
    await _compare_with_reference(store, "cluster")


async def test_corrupt_or_absent_vectors_and_records_are_skipped(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    # Damage written to the vec hash behind the store's back: read by the hash paths.
    store = await open_store_on(redis_server.url, vector_sets=False)
    ids = ["best", "second", "third", "fourth"]
    await store.put_many(
        [
            Record(ref=Ref("episodic", "ns", rid), embedding=_e([1.0, 0.1 * i]))
            for i, rid in enumerate(ids)
        ]
    )
    key = store.layout.vectors_key(0, "episodic", "ns")
    await raw.hset(key, "second", b"\x01\x02\x03")  # wrong length: ignored
    await raw.set(store.layout.record_key(Ref("episodic", "ns", "best")), b"\xff\x00")
    await raw.hset(key, "ghost", _e([1.0, 0.0]).codes)  # no record: skipped
    hits = await store.nearest([1.0, 0.0], kind="episodic", namespace="ns", limit=2)
    assert [h.ref.id for h in hits] == ["third", "fourth"]
    assert Ref("episodic", "ns", "best") in store.corruption.refs


async def test_records_from_before_vec_hashes_are_backfilled_at_open(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    store = await open_store_on(redis_server.url, buckets=3, vector_sets=False)
    records = [
        Record(
            ref=Ref("episodic", f"ns{i % 2}", f"r{i:03}"),
            embedding=_e([1.0, float(i)]) if i % 4 else None,
        )
        for i in range(40)
    ]
    await store.put_many(records)
    assert await raw.get(store.layout.vectors_marker_key) == b"1"
    # As an older agentmem-redis left them: no vec hashes, no marker.
    for b in range(3):
        for ns in ("ns0", "ns1"):
            await raw.delete(store.layout.vectors_key(b, "episodic", ns))
    await raw.delete(store.layout.vectors_marker_key)
    assert await store.nearest([1.0, 3.0], kind="episodic", namespace="ns1") == []
    reopened = await open_store_on(redis_server.url)
    assert await raw.get(store.layout.vectors_marker_key) == b"1"
    for ns in ("ns0", "ns1"):
        want = sorted(r.ref.id for r in records if r.ref.namespace == ns and r.embedding)
        assert await _vec_ids(raw, reopened, "episodic", ns) == want
    hits = await reopened.nearest([1.0, 3.0], kind="episodic", namespace="ns1", limit=1)
    assert [h.ref.id for h in hits] == ["r003"]
    assert await reopened.backfill_vectors() == 0  # once per prefix


# -- the client's copy of the vectors (vector_cache) ------------------------------------


async def _same_as_stored(
    cached: RedisStore, plain: RedisStore, ns: str, rng: random.Random
) -> None:
    """``cached`` (vector_cache on) answers exactly as ``plain`` (reading every code)."""
    for _ in range(5):
        query = [rng.uniform(-1, 1) for _ in range(4)]
        for tags in (None, {"even"}):
            got = await cached.nearest(query, kind="episodic", namespace=ns, tags=tags, limit=8)
            want = await plain.nearest(query, kind="episodic", namespace=ns, tags=tags, limit=8)
            assert [(h.ref.id, h.record.version) for h in got] == [
                (h.ref.id, h.record.version) for h in want
            ]


def _rec(ns: str, i: int, rng: random.Random, embedded: bool = True) -> Record:
    return Record(
        ref=Ref("episodic", ns, f"r{i:04}"),
        embedding=_e([rng.uniform(-1, 1) for _ in range(4)]) if embedded else None,
        tags=frozenset({"even"} if i % 2 == 0 else {"odd"}),
    )


async def test_vector_cache_follows_writes_of_another_client(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    rng = random.Random(5)
    searcher = await open_store_on(redis_server.url, buckets=3, vector_sets=False)
    writer = await open_store_on(redis_server.url)
    plain = await open_store_on(redis_server.url, vector_cache=False, vector_sets=False)
    ns = "follow"
    await writer.put_many([_rec(ns, i, rng) for i in range(200)])
    await _same_as_stored(searcher, plain, ns, rng)
    # New records, new vectors for old ones, vectors dropped, records deleted.
    await writer.put_many([_rec(ns, i, rng) for i in range(150, 260)])
    await writer.put_many([_rec(ns, i, rng, embedded=False) for i in range(0, 40)])
    for i in range(40, 60):
        await writer.delete(Ref("episodic", ns, f"r{i:04}"))
    await _same_as_stored(searcher, plain, ns, rng)
    # The searcher's own writes show too.
    await searcher.put_many([_rec(ns, i, rng) for i in range(0, 20)])
    await _same_as_stored(searcher, plain, ns, rng)


async def test_vector_cache_reloads_when_the_change_log_was_trimmed(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    rng = random.Random(6)
    searcher = await open_store_on(redis_server.url, vector_sets=False)
    writer = await open_store_on(redis_server.url)
    plain = await open_store_on(redis_server.url, vector_cache=False, vector_sets=False)
    ns = "trimmed"
    await writer.put_many([_rec(ns, i, rng) for i in range(50)])
    await _same_as_stored(searcher, plain, ns, rng)
    # More changes than the log keeps (8192 ids): the searcher cannot catch up from it.
    for start in range(0, 10_000, 1000):
        await writer.put_many([_rec(ns, i, rng) for i in range(start, start + 1000)])
    versions = writer.layout.vector_versions_key(0, "episodic", ns)
    assert int(await raw.hget(versions, "floor") or 0) > 0
    assert await raw.zcard(writer.layout.vector_log_key(0, "episodic", ns)) < 10_000
    await _same_as_stored(searcher, plain, ns, rng)


async def test_vector_cache_reloads_after_the_server_came_back_in_the_past(
    redis_server_factory: type[RedisServer], open_store_on: StoreFactory
) -> None:
    rng = random.Random(7)
    server = redis_server_factory(persistence="rdb").start()
    searcher = await open_store_on(server.url, socket_timeout=1.0, vector_sets=False)
    plain = await open_store_on(
        server.url, vector_cache=False, vector_sets=False, socket_timeout=1.0
    )
    ns = "past"
    await searcher.put_many([_rec(ns, i, rng) for i in range(100)])
    await searcher.redis.save()  # the snapshot the server will come back from
    await searcher.put_many([_rec(ns, i, rng) for i in range(50, 150)])
    await _same_as_stored(searcher, plain, ns, rng)
    server.restart()  # kill -9: back to the snapshot, as many changes numbered as before
    for store in (plain, searcher):  # each client's pooled connections died with the server
        for _ in range(50):
            try:
                await store.count("episodic", ns)
                break
            except BackendUnavailable:
                await asyncio.sleep(0.1)
    # More changes than the searcher saw before the restart: only the new server
    # generation tells the searcher its numbers mean something else now.
    await plain.put_many([_rec(ns, i, rng) for i in range(100, 300)])
    versions = plain.layout.vector_versions_key(0, "episodic", ns)
    assert int(await plain.redis.hget(versions, "n")) > 250
    await _same_as_stored(searcher, plain, ns, rng)
