"""A program that raises before close() (or forgets it) still exits, on every backend.

Each case runs a real child process that opens a store or an adapter, writes, and
raises without closing. The child must end within seconds; unclosed stores are reported
with a ResourceWarning at exit. Refused factory arguments leave nothing open.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentmem import ConfigurationError, InvalidInput
from agentmem.base import open_stores
from agentmem.memory import create_memory_adapter
from agentmem.routing import failover_url
from tests.memory.support import REPO
from tests.support.redis_servers import RedisServer

CHILD = """
import asyncio, json, sys
from agentmem import Record, Ref, create_memory_adapter, open_store

async def main():
    how, options = sys.argv[1], json.loads(sys.argv[2])
    if how == "adapter":
        memory = await create_memory_adapter(**options)
        await memory.add_step("read the logs", "found a timeout")
    elif how == "store":
        store = await open_store(options["url"])
        await store.put(Record(ref=Ref("episodic", "exit-test", "e1"), text="opened"))
    else:
        await create_memory_adapter(**options)  # refused: must leave nothing behind
    raise RuntimeError("raised before close")

asyncio.run(main())
"""

DEADLINE = 10.0
"""Seconds a child may take, imports included (the hang this guards against is forever;
a healthy child takes well under two seconds on an idle machine)."""


def run_child(how: str, options: dict[str, Any]) -> tuple[float, str]:
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-W", "always::ResourceWarning", "-c", CHILD, how, json.dumps(options)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        _, err = child.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"{how} {options} did not exit within {DEADLINE}s after raising")
    elapsed = time.monotonic() - started
    assert child.returncode == 1, err
    return elapsed, err


def adapter_options(name: str, tmp_path: Path, redis_port: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {"agent_id": "exiting", "namespace": f"exit-{name}"}
    if name == "sqlite":
        return {**options, "backend": "sqlite", "sqlite_path": str(tmp_path / "m.db")}
    if name == "redis":
        return {
            **options,
            "backend": "redis",
            "redis_host": "127.0.0.1",
            "redis_port": redis_port,
            "sqlite_path": str(tmp_path / "fallback.db"),
        }
    return {**options, "url": "memory://"}


@pytest.mark.parametrize("name", ["memory", "sqlite", "redis"])
def test_an_adapter_never_closed_does_not_keep_the_process_alive(
    name: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    elapsed, err = run_child("adapter", adapter_options(name, tmp_path, redis_server.port))
    assert "raised before close" in err
    if name != "memory":
        assert "ResourceWarning" in err and "was never closed" in err
    print(f"\n{name}: adapter raised before close, process exited in {elapsed:.2f}s")


@pytest.mark.parametrize("scheme", ["sqlite", "redis", "failover"])
def test_a_store_never_closed_does_not_keep_the_process_alive(
    scheme: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    sqlite = f"sqlite://{tmp_path}/s.db"
    redis = f"redis://127.0.0.1:{redis_server.port}/0?prefix=exit-{tmp_path.name}"
    url = {"sqlite": sqlite, "redis": redis, "failover": failover_url(redis, sqlite)}[scheme]
    elapsed, err = run_child("store", {"url": url})
    assert "raised before close" in err
    assert "was never closed" in err
    print(f"\n{scheme}: store raised before close, process exited in {elapsed:.2f}s")


REFUSED = [
    {"agent_id": "a" * 101},
    {"working_capacity": 0},
    {"ttls": {"no-such-kind": 5}},
]


@pytest.mark.parametrize("refused", REFUSED, ids=["long-agent-id", "capacity-0", "ttl-kind"])
def test_refused_arguments_leave_no_store_open_and_the_process_exits(
    refused: dict[str, Any], tmp_path: Path
) -> None:
    options = {"backend": "sqlite", "sqlite_path": str(tmp_path / "m.db"), **refused}
    _, err = run_child("refused", options)
    assert "InvalidInput" in err
    assert "was never closed" not in err


@pytest.mark.asyncio
@pytest.mark.parametrize("refused", REFUSED, ids=["long-agent-id", "capacity-0", "ttl-kind"])
async def test_refused_arguments_are_refused_before_opening(
    refused: dict[str, Any], tmp_path: Path
) -> None:
    before = set(map(id, open_stores()))
    with pytest.raises(InvalidInput):
        await create_memory_adapter(backend="sqlite", sqlite_path=tmp_path / "m.db", **refused)
    assert not (tmp_path / "m.db").exists()
    assert set(map(id, open_stores())) <= before


@pytest.mark.asyncio
async def test_a_failure_after_opening_closes_the_store(tmp_path: Path) -> None:
    before = set(map(id, open_stores()))
    with pytest.raises(ConfigurationError, match="no embedder named"):
        await create_memory_adapter(
            backend="sqlite", sqlite_path=tmp_path / "m.db", embedder="no-such-embedder"
        )
    assert set(map(id, open_stores())) <= before
