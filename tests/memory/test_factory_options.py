"""create_memory_adapter passes each option to the store it belongs to, and reads every
knob from the environment when it is not passed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agentmem import ConfigurationError
from agentmem.memory import AgentMemory, create_memory_adapter
from agentmem.routing import FailoverStore
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.asyncio

KNOB_ENV = (
    "MEMORY_BACKEND",
    "AGENTMEM_URL",
    "REDIS_MAX_CONNECTIONS",
    "REDIS_SOCKET_TIMEOUT",
    "REDIS_CONNECT_TIMEOUT",
    "REDIS_POOL_TIMEOUT",
    "REDIS_PREFIX",
    "AGENTMEM_SQLITE_BUSY_TIMEOUT",
    "AGENTMEM_CALL_TIMEOUT",
    "AGENTMEM_WORKING_CAPACITY",
    "AGENTMEM_COMPRESS_THRESHOLD",
    *(f"AGENTMEM_TTL_{kind}" for kind in ("WORKING", "EPISODIC", "SEMANTIC", "SKILL", "SESSION")),
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KNOB_ENV:
        monkeypatch.delenv(name, raising=False)


def redis_options(server: RedisServer, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "backend": "redis",
        "agent_id": "knobs",
        "namespace": f"knobs-{tmp_path.name}",
        "redis_host": "127.0.0.1",
        "redis_port": server.port,
        "sqlite_path": tmp_path / "fallback.db",
        **extra,
    }


def redis_pool(memory: AgentMemory) -> Any:
    store = memory.store
    assert isinstance(store, FailoverStore)
    return store.primary.redis.connection_pool  # type: ignore[attr-defined]


async def test_redis_options_reach_redis_and_sqlite_options_reach_sqlite(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with await create_memory_adapter(
        **redis_options(
            redis_server,
            tmp_path,
            max_connections=100,
            socket_timeout=2.5,
            busy_timeout=3,
            call_timeout=0.75,
        )
    ) as memory:
        pool = redis_pool(memory)
        assert pool.max_connections == 100
        assert pool.connection_kwargs["socket_timeout"] == 2.5
        store = memory.store
        assert isinstance(store, FailoverStore)
        assert store.fallback._options.busy_timeout == 3.0  # type: ignore[attr-defined]
        assert store._call_timeout == 0.75
        await memory.add_step("write through", "both stores")
        assert memory.redis_manager.available


async def test_the_environment_sets_the_redis_pool(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_MAX_CONNECTIONS", "77")
    monkeypatch.setenv("REDIS_CONNECT_TIMEOUT", "1.5")
    async with await create_memory_adapter(**redis_options(redis_server, tmp_path)) as memory:
        pool = redis_pool(memory)
        assert pool.max_connections == 77
        assert pool.connection_kwargs["socket_connect_timeout"] == 1.5
    # An argument wins over the environment.
    async with await create_memory_adapter(
        **redis_options(redis_server, tmp_path, max_connections=5)
    ) as memory:
        assert redis_pool(memory).max_connections == 5


async def test_an_unknown_option_is_named(redis_server: RedisServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="max_conections"):
        await create_memory_adapter(**redis_options(redis_server, tmp_path, max_conections=3))


async def test_ttls_capacity_and_compression_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTMEM_TTL_WORKING", "120")
    monkeypatch.setenv("AGENTMEM_TTL_EPISODIC", "none")
    monkeypatch.setenv("AGENTMEM_WORKING_CAPACITY", "3")
    monkeypatch.setenv("AGENTMEM_COMPRESS_THRESHOLD", "16")
    db = tmp_path / "m.db"
    async with await create_memory_adapter(
        backend="sqlite", sqlite_path=db, ttls={"skill": 60}
    ) as memory:
        assert memory.ttls["working"] == timedelta(seconds=120)
        assert memory.ttls["episodic"] is None
        assert memory.ttls["skill"] == timedelta(seconds=60)
        assert memory.working.capacity == 3
        await memory.add_step("compress me " * 40, "a long observation " * 40)
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT blob FROM records WHERE kind = 'working'").fetchone()
    assert blob[0] & 0x01, "a 1 KB step over a 16-byte threshold is stored compressed"


async def test_compress_threshold_argument(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    async with await create_memory_adapter(
        backend="sqlite", sqlite_path=db, compress_threshold=100_000
    ) as memory:
        await memory.add_step("compress me " * 200, "a long observation " * 200)
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT blob FROM records WHERE kind = 'working'").fetchone()
    assert not blob[0] & 0x01, "below the threshold nothing is compressed"


async def test_bad_environment_values_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTMEM_TTL_SKILL", "a week")
    with pytest.raises(ConfigurationError, match="AGENTMEM_TTL_SKILL"):
        await create_memory_adapter(backend="sqlite", sqlite_path=tmp_path / "m.db")
