"""Several server processes on one memory: real stdio subprocesses, real SQLite files,
real redis-server processes (started by the fixtures on free ports, killed and restarted
by the fault test).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from agentmem import Ref
from agentmem_mcp import record_uri
from tests.mcp.support import (
    call,
    list_ids,
    new_namespace,
    percentiles,
    server_env,
    stdio_client,
    subscribe_legacy,
)
from tests.support.redis_servers import RedisServer

aio = pytest.mark.asyncio

N = 200
"""Concurrent add_memory calls per server."""
RECOVERY_WITHIN = 90.0
STAGGER = 0.025


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return server_env(AGENTMEM_SQLITE_PATH=str(tmp_path / "shared.db"))


def redis_env(tmp_path: Path, port: int) -> dict[str, str]:
    # No AGENTMEM_SQLITE_PATH: each server process takes its own fallback file (a slot
    # under XDG_DATA_HOME), as it would with default settings on one host.
    return server_env(
        MEMORY_BACKEND="redis",
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=str(port),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )


async def add_many(
    client: Client,
    prefix: str,
    latencies: list[float],
    done: Callable[[], None] = lambda: None,
    stagger: float = 0.0,
) -> list[str]:
    """N concurrent add_memory calls; every one must be acknowledged without error.

    ``stagger`` spreads the calls' start over ``N * stagger`` seconds (they still overlap).
    """

    async def one(i: int) -> str:
        await asyncio.sleep(i * stagger)
        started = time.perf_counter()
        added = await call(
            client,
            "add_memory",
            {"content": f"note {i} from {prefix}, token{prefix}{i}", "id": f"{prefix}-{i:03d}"},
        )
        latencies.append(time.perf_counter() - started)
        done()
        return str(added["id"])

    return list(await asyncio.gather(*(one(i) for i in range(N))))


async def assert_all_found(clients: dict[str, Client], expected: set[str]) -> None:
    for name, client in clients.items():
        found = await list_ids(client)
        missing = expected - found
        print(f"  through server {name}: {len(found & expected)} of {len(expected)} found")
        assert not missing, f"server {name} misses {len(missing)}: {sorted(missing)[:10]}"
        assert found == expected
    # Search goes through the index too: each server finds the other's writes by word.
    a, b = clients["A"], clients["B"]
    for i in range(0, N, 40):
        hits = await call(a, "search_memory", {"query": f"tokenb{i}"})
        assert [h["id"] for h in hits["hits"]] == [f"b-{i:03d}"]
        hits = await call(b, "search_memory", {"query": f"tokena{i}"})
        assert [h["id"] for h in hits["hits"]] == [f"a-{i:03d}"]


async def wait_healthy(client: Client, within: float = RECOVERY_WITHIN) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        stats = await call(client, "get_stats")
        if stats["backend_state"] == "healthy" and stats["redis_available"]:
            return dict(stats)
        assert time.monotonic() < deadline, f"not healthy after {within}s: {stats}"
        await asyncio.sleep(0.2)


@aio
async def test_two_servers_one_sqlite_file(tmp_path: Path) -> None:
    namespace = new_namespace()
    env = sqlite_env(tmp_path)
    async with (
        stdio_client("--namespace", namespace, "--agent-id", "a", env=env) as a,
        stdio_client("--namespace", namespace, "--agent-id", "b", env=env) as b,
    ):
        latencies: list[float] = []
        ids_a, ids_b = await asyncio.gather(
            add_many(a, "a", latencies), add_many(b, "b", latencies)
        )
        print(f"\nsqlite, 2 servers x {N} concurrent add_memory: {percentiles(latencies)}")
        await assert_all_found({"A": a, "B": b}, set(ids_a) | set(ids_b))


@aio
async def test_two_servers_one_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    namespace = new_namespace()
    env = redis_env(tmp_path, redis_server.port)
    async with (
        stdio_client("--namespace", namespace, "--agent-id", "a", env=env) as a,
        stdio_client("--namespace", namespace, "--agent-id", "b", env=env) as b,
    ):
        stats_a, stats_b = await wait_healthy(a), await wait_healthy(b)
        # Default settings, one host: each process has its own fallback file.
        assert "fallback-0.db" in stats_a["backend_url"] + stats_b["backend_url"]
        assert "fallback-1.db" in stats_a["backend_url"] + stats_b["backend_url"]
        latencies: list[float] = []
        ids_a, ids_b = await asyncio.gather(
            add_many(a, "a", latencies), add_many(b, "b", latencies)
        )
        print(f"\nredis, 2 servers x {N} concurrent add_memory: {percentiles(latencies)}")
        await assert_all_found({"A": a, "B": b}, set(ids_a) | set(ids_b))


@pytest.mark.parametrize("restart", ["aof", "empty"], ids=["restart-with-aof", "restart-empty"])
@aio
async def test_redis_killed_and_restarted_mid_way(
    tmp_path: Path, redis_server_factory: type[RedisServer], restart: str
) -> None:
    """kill -9 of redis-server after ~25% of the 400 writes were acknowledged, restart
    (with its AOF, or empty) after ~55%; every acknowledged write ends up found through
    either server once the failover stores have recovered."""
    redis = redis_server_factory(persistence="aof" if restart == "aof" else "none").start()
    namespace = new_namespace()
    env = redis_env(tmp_path, redis.port)
    async with (
        stdio_client("--namespace", namespace, "--agent-id", "a", env=env) as a,
        stdio_client("--namespace", namespace, "--agent-id", "b", env=env) as b,
    ):
        await wait_healthy(a)
        await wait_healthy(b)
        acknowledged = 0
        progress = asyncio.Event()

        def done() -> None:
            nonlocal acknowledged
            acknowledged += 1
            progress.set()

        async def reached(count: int, writes: asyncio.Future[Any]) -> None:
            while acknowledged < count and not writes.done():
                progress.clear()
                await asyncio.wait([writes, asyncio.ensure_future(progress.wait())], timeout=1)

        latencies: list[float] = []
        # Staggered over ~5 s, so that the kill and the restart land amid the writes.
        writes = asyncio.ensure_future(
            asyncio.gather(
                add_many(a, "a", latencies, done, STAGGER),
                add_many(b, "b", latencies, done, STAGGER),
            )
        )
        await reached(int(0.25 * 2 * N), writes)
        killed_at = acknowledged
        await asyncio.to_thread(redis.kill)
        await reached(int(0.55 * 2 * N), writes)
        restarted_at = acknowledged
        await asyncio.to_thread(redis.restart, empty=restart == "empty")
        restarted = time.monotonic()
        ids_a, ids_b = await writes
        states = [(await call(c, "get_stats"))["backend_state"] for c in (a, b)]
        await wait_healthy(a)
        await wait_healthy(b)
        print(
            f"\nredis killed after {killed_at} and restarted ({restart}) after {restarted_at} of "
            f"{2 * N} acknowledged writes; states at the end of the writes {states}; both "
            f"healthy {time.monotonic() - restarted:.1f}s after the restart; "
            f"add_memory {percentiles(latencies)}"
        )
        await assert_all_found({"A": a, "B": b}, set(ids_a) | set(ids_b))


def _message_queue() -> tuple[asyncio.Queue[tuple[str, float]], Any]:
    received: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            await received.put((message.params.uri, time.perf_counter()))

    return received, on_message


@pytest.mark.parametrize("era", ["listen", "resources-subscribe"])
@pytest.mark.parametrize("store", ["sqlite", "redis"])
@aio
async def test_write_through_a_notifies_subscriber_of_b(
    tmp_path: Path, request: pytest.FixtureRequest, store: str, era: str
) -> None:
    """A client subscribed to a record through server B hears of writes made through
    server A (another process) as resource updates."""
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        env = redis_env(tmp_path, redis.port)
    else:
        env = sqlite_env(tmp_path)
    namespace = new_namespace()
    uri = record_uri(Ref("memory", namespace, "shared-doc"))
    received, on_message = _message_queue()
    mode = "legacy" if era == "resources-subscribe" else "auto"
    latencies: list[float] = []
    async with (
        stdio_client("--namespace", namespace, "--agent-id", "a", env=env) as a,
        stdio_client(
            "--namespace",
            namespace,
            "--agent-id",
            "b",
            env=env,
            mode=mode,
            message_handler=on_message,
        ) as b,
    ):
        if era == "listen":
            assert b.protocol_version == "2026-07-28"
            async with b.listen(resource_subscriptions=[uri]) as subscription:
                events = aiter(subscription)
                for round_ in range(5):
                    started = time.perf_counter()
                    if round_ % 2 == 0:
                        await call(a, "add_memory", {"content": f"v{round_}", "id": "shared-doc"})
                    else:
                        await call(a, "delete_memory", {"id": "shared-doc"})
                    event = await _next_update(events)
                    latencies.append(time.perf_counter() - started)
                    assert event == ResourceUpdated(uri=uri)
        else:
            assert b.protocol_version != "2026-07-28"
            await subscribe_legacy(b, uri)
            for round_ in range(5):
                started = time.perf_counter()
                if round_ % 2 == 0:
                    await call(a, "add_memory", {"content": f"v{round_}", "id": "shared-doc"})
                else:
                    await call(a, "delete_memory", {"id": "shared-doc"})
                got, at = await asyncio.wait_for(received.get(), 30)
                assert got == uri
                latencies.append(at - started)
        # B reads what A wrote.
        got_doc = await call(b, "get_memory", {"id": "shared-doc"})
        assert got_doc["found"] and got_doc["memory"]["content"] == "v4"
    print(f"\n{store}, {era}: write through A -> update at B's client: {percentiles(latencies)}")


async def _next_update(events: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            event = await anext(events)
            if not isinstance(event, ResourcesListChanged):
                return event
