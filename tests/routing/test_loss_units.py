"""Partial loss of Redis data is noticed (issue 9, item 3): a cluster master restarted
empty that does not hold the main epoch marker; RDB-only persistence warned at open."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.routing import FailoverStore
from agentmem.routing.epoch import PRIMARY_EPOCH_REF, epoch_refs
from agentmem.store import Record, Ref
from agentmem_redis.store import RedisStore
from tests.routing.test_redis_faults import open_agent
from tests.support.redis_servers import RedisClusterProcesses, RedisServer, _cluster_info
from tests.support.resp import RespConnection

pytestmark = pytest.mark.asyncio

WRITES = 300


def _owner(cluster: RedisClusterProcesses, store: RedisStore, ref: Ref) -> int:
    """Index of the master holding ``ref``'s bucket (slots are split evenly by _form)."""
    tag = f"{{{store.layout.prefix}:{store.layout.bucket_of(ref)}}}"
    with RespConnection(cluster.nodes[0].port) as conn:
        slot = conn.call("CLUSTER", "KEYSLOT", tag)
    assert isinstance(slot, int)
    return slot * len(cluster.nodes) // cluster.SLOTS


@pytest.mark.redis_cluster
async def test_cluster_master_restarted_empty_without_the_main_marker_is_refilled(
    tmp_path: Path,
) -> None:
    with RedisClusterProcesses(3) as cluster:
        primary = await open_store(cluster.url, origin="c")
        assert isinstance(primary, RedisStore)
        fallback = await open_store(f"sqlite://{tmp_path / 'c.db'}", origin="c")
        agent = FailoverStore(
            primary, fallback, probe_initial=0.02, probe_max=0.5, epoch_check_interval=None
        )
        async with agent:
            refs = [Ref("episodic", "units", f"r{i}") for i in range(WRITES)]
            for ref in refs:
                await agent.put(Record(ref=ref, body={"n": ref.id}))
            assert len(epoch_refs(primary)) > 1
            main = _owner(cluster, primary, PRIMARY_EPOCH_REF)
            victim = next(i for i in range(len(cluster.nodes)) if i != main)
            on_victim = sum(_owner(cluster, primary, r) == victim for r in refs)
            cluster.nodes[victim].restart()  # no persistence: back empty, same slots
            deadline = time.monotonic() + 30
            while not all(cluster._converged(_cluster_info(n.port)) for n in cluster.nodes):
                assert time.monotonic() < deadline, "cluster did not converge"
                time.sleep(0.05)
            await agent.check_primary()
            assert await agent.wait_until_healthy(within=60)
            async with await open_store(cluster.url) as direct:
                found = sum(r is not None for r in await direct.get_many(refs))
            print(
                f"\ncluster master {victim} (main marker on {main}) restarted empty: "
                f"acknowledged {WRITES}, {on_victim} on it, found {found}, "
                f"refills {agent.stats.refills}"
            )
            assert agent.stats.refills == 1
            assert found == WRITES


async def test_rdb_only_persistence_is_warned_at_open(
    redis_server_factory: type[RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_server_factory(persistence="rdb").start()
    caplog.set_level(logging.WARNING, logger="agentmem")
    async with await open_store(server.url):
        pass
    assert "RDB snapshots only" in caplog.text


async def test_restart_from_an_rdb_snapshot_taken_mid_run_is_refilled(
    redis_server_factory: type[RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory(persistence="rdb").start()
    agent = await open_agent(server, tmp_path, "rdb")
    async with agent:
        before = [Ref("episodic", "rdb", f"a{i}") for i in range(100)]
        after = [Ref("episodic", "rdb", f"b{i}") for i in range(100)]
        for ref in before:
            await agent.put(Record(ref=ref, body={"n": ref.id}))
        with RespConnection(server.port) as conn:
            conn.call("SAVE")  # the snapshot the server will come back to
        for ref in after:
            await agent.put(Record(ref=ref, body={"n": ref.id}))
        deleted = before[:10]
        assert await agent.delete_many(deleted) == 10
        server.restart()  # kill -9, then start from the snapshot: back in the past
        await agent.check_primary()
        assert await agent.wait_until_healthy(within=60)
        async with await open_store(server.url) as direct:
            live = before[10:] + after
            found = sum(r is not None for r in await direct.get_many(live))
            back = sum(r is not None for r in await direct.get_many(deleted))
        print(
            f"\nrestart from an RDB snapshot: acknowledged {len(live)} live, found {found}; "
            f"deleted {len(deleted)}, back {back}; refills {agent.stats.refills}"
        )
        assert found == len(live)
        assert back == 0
        assert agent.stats.refills == 1
