"""Cancelling watchers on a real redis-server: every one ends promptly, idle or busy.

On Python 3.11 redis-py's per-command ``asyncio.wait_for`` (used when ``socket_timeout``
is set) can drop a cancellation that arrives as a send completes (CPython gh-86296); the
feed therefore reads on connections of its own, bounded by ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

import pytest

from agentmem import Record, Ref
from agentmem.memory.events import EventHub
from agentmem_redis import RedisStore
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.asyncio

WATCHERS = 300
PROMPT = 1.0


async def _watcher(store: RedisStore, started: asyncio.Event, counter: list[int]) -> None:
    stream = store.watch(namespace="ns")
    await stream.start()
    counter[0] += 1
    if counter[0] == WATCHERS:
        started.set()
    async for _ in stream:
        pass


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> list[float]:
    """Cancel every task at once; seconds from the cancel to each task's end."""
    loop = asyncio.get_running_loop()
    ended: dict[asyncio.Task[None], float] = {}
    for task in tasks:
        task.add_done_callback(lambda t: ended.__setitem__(t, loop.time()))
    start = loop.time()
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=10)
    assert all(t.done() for t in tasks), "a cancelled watcher is still running"
    assert all(t.cancelled() for t in tasks)
    return [ended[t] - start for t in tasks]


async def _writer(store: RedisStore, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        await store.put(Record(ref=Ref("episodic", "ns", f"r{n % 50}"), body={"n": n}))
        n += 1


async def _closes_leaving_nothing(store: RedisStore, caplog: pytest.LogCaptureFixture) -> None:
    """Close ``store``: no task of it may be left pending or destroyed while pending."""
    await store.close()
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not pending, pending


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "events-flowing"])
async def test_cancelled_watchers_end_promptly(
    redis_server: RedisServer,
    open_store_on: StoreFactory,
    busy: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    store = await open_store_on(redis_server.url, socket_timeout=5.0)
    writer_store = await open_store_on(redis_server.url)
    started, counter = asyncio.Event(), [0]
    tasks = [asyncio.create_task(_watcher(store, started, counter)) for _ in range(WATCHERS)]
    await asyncio.wait_for(started.wait(), 30)
    stop = asyncio.Event()
    writer = asyncio.create_task(_writer(writer_store, stop)) if busy else None
    await asyncio.sleep(0.5)  # every watcher is inside a blocking XREAD (or between reads)
    delays = await _cancel_all(tasks)
    stop.set()
    if writer is not None:
        await writer
    slowest = max(delays)
    print(
        f"\n{sys.version.split()[0]} {'busy' if busy else 'idle'}: {WATCHERS} watchers, "
        f"slowest end {slowest * 1000:.1f} ms, median {sorted(delays)[WATCHERS // 2] * 1000:.1f} ms"
    )
    assert slowest < PROMPT
    await _closes_leaving_nothing(store, caplog)


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "events-flowing"])
async def test_event_hub_close_is_prompt(
    redis_server: RedisServer,
    open_store_on: StoreFactory,
    busy: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    store = await open_store_on(redis_server.url, socket_timeout=5.0)
    writer_store = await open_store_on(redis_server.url)
    hubs = [EventHub(store, "ns", f"agent{i}") for i in range(100)]
    for hub in hubs:
        await hub.start()
    stop = asyncio.Event()
    writer = asyncio.create_task(_writer(writer_store, stop)) if busy else None
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(hub.close() for hub in hubs))
    took = loop.time() - start
    stop.set()
    if writer is not None:
        await writer
    print(f"\n{sys.version.split()[0]}: 100 EventHub.close() took {took * 1000:.1f} ms")
    assert took < PROMPT
    assert not any(hub.running for hub in hubs)
    await _closes_leaving_nothing(store, caplog)
