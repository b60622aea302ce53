"""The Redis store's own behaviour on real servers: keys, errors, corruption, TTL, feed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from agentmem import (
    BackendUnavailable,
    ConfigurationError,
    ConflictError,
    CorruptRecord,
    Record,
    RecordTooLarge,
    Ref,
)
from agentmem.testing import ManualClock
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisServer, free_port

pytestmark = pytest.mark.asyncio


async def _keys(raw: aioredis.Redis, prefix: str) -> list[str]:
    return sorted([k.decode() async for k in raw.scan_iter(match=f"{prefix}:*", count=1000)])


async def test_open_pings_and_loads_layout(
    store: RedisStore, raw: aioredis.Redis, prefix: str
) -> None:
    assert store.layout.buckets == 1
    assert json.loads(await raw.get(f"{prefix}:config")) == {"format": 1, "buckets": 1}
    assert store.capabilities.cross_process
    assert store.capabilities.durable
    assert store.url.startswith("redis://")


async def test_key_layout_on_the_wire(store: RedisStore, raw: aioredis.Redis, prefix: str) -> None:
    await store.put(
        Record(
            ref=Ref("skill", "team:a", "id*1"),
            text="Hello world",
            tags={"t{x}"},
            embedding=[0.5, -0.5],
        )
    )
    base = f"{prefix}:{{{prefix}:0}}"
    coll = "skill:team%3Aa"
    keys = await _keys(raw, prefix)
    assert keys == sorted(
        [
            f"{prefix}:config",
            f"{prefix}:vectors",
            f"{base}:changes",
            f"{base}:r:{coll}:id%2A1",
            f"{base}:ids:{coll}",
            f"{base}:meta:{coll}",
            f"{base}:dl:{coll}",
            f"{base}:stats:{coll}",
            f"{base}:vec:{coll}",
            f"{base}:vecv:{coll}",
            f"{base}:vecm:{coll}",
            f"{base}:t:{coll}:hello",
            f"{base}:t:{coll}:world",
            f"{base}:t:{coll}:t",
            f"{base}:t:{coll}:x",
            f"{base}:g:{coll}:t%7Bx%7D",
            # Redis 8: the vector set of 2-dimension vectors, and the marker set at open
            *([f"{base}:vs:{coll}:2", f"{prefix}:vsets"] if store.vector_sets else []),
        ]
    )
    assert await raw.zrange(f"{base}:ids:{coll}", 0, -1) == [b"id*1"]


async def test_hostile_namespace_cannot_reach_another(store: RedisStore) -> None:
    await store.put(Record(ref=Ref("skill", "a", "b:c"), text="one"))
    await store.put(Record(ref=Ref("skill", "a:b", "c"), text="two"))
    await store.put(Record(ref=Ref("skill", "*", "*"), text="three"))
    assert (await store.get(Ref("skill", "a", "b:c"))).text == "one"  # type: ignore[union-attr]
    assert (await store.get(Ref("skill", "a:b", "c"))).text == "two"  # type: ignore[union-attr]
    assert await store.count("skill", "*") == 1
    assert await store.count("skill", "a") == 1
    assert [r.ref.id for r in (await store.scan("skill", "*")).records] == ["*"]


async def test_binary_and_unicode_round_trip_and_search(store: RedisStore) -> None:
    ref = Ref("semantic", "ns", "\u65e5\u672c\U0001f600")
    body = {"blob": bytes(range(256)), "s": "\u00e9\u00e8\u0000x"}
    await store.put(
        Record(ref=ref, body=body, text="Stra\u00dfe \u6771\u4eac \U0001f600 caf\u00e9")
    )
    got = await store.get(ref)
    assert got is not None
    assert got.body == body
    hits = await store.search("semantic", "ns", "STRASSE caf\u00c9")
    assert [h.ref for h in hits] == [ref]


async def test_huge_body_is_record_too_large(
    store: RedisStore, open_store_on: StoreFactory, redis_server: RedisServer
) -> None:
    small = await open_store_on(redis_server.url, max_record_size=4096)
    ref = Ref("skill", "ns", "big")
    with pytest.raises(RecordTooLarge):
        await small.put(Record(ref=ref, body={"x": os.urandom(8192)}))
    with pytest.raises(RecordTooLarge):
        await small.put_many(
            [Record(ref=Ref("skill", "ns", "ok")), Record(ref=ref, body={"z": os.urandom(10**5)})]
        )
    assert await small.get(Ref("skill", "ns", "ok")) is None  # nothing of the batch was sent
    big = await store.put(Record(ref=ref, body={"x": "word " * 200_000}))
    assert (await store.get(ref)) == big


async def test_corrupt_bytes_under_our_keys_are_corrupt_record(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    ref = Ref("skill", "ns", "victim")
    other = Ref("skill", "ns", "other")
    await store.put(Record(ref=ref, text="alpha"))
    await store.put(Record(ref=other, text="beta"))
    key = store.layout.record_key(ref)
    for junk in [b"", b"\x00", b"garbage", b"\x10\xc1", b"\x11" + b"x" * 50]:
        await raw.set(key, junk)
        with pytest.raises(CorruptRecord):
            await store.get(ref)
        # Reads of many records skip it (agentmem.corruption) and keep the others.
        assert [r and r.ref for r in await store.get_many([other, ref])] == [other, None]
        assert await store.search("skill", "ns", "alpha") == []
        assert [r.ref for r in (await store.scan("skill", "ns")).records] == [other]
    assert store.corruption.refs == {ref}
    # a valid record of another address copied under our key is refused, not returned
    await raw.set(key, await raw.get(store.layout.record_key(other)))
    with pytest.raises(CorruptRecord):
        await store.get(ref)
    # a value of the wrong type
    await raw.delete(key)
    await raw.hset(key, "f", "v")
    with pytest.raises(CorruptRecord):
        await store.get(ref)
    # garbage in the index metadata
    base, coll = store.layout.base(0), "skill:ns"
    await raw.hset(f"{base}:meta:{coll}", "other", b"\xc1not msgpack")
    with pytest.raises(CorruptRecord):
        await store.put(Record(ref=other, text="gamma"))
    with pytest.raises(CorruptRecord):
        await store.delete(other)


async def test_wrong_password_is_configuration_error(
    redis_server_factory: type[RedisServer], open_store_on: StoreFactory
) -> None:
    server = redis_server_factory(password="right-one").start()
    with pytest.raises(ConfigurationError, match="password"):
        await open_store_on(f"redis://:wrong@127.0.0.1:{server.port}/0")
    with pytest.raises(ConfigurationError):
        await open_store_on(f"redis://127.0.0.1:{server.port}/0")  # NOAUTH
    ok = await open_store_on(f"redis://:right-one@127.0.0.1:{server.port}/0")
    await ok.ping()


async def test_acl_user_without_permission_is_configuration_error(
    redis_server_factory: type[RedisServer],
    open_store_on: StoreFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = redis_server_factory().start()
    admin = aioredis.Redis(port=server.port)
    try:
        await admin.execute_command("ACL", "SETUSER", "reader", "on", ">pw", "~*", "+ping", "+get")
        await admin.execute_command(
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-config"
        )
    finally:
        await admin.aclose()
    with pytest.raises(ConfigurationError):
        await open_store_on(f"redis://reader:pw@127.0.0.1:{server.port}/0")
    # CONFIG refused: the persistence check is skipped with an INFO line, the store works
    caplog.set_level(logging.INFO, logger="agentmem")
    store = await open_store_on(f"redis://app:pw@127.0.0.1:{server.port}/0", warn_persistence=True)
    await store.put(Record(ref=Ref("skill", "ns", "a"), text="x"))
    assert any("cannot check Redis persistence" in r.message for r in caplog.records)


async def test_refused_port_is_backend_unavailable(open_store_on: StoreFactory) -> None:
    with pytest.raises(BackendUnavailable):
        await open_store_on(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=1)


async def test_hung_server_is_backend_unavailable(
    redis_server_factory: type[RedisServer], open_store_on: StoreFactory
) -> None:
    server = redis_server_factory().start()
    store = await open_store_on(server.url, socket_timeout=0.5)
    await store.put(Record(ref=Ref("skill", "ns", "a")))
    server.pause()
    try:
        with pytest.raises(BackendUnavailable):
            await store.get(Ref("skill", "ns", "a"))
    finally:
        server.resume()
    assert await store.get(Ref("skill", "ns", "a")) is not None


async def test_restarted_server_reloads_scripts(
    redis_server_factory: type[RedisServer], open_store_on: StoreFactory
) -> None:
    server = redis_server_factory(persistence="aof").start()
    store = await open_store_on(server.url)
    ref = Ref("skill", "ns", "a")
    await store.put(Record(ref=ref, text="before"))
    server.restart()
    with pytest.raises(BackendUnavailable):
        await store.get(ref)  # the pooled connection died with the server
    assert (await store.get(ref)).text == "before"  # type: ignore[union-attr]
    assert (await store.put(Record(ref=ref, text="after"))).version == 2  # NOSCRIPT -> reload


async def test_persistence_warning(
    redis_server_factory: type[RedisServer],
    open_store_on: StoreFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agentmem")
    bare = redis_server_factory().start()
    await open_store_on(bare.url, warn_persistence=True)
    assert [r.levelname for r in caplog.records if "no persistence" in r.message] == ["WARNING"]
    caplog.clear()
    durable = redis_server_factory(persistence="aof").start()
    await open_store_on(durable.url, warn_persistence=True)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    evicting = redis_server_factory(
        persistence="aof", extra_args=["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]
    ).start()
    await open_store_on(evicting.url, warn_persistence=True)
    assert any("allkeys-lru" in r.message and r.levelname == "WARNING" for r in caplog.records)


async def test_layout_bucket_count_is_fixed_per_prefix(
    store: RedisStore, redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    with pytest.raises(ConfigurationError, match="buckets=1"):
        await open_store_on(redis_server.url, buckets=4)
    again = await open_store_on(redis_server.url)
    assert again.layout.buckets == 1


async def test_many_buckets_on_a_single_node(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    store = await open_store_on(redis_server.url, prefix="b4" + redis_server.url[-6:-2], buckets=4)
    ns = "many-buckets"
    await store.put_many(
        [Record(ref=Ref("skill", ns, f"{i:03}"), text=f"w{i % 7} common") for i in range(60)]
    )
    assert await store.count("skill", ns) == 60
    page = await store.scan("skill", ns, limit=25)
    ids = [r.ref.id for r in page.records]
    page2 = await store.scan("skill", ns, limit=50, cursor=page.cursor)
    assert ids + [r.ref.id for r in page2.records] == [f"{i:03}" for i in range(60)]
    assert page2.cursor is None
    hits = await store.search("skill", ns, "w3", limit=100)
    assert sorted(h.ref.id for h in hits) == [f"{i:03}" for i in range(60) if i % 7 == 3]


async def test_concurrent_increments_lose_no_update(
    redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    stores = [await open_store_on(redis_server.url) for _ in range(3)]
    ref = Ref("skill", "ns", "counter")
    await stores[0].put(Record(ref=ref, body={"n": 0}))

    async def increment(store: RedisStore, times: int) -> None:
        for _ in range(times):
            while True:
                current = await store.get(ref)
                assert current is not None
                try:
                    await store.put(
                        Record(ref=ref, body={"n": current.body["n"] + 1}),
                        expected_version=current.version,
                    )
                    break
                except ConflictError:
                    continue

    await asyncio.gather(*(increment(stores[i % 3], 10) for i in range(12)))
    final = await stores[1].get(ref)
    assert final is not None
    assert final.body["n"] == 120
    assert final.version == 121


async def test_plain_puts_race_to_distinct_versions(
    store: RedisStore, redis_server: RedisServer, open_store_on: StoreFactory
) -> None:
    other = await open_store_on(redis_server.url)
    ref = Ref("skill", "ns", "hot")
    results = await asyncio.gather(
        *(s.put(Record(ref=ref, body={"i": i})) for i, s in enumerate([store, other] * 15))
    )
    assert sorted(r.version for r in results) == list(range(1, 31))


async def test_ttl_is_native_and_index_entries_are_reclaimed(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis, prefix: str
) -> None:
    clock = ManualClock()
    store = await open_store_on(redis_server.url, clock=clock)
    ref = Ref("working", "ns", "step")
    await store.put(
        Record(ref=ref, text="transient thought", expires_at=clock() + timedelta(seconds=60))
    )
    await store.put(Record(ref=Ref("working", "ns", "keep"), text="durable thought"))
    pttl = await raw.pttl(store.layout.record_key(ref))
    assert 50_000 < pttl <= 61_000
    clock.advance(61)
    assert await store.get(ref) is None
    assert await store.count("working", "ns") == 1  # also reclaims the expired entries
    assert [h.ref.id for h in await store.search("working", "ns", "thought")] == ["keep"]
    keys = await _keys(raw, prefix)
    assert not [k for k in keys if k.endswith(":transient")]
    assert await raw.exists(store.layout.record_key(ref)) == 0
    base = store.layout.base(0)
    assert await raw.hkeys(f"{base}:meta:working:ns") == [b"keep"]
    assert await raw.zcard(f"{base}:exp:working:ns") == 0


async def test_pubsub_notice_per_change(
    store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    client = aioredis.Redis(port=redis_server.port)
    pubsub = client.pubsub()
    await pubsub.subscribe(f"{prefix}:changes")
    try:
        assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"  # type: ignore[index]
        await store.put(Record(ref=Ref("skill", "ns", "a"), text="x"))
        await store.delete(Ref("skill", "ns", "a"))
        notices = []
        while len(notices) < 2:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if message:
                notices.append(json.loads(message["data"]))
        assert [(n["op"], n["kind"], n["namespace"], n["id"], n["version"]) for n in notices] == [
            ("put", "skill", "ns", "a", 1),
            ("delete", "skill", "ns", "a", 1),
        ]
        assert notices[0]["origin"] == store.origin
        assert notices[0]["cursor"]
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_bounded_pool_makes_callers_wait(
    redis_server: RedisServer, open_store_on: StoreFactory, raw: aioredis.Redis
) -> None:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    store = await open_store_on(
        redis_server.url, max_connections=2, pool_timeout=10, client_name=name
    )
    refs = [Ref("skill", "ns", f"r{i}") for i in range(40)]
    await store.put_many([Record(ref=r) for r in refs])
    got = await asyncio.gather(*(store.get(r) for r in refs))
    assert all(g is not None for g in got)
    clients = await raw.client_list()
    assert 1 <= len([c for c in clients if c["name"] == name]) <= 2


async def test_unix_socket_url(
    redis_server_factory: type[RedisServer], open_store_on: StoreFactory, tmp_path: object
) -> None:
    server = redis_server_factory(
        extra_args=["--unixsocket", "redis.sock", "--unixsocketperm", "700"]
    ).start()
    store = await open_store_on(f"unix://{server.directory}/redis.sock?db=1")
    await store.put(Record(ref=Ref("skill", "ns", "u"), text="via socket"))
    assert (await store.get(Ref("skill", "ns", "u"))).text == "via socket"  # type: ignore[union-attr]


async def test_watch_skips_foreign_stream_entries(store: RedisStore, raw: aioredis.Redis) -> None:
    async with store.watch() as stream:
        await raw.xadd(f"{store.layout.base(0)}:changes", {"op": "put", "junk": "1"})
        await store.put(Record(ref=Ref("skill", "ns", "a")))
        change = await stream.next(5)
        assert change is not None
        assert change.ref.id == "a"


async def test_bad_cursor_is_invalid_input(store: RedisStore) -> None:
    from agentmem import InvalidInput

    with pytest.raises(InvalidInput):
        store.watch(since="not-a-cursor")
