"""agentmem doctor: Redis persistence and eviction, failover state, SQLite schema; exit 1
when something is wrong."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

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


def test_doctor_lists_corrupt_records_and_deletes_them_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    url = sqlite_url(path)
    namespace = new_namespace()
    put(url, records("skill", namespace, 3))
    conn = sqlite3.connect(path)
    with conn:
        damaged = conn.execute(
            "UPDATE records SET blob = ? WHERE rid = (SELECT min(rid) FROM records WHERE kind = ?)",
            (b"\x11garbage", "skill"),
        ).rowcount
    conn.close()
    assert damaged == 1
    found = run_cli(tmp_path, "doctor", "--url", url, "--json")
    assert found.returncode == 1, found.stderr
    check = next(c for c in json.loads(found.stdout)["checks"] if c["check"] == "corrupt records")
    assert check["status"] == "fail" and "1 found" in check["detail"]
    fixed = run_cli(tmp_path, "doctor", "--url", url, "--delete-corrupt")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "1 found, 1 deleted" in fixed.stdout
    again = run_cli(tmp_path, "doctor", "--url", url)
    assert again.returncode == 0 and "corrupt records: none found" in again.stdout
