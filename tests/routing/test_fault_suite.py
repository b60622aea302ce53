"""The failover fault suite (issue 9): 4 subprocess agents write through a real fault,
each with its own SQLite fallback; every acknowledged write must be in Redis afterwards.

Short form in the default run (about a second of writes per case); the long form (more
writes, more flaps, several rounds) is marked ``soak`` (``nox -s soak``). Each case
prints ``acknowledged`` vs ``found``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.routing import failover_url
from agentmem.routing.epoch import PRIMARY_EPOCH_REF
from agentmem.store import Ref
from agentmem_redis.store import RedisStore
from tests.support.redis_servers import RedisClusterProcesses, RedisServer, _cluster_info
from tests.support.resp import RespConnection

pytestmark = pytest.mark.asyncio

REPO = Path(__file__).resolve().parents[2]
AGENTS = 4
AGENT = (sys.executable, "-m", "tests.routing.fault_agent")
Fault = Callable[[float], None]


def _agent_url(primary: str, directory: Path, name: str) -> str:
    return failover_url(
        primary,
        f"sqlite://{directory / f'{name}.db'}",
        call_timeout=0.5,
        probe_initial=0.02,
        probe_max=0.3,
        probe_jitter=0.05,
        epoch_check_interval=0.5,
    )


async def run_case(case: str, primary: str, directory: Path, fault: Fault, scale: float) -> None:
    """Start the agents, let them write, inject ``fault``, stop, and count."""
    procs = [
        subprocess.Popen(
            [*AGENT, _agent_url(primary, directory, f"a{i}"), f"a{i}"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(AGENTS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line.strip() == b"READY", (proc.stderr.read() if proc.stderr else b"")[-2000:]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"GO\n")
            proc.stdin.flush()
        await asyncio.to_thread(fault, scale)
        results = []
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"STOP\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = await asyncio.to_thread(proc.communicate, timeout=180)
            assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
            results.append(json.loads(out.splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    acked = [Ref("episodic", "faults", i) for r in results for i in r["acked"]]
    async with await open_store(primary) as direct:
        found = 0
        for start in range(0, len(acked), 500):
            batch = acked[start : start + 500]
            found += sum(x is not None for x in await direct.get_many(batch))
    errors = [e for r in results for e in r["errors"]]
    print(
        f"\n{case}: acknowledged {len(acked)}, found {found}, lost {len(acked) - found}, "
        f"caller errors {len(errors)}, failovers {[r['failovers'] for r in results]}, "
        f"refills {[r['refills'] for r in results]}"
    )
    assert errors == []
    assert all(r["healthy"] and r["pending"] == 0 for r in results), results
    assert found == len(acked) > 0


def kill9(server: RedisServer, scale: float) -> None:
    time.sleep(0.4 * scale)
    server.kill()
    time.sleep(0.5)
    server.start()
    time.sleep(0.4 * scale)


def empty_restart(server: RedisServer, scale: float) -> None:
    time.sleep(0.4 * scale)
    server.restart(empty=True)
    time.sleep(0.4 * scale)


def sigstop(server: RedisServer, scale: float) -> None:
    time.sleep(0.4 * scale)
    server.pause()
    time.sleep(1.5)
    server.resume()
    time.sleep(0.4 * scale)


def flaps(server: RedisServer, scale: float) -> None:
    for _ in range(int(5 * scale)):
        time.sleep(0.2)
        server.kill()
        time.sleep(0.2)
        server.start()


def rdb_snapshot(server: RedisServer, scale: float) -> None:
    time.sleep(0.4 * scale)
    with RespConnection(server.port) as conn:
        conn.call("SAVE")
    time.sleep(0.5 * scale)
    server.restart()  # kill -9, back from the snapshot: the writes since are gone
    time.sleep(0.4 * scale)


SINGLE = {
    "kill -9 (AOF)": ("aof", kill9),
    "empty restart": ("none", empty_restart),
    "SIGSTOP": ("none", sigstop),
    "5 flaps (AOF)": ("aof", flaps),
    "RDB snapshot mid-run": ("rdb", rdb_snapshot),
}


async def _single_case(
    factory: type[RedisServer], tmp_path: Path, case: str, scale: float, label: str = ""
) -> None:
    persistence, fault = SINGLE[case]
    server = factory(persistence=persistence).start()
    await run_case(label or case, server.url, tmp_path, lambda s: fault(server, s), scale)


@pytest.mark.parametrize("case", sorted(SINGLE))
async def test_fault(redis_server_factory: type[RedisServer], tmp_path: Path, case: str) -> None:
    await _single_case(redis_server_factory, tmp_path, case, 1.0)


@pytest.mark.soak
@pytest.mark.parametrize("case", sorted(SINGLE))
async def test_fault_soak(
    redis_server_factory: type[RedisServer], tmp_path: Path, case: str
) -> None:
    for round_ in range(3):
        directory = tmp_path / f"round{round_}"
        directory.mkdir()
        label = f"{case}, round {round_}"
        await _single_case(redis_server_factory, directory, case, 5.0, label)


async def _cluster_case(tmp_path: Path, scale: float) -> None:
    with RedisClusterProcesses(3) as cluster:
        async with await open_store(cluster.url) as probe:
            assert isinstance(probe, RedisStore)
            tag = f"{{{probe.layout.prefix}:{probe.layout.bucket_of(PRIMARY_EPOCH_REF)}}}"
        with RespConnection(cluster.nodes[0].port) as conn:
            slot = conn.call("CLUSTER", "KEYSLOT", tag)
        assert isinstance(slot, int)
        main = slot * len(cluster.nodes) // cluster.SLOTS
        victim = cluster.nodes[(main + 1) % len(cluster.nodes)]

        def fault(s: float) -> None:
            time.sleep(0.6 * s)
            victim.restart()  # no persistence: back empty, same slots
            deadline = time.monotonic() + 30
            while not all(cluster._converged(_cluster_info(n.port)) for n in cluster.nodes):
                assert time.monotonic() < deadline, "the cluster did not converge"
                time.sleep(0.05)
            time.sleep(0.4 * s)

        await run_case(
            "3-master cluster, a master without the main marker restarted empty",
            cluster.url,
            tmp_path,
            fault,
            scale,
        )


@pytest.mark.redis_cluster
async def test_cluster_master_restarted_empty(tmp_path: Path) -> None:
    await _cluster_case(tmp_path, 1.0)


@pytest.mark.soak
@pytest.mark.redis_cluster
async def test_cluster_master_restarted_empty_soak(tmp_path: Path) -> None:
    await _cluster_case(tmp_path, 5.0)
