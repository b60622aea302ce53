"""backend=redis (Redis with the SQLite fallback) seen through the server: it starts with
Redis down, keeps answering, and resumes notifications once Redis is back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated

from agentmem import Ref
from agentmem_mcp import MemoryServer, ServerConfig, record_uri
from tests.mcp.support import call, connect, new_namespace
from tests.support.redis_servers import RedisServer

aio = pytest.mark.asyncio


async def _updated(events: object, within: float = 30.0) -> object:
    async with asyncio.timeout(within):
        while True:
            event = await anext(events)  # type: ignore[call-overload]
            if not isinstance(event, ResourcesListChanged):
                return event


@aio
async def test_starts_with_redis_down_and_recovers(
    tmp_path: Path, redis_server_factory: type[RedisServer]
) -> None:
    redis = redis_server_factory()  # a port, no process yet
    config = ServerConfig(
        backend="redis",
        redis_host="127.0.0.1",
        redis_port=redis.port,
        sqlite_path=str(tmp_path / "fallback.db"),
        namespace=new_namespace(),
    )
    async with MemoryServer(config) as server, connect(server) as client:
        stats = await call(client, "get_stats")
        assert (stats["backend_state"], stats["redis_available"]) == ("degraded", False)
        offline = await call(client, "add_memory", {"content": "written while redis was down"})
        assert (await call(client, "search_memory", {"query": "redis down"}))["hits"]

        redis.start()
        deadline = time.monotonic() + 60
        while (await call(client, "get_stats"))["backend_state"] != "healthy":
            assert time.monotonic() < deadline, "no recovery"
            await asyncio.sleep(0.2)
        # The offline write was replayed into Redis; the change feed follows Redis now.
        uri = record_uri(Ref("memory", config.namespace, "after-recovery"))
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            events = aiter(subscription)
            await call(client, "add_memory", {"content": "back online", "id": "after-recovery"})
            assert await _updated(events) == ResourceUpdated(uri=uri)
        found = await call(client, "get_memory", {"id": offline["id"]})
        assert found["found"]
