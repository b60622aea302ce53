"""Fixtures for the Redis backend's own tests: stores on the session server, unique prefixes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from agentmem_redis import RedisStore, open_redis_store
from tests.support.redis_servers import RedisServer

StoreFactory = Callable[..., Awaitable[RedisStore]]


@pytest.fixture
def prefix() -> str:
    """A prefix no other test uses, so tests can share the session server."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture
async def open_store_on(prefix: str) -> AsyncIterator[StoreFactory]:
    """Open stores (closed after the test); defaults to this test's prefix."""
    opened: list[RedisStore] = []

    async def factory(url: str, **options: Any) -> RedisStore:
        options.setdefault("prefix", prefix)
        options.setdefault("warn_persistence", False)
        store = await open_redis_store(url, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest_asyncio.fixture
async def store(redis_server: RedisServer, open_store_on: StoreFactory) -> RedisStore:
    return await open_store_on(redis_server.url)


@pytest_asyncio.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain redis-py client on the session server, for looking under the hood."""
    client = aioredis.Redis(port=redis_server.port)
    yield client
    await client.aclose()
