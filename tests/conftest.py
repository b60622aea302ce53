"""Fixtures shared by the whole suite: real redis-server processes on free ports."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator

import pytest

from tests.support.redis_servers import (
    EXPECT_SETTING,
    SERVER_SETTING,
    RedisClusterProcesses,
    RedisServer,
    require_redis,
    server_build,
)

pytest_plugins = ["pytester"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    # A matrix cell's log must say what it ran on, so a failure on one server or one
    # Python is attributable from the log alone.
    python = f"python: {platform.python_implementation()} {platform.python_version()}"
    lines = [f"{python} ({sys.executable})"]
    source = SERVER_SETTING if os.environ.get(SERVER_SETTING) else "PATH"
    try:
        lines.append(f"server: {server_build()} [from {source}]")
    except (RuntimeError, OSError) as exc:
        lines.append(f"server: none ({exc})")
    if os.environ.get(EXPECT_SETTING):
        lines.append(f"cell expects server: {os.environ[EXPECT_SETTING]}")
    scale = os.environ.get("AGENTMEM_HYPOTHESIS_SCALE")
    if scale:
        lines.append(f"hypothesis example scale: {scale}")
    return lines


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
