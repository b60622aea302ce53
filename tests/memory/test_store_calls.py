"""How many store calls (and Redis commands) add_step, save_episode and get_episode cost.

The adapter runs on ``backend="redis"`` (Redis with a SQLite fallback) against a private
redis-server started by the test. The store the adapter opens is wrapped in a counting
proxy that delegates every call to that real store; the Redis side is measured with the
server's own ``INFO commandstats``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

import agentmem.memory.factory as factory
from agentmem.memory import AgentMemory
from tests.memory.support import Backend, available_backends, new_namespace

pytestmark = pytest.mark.asyncio

COUNTED = frozenset(
    {
        "put",
        "put_many",
        "get",
        "get_many",
        "delete",
        "delete_many",
        "count",
        "scan",
        "search",
        "nearest",
        "increment",
        "import_many",
    }
)


class CountingStore:
    """Delegates everything to a real store; counts the data calls made through it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in COUNTED:
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted

    async def __aenter__(self) -> CountingStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.close()

    def take(self) -> dict[str, int]:
        out = dict(self.calls)
        self.calls.clear()
        return out


async def _commands(raw: aioredis.Redis) -> Counter[str]:
    stats = await raw.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def _open(
    monkeypatch: pytest.MonkeyPatch, backend: Backend
) -> tuple[AgentMemory, CountingStore]:
    proxies: list[CountingStore] = []
    real_open = factory.open_store

    async def open_counting(*args: Any, **kwargs: Any) -> Any:
        proxy = CountingStore(await real_open(*args, **kwargs))
        proxies.append(proxy)
        return proxy

    monkeypatch.setattr(factory, "open_store", open_counting)
    memory = await backend.open("counter", enable_pubsub=False, working_capacity=50)
    inner = proxies[0]._inner
    assert type(inner).__name__ == "FailoverStore" and inner.available  # Redis, fallback
    return memory, proxies[0]


if "redis" in available_backends():

    async def test_store_calls_of_add_step_save_episode_and_get_episode(
        redis_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = redis_server_factory().start()
        raw = aioredis.Redis(port=server.port)
        memory, store = await _open(
            monkeypatch, Backend("redis", tmp_path, new_namespace(), server.port)
        )
        try:
            store.take()
            before = await _commands(raw)
            await memory.add_step("read the logs", "found a timeout", tool_calls=[{"name": "grep"}])
            after = await _commands(raw)
            assert store.take() == {"put": 1}
            redis_add = after - before
            for n in range(2, 21):
                await memory.add_step(f"step {n}", "ok")
            store.take()

            before = await _commands(raw)
            episode = await memory.save_episode("fix the timeout", "raised it", True, 3.0)
            after = await _commands(raw)
            # Twenty steps: one put (the episode), one scan page (the session's stored
            # steps), one delete_many (all twenty); never one call per step.
            assert store.take() == {"put": 1, "scan": 1, "delete_many": 1}
            redis_save = after - before
            assert await memory.get_recent_steps(100) == []

            before = await _commands(raw)
            await memory.get_episode(episode.memory_id)
            after = await _commands(raw)
            assert store.take() == {"get": 1, "increment": 1}
            redis_get = after - before

            # Concurrent reads of one episode share increments instead of one each.
            before = await _commands(raw)
            got = await asyncio.gather(*(memory.get_episode(episode.memory_id) for _ in range(20)))
            after = await _commands(raw)
            calls = store.take()
            redis_burst = after - before
            assert calls["get"] == 20
            assert calls["increment"] < 20
            assert max(e.access_count for e in got if e is not None) == 21
            stored = await memory.get_episode(episode.memory_id)
            assert stored is not None and stored.access_count == 22  # no access lost

            # EVALSHA = our write/delete/scan scripts (one per record, pipelined).
            print(
                "\nEVALSHA / GET: "
                + "; ".join(
                    f"{name} {c['evalsha']} / {c['get']}"
                    for name, c in [
                        ("add_step", redis_add),
                        ("save_episode(20 steps)", redis_save),
                        ("get_episode", redis_get),
                        ("20 concurrent get_episode", redis_burst),
                    ]
                )
                + f"; store increments for the 20: {calls['increment']}"
            )
        finally:
            await memory.close()
            await raw.aclose()


async def test_concurrent_reads_count_every_access(backend: Backend) -> None:
    """Reads of one episode from two adapters (one store each) at once: every access is
    counted exactly, batched or not, on every backend."""
    async with await backend.open("reader-1") as one, await backend.open("reader-2") as two:
        await one.add_step("look", "ok")
        episode = await one.save_episode("count me", "done", True, 1.0)
        reads = [m.get_episode(episode.memory_id) for m in (one, two) for _ in range(40)]
        got = await asyncio.gather(*reads)
        assert all(e is not None for e in got)
        final = await one.get_episode(episode.memory_id)
        assert final is not None and final.access_count == 81
        assert await one.get_episode("no-such-episode") is None
