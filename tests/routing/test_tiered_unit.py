"""TieredStore over real memory:// stores."""

from __future__ import annotations

import logging

import pytest

from agentmem import open_store
from agentmem.errors import ConfigurationError, ConflictError
from agentmem.inmemory import InMemoryStore
from agentmem.routing import TieredStore, tiered_url
from agentmem.store import Record, Ref

pytestmark = pytest.mark.asyncio

KIND, NS = "skill", "shared"


def rec(i: int | str, text: str = "deploy the service", **body: object) -> Record:
    return Record(ref=Ref(KIND, NS, f"s{i}"), text=text, body=dict(body))


async def test_write_through_durable_first_with_its_version() -> None:
    fast, durable = InMemoryStore(), InMemoryStore()
    async with TieredStore(fast, durable) as store:
        await durable.put(rec(1, n=0))  # the durable store already holds v1
        stored = await store.put(rec(1, n=1))
        assert stored.version == 2
        in_fast = await fast.get(stored.ref)
        in_durable = await durable.get(stored.ref)
        assert in_fast is not None
        assert in_durable is not None
        assert in_fast.version == in_durable.version == 2
        assert in_fast.body == {"n": 1}
        many = await store.put_many([rec(2), rec(3)])
        assert [r.version for r in many] == [1, 1]
        assert await fast.count(KIND, NS) == 3


async def test_compare_and_set_is_checked_by_the_durable_store() -> None:
    async with TieredStore(InMemoryStore(), InMemoryStore()) as store:
        await store.put(rec(1))
        with pytest.raises(ConflictError):
            await store.put(rec(1), expected_version=5)
        assert (await store.put(rec(1), expected_version=1)).version == 2


async def test_read_falls_through_and_backfills_the_fast_store() -> None:
    fast, durable = InMemoryStore(), InMemoryStore()
    async with TieredStore(fast, durable) as store:
        only_durable = await durable.put(rec(1, n=1))
        got = await store.get(only_durable.ref)
        assert got is not None
        assert got.version == 1
        backfilled = await fast.get(only_durable.ref)
        assert backfilled is not None
        assert backfilled.body == {"n": 1}
        await durable.put(rec(2))
        await store.put(rec(3))
        found = await store.get_many([rec(2).ref, rec("missing").ref, rec(3).ref])
        assert [r.ref.id if r else None for r in found] == ["s2", None, "s3"]
        assert await fast.get(rec(2).ref) is not None


async def test_search_scan_count_and_watch_use_the_fast_store() -> None:
    fast, durable = InMemoryStore(), InMemoryStore()
    async with TieredStore(fast, durable) as store, store.watch(KIND, NS) as changes:
        await store.put(rec(1, text="deploy with helm"))
        await fast.put(rec("other-agent", text="deploy by hand"))
        hits = await store.search(KIND, NS, "deploy")
        assert sorted(h.ref.id for h in hits) == ["s1", "sother-agent"]
        assert await store.count(KIND, NS) == 2
        assert [r.ref.id for r in (await store.scan(KIND, NS)).records] == ["s1", "sother-agent"]
        change = await changes.next(5)
        assert change is not None
        assert change.ref == rec(1).ref


async def test_delete_removes_from_both() -> None:
    fast, durable = InMemoryStore(), InMemoryStore()
    async with TieredStore(fast, durable) as store:
        await store.put(rec(1))
        await store.put(rec(2))
        assert await store.delete(rec(1).ref)
        assert await store.delete_many([rec(2).ref, rec(9).ref]) == 1
        assert await fast.count(KIND, NS) == 0
        assert await durable.count(KIND, NS) == 0


async def test_fast_store_holding_a_newer_version_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fast, durable = InMemoryStore(), InMemoryStore()
    async with TieredStore(fast, durable) as store:
        await fast.put(rec(1, who="elsewhere"))
        await fast.put(rec(1, who="elsewhere"))
        with caplog.at_level(logging.WARNING, logger="agentmem.routing"):
            await store.put(rec(1, who="me"))
        assert any("kept in" in r.message for r in caplog.records)


async def test_tiered_url_opens_through_the_plugin_hook() -> None:
    url = tiered_url("memory://tier-fast", "memory://tier-durable")
    async with await open_store(url) as store:
        assert isinstance(store, TieredStore)
        await store.put(rec(1))
        assert store.url.startswith("tiered://?fast=memory")
    async with InMemoryStore("tier-fast") as fast:
        assert await fast.get(rec(1).ref) is not None


@pytest.mark.parametrize(
    "url",
    [
        "tiered://?fast=memory%3A%2F%2F",
        "tiered://?fast=memory%3A%2F%2F&durable=nosuch%3A%2F%2F",
        "tiered://?fast=memory%3A%2F%2F&durable=memory%3A%2F%2F&extra=1",
        "tiered://?fast=memory://&durable=memory://&fast=memory://",
    ],
)
async def test_bad_tiered_urls_fail_at_open(url: str) -> None:
    with pytest.raises(ConfigurationError):
        await open_store(url)
