"""Two agents on one host with default settings do not share a fallback file, so an
outage loses nothing (issue 9, item 4). Real redis-server, real subprocess agents."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.memory.factory import default_fallback_path, resolve_store_url
from agentmem.memory.fallback_slot import claim_fallback_file
from agentmem.store import Ref
from tests.support.redis_servers import RedisServer

REPO = Path(__file__).resolve().parents[2]
WRITES = 150
WORKER = (sys.executable, "-m", "tests.routing.default_agent_worker")


def test_default_fallback_file_is_per_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AGENTMEM_SQLITE_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    a, b = default_fallback_path("alice"), default_fallback_path("bob")
    assert a != b and a.parent == b.parent == tmp_path / "agentmem" / "fallback"
    assert default_fallback_path("a/b") != default_fallback_path("a_b")
    first = claim_fallback_file(tmp_path / "x.db")
    assert claim_fallback_file(tmp_path / "x.db") == first  # same process: same file
    assert str(a) in resolve_store_url("redis", agent_id="alice").replace("%2F", "/")


@pytest.mark.asyncio
@pytest.mark.parametrize("names", [("alice", "bob"), ("default", "default")])
async def test_two_default_agents_through_an_outage_lose_nothing(
    redis_server_factory: type[RedisServer], tmp_path: Path, names: tuple[str, str]
) -> None:
    server = redis_server_factory(persistence="aof").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTMEM_", "REDIS_"))}
    env.pop("MEMORY_BACKEND", None)
    env["XDG_DATA_HOME"] = str(tmp_path)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.routing.default_agent_worker",
                name,
                str(server.port),
                str(WRITES),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    fallbacks = set()
    for proc in procs:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        fallbacks.add(line["fallback"])
    assert len(fallbacks) == 2
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    await asyncio.sleep(0.4)
    server.kill()
    await asyncio.sleep(1.0)
    server.start()
    results = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        results.append(json.loads(out.splitlines()[-1]))
    acked = [Ref("episodic", "two-agents", i) for r in results for i in r["acked"]]
    async with await open_store(server.url) as direct:
        found = sum(x is not None for x in await direct.get_many(acked))
    print(
        f"\ntwo agents {names} with default settings through an outage: "
        f"acknowledged {len(acked)}, found {found}; fallback files {sorted(fallbacks)}"
    )
    assert all(r["healthy"] and r["pending"] == 0 for r in results), results
    assert len(acked) == 2 * WRITES
    assert found == len(acked)


def test_a_killed_process_releases_its_fallback_file(tmp_path: Path) -> None:
    base = tmp_path / "agent.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(base)], cwd=REPO, stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == str(base).encode()
    assert claim_fallback_file(base) == tmp_path / "agent-1.db"
    holder.kill()  # SIGKILL: the lock goes with the process
    holder.wait()
    assert claim_fallback_file(base) == base


HOLD = """import sys, time
from pathlib import Path
from agentmem.memory.fallback_slot import claim_fallback_file
print(claim_fallback_file(Path(sys.argv[1])), flush=True)
time.sleep(60)
"""
