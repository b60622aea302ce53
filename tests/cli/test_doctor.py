"""agentmem doctor: Redis persistence and eviction, failover state, SQLite schema; exit 1
when something is wrong."""

from __future__ import annotations

import asyncio
import importlib.machinery
import json
import sqlite3
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from agentmem import open_store
from agentmem.cli.diagnose import list_corrupt_records
from agentmem.memory.factory import sqlite_url
from agentmem.routing import failover_url
from tests.cli.support import new_namespace, put, records, run_cli
from tests.support.redis_servers import RedisServer, free_port


def _checks(result: Any) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


def test_redis_without_persistence_or_with_eviction_is_a_problem(
    tmp_path: Path, redis_server: RedisServer, redis_server_factory: type[RedisServer]
) -> None:
    result = run_cli(tmp_path, "doctor", "--url", redis_server.url, "--json")
    assert result.returncode == 1
    checks = _checks(result)
    assert checks["redis persistence"]["status"] == "fail"
    assert "no persistence" in checks["redis persistence"]["detail"]
    assert checks["redis eviction"]["status"] == "ok"

    evicting = redis_server_factory(
        persistence="aof", extra_args=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
    ).start()
    result = run_cli(tmp_path, "doctor", "--url", evicting.url)
    assert result.returncode == 1
    assert "ok    redis persistence: aof" in result.stdout
    assert "FAIL  redis eviction: maxmemory-policy allkeys-lru" in result.stdout
    assert "1 problem(s) found" in result.stdout

    sound = redis_server_factory(persistence="aof").start()
    result = run_cli(tmp_path, "doctor", "--url", sound.url)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "no problems found"


def test_failover_degraded_is_a_problem_and_healthy_is_not(
    tmp_path: Path, redis_server_factory: type[RedisServer]
) -> None:
    fallback = sqlite_url(tmp_path / "fb.db")
    down = failover_url(f"redis://:hunter2@127.0.0.1:{free_port()}/0", fallback)
    result = run_cli(tmp_path, "doctor", "--url", down)
    assert result.returncode == 1
    assert "FAIL  failover: degraded: primary redis://:***@127.0.0.1:" in result.stdout
    assert "writes wait in the outbox" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr

    server = redis_server_factory(persistence="aof").start()
    healthy = failover_url(server.url, fallback)
    result = run_cli(tmp_path, "doctor", "--url", healthy, "--json")
    assert result.returncode == 0, result.stdout
    checks = _checks(result)
    assert checks["failover"]["detail"] == "healthy; outbox empty"
    assert checks["redis persistence"]["status"] == "ok"
    assert checks["sqlite schema"]["status"] == "ok"


def test_sqlite_files_missing_or_too_new_are_problems(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = run_cli(tmp_path, "doctor", "--url", sqlite_url(missing))
    assert result.returncode == 1
    assert "does not exist" in result.stdout
    assert not missing.exists()  # looking did not create it

    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = run_cli(tmp_path, "doctor", "--url", sqlite_url(newer))
    assert result.returncode == 1
    assert "schema version 99 is newer than this agentmem-sqlite" in result.stdout


def test_the_corrupt_records_hook_calls_agentmem_corruption_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "m.db")
    put(url, records("skill", new_namespace(), 2))
    seen: list[str] = []

    async def find_corrupt(store: Any) -> list[str]:
        seen.append(store.url)
        return ["skill/shared/broken"]

    async def check() -> list[Any] | None:
        async with await open_store(url) as store:
            return await list_corrupt_records(store)

    if (
        "agentmem.corruption" not in sys.modules
        and importlib.util.find_spec("agentmem.corruption") is None
    ):
        assert asyncio.run(check()) is None  # not installed: not checked
    module = types.ModuleType("agentmem.corruption")
    module.__spec__ = importlib.machinery.ModuleSpec("agentmem.corruption", None)
    module.find_corrupt = find_corrupt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agentmem.corruption", module)
    assert asyncio.run(check()) == ["skill/shared/broken"]
    assert seen == [url]
