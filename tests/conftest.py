"""Fixtures shared by the whole suite: real redis-server processes on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_servers import RedisClusterProcesses, RedisServer, require_redis

pytest_plugins = ["pytester"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Cluster tests are a separate CI suite: mark every test that starts the cluster.
    for item in items:
        if "redis_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis_cluster)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session; tests isolate themselves by prefix/namespace."""
    require_redis()
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_server_factory() -> Iterator[type[RedisServer]]:
    """Start private servers (for fault tests); all are stopped after the test."""
    require_redis()
    started: list[RedisServer] = []

    class _Tracked(RedisServer):
        def start(self, timeout: float = 10.0) -> RedisServer:
            if self not in started:
                started.append(self)
            return super().start(timeout)

    yield _Tracked
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    """A real 3-master Redis Cluster for the session."""
    require_redis()
    with RedisClusterProcesses(3) as cluster:
        yield cluster
