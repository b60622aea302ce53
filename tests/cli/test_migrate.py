"""agentmem migrate: every kind copied with its versions, resumable after Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from agentmem.memory.config import working_namespace
from agentmem.memory.factory import sqlite_url
from tests.cli.support import AGENTMEM, cli_env, new_namespace, put, records, run_cli, scan_all
from tests.support.redis_servers import RedisServer


def test_migrate_sqlite_to_redis_keeps_versions_of_every_kind(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ns = new_namespace()
    source = sqlite_url(tmp_path / "src.db")
    target = f"{redis_server.url}?prefix={ns}"
    kinds = ("episodic", "semantic", "skill", "session", "memory")
    for kind in kinds:
        put(source, records(kind, ns, 7, prefix=kind))
    put(source, records("skill", ns, 3, prefix="skill"), times=2)  # versions 3 for three
    put(source, records("working", working_namespace(ns, "a1"), 4))
    put(source, records("episodic", "elsewhere", 5))  # not asked for

    result = run_cli(
        tmp_path, "migrate", source, target, "--namespace", ns, "--agent-id", "a1", "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["copied"], summary["written"], summary["skipped"]) == (39, 39, 0)
    assert summary["target"].startswith(redis_server.url)
    for kind in kinds:
        assert scan_all(target, kind, ns) == scan_all(source, kind, ns)
    assert [r.version for r in scan_all(target, "skill", ns)][:4] == [3, 3, 3, 1]
    working = working_namespace(ns, "a1")
    assert scan_all(target, "working", working) == scan_all(source, "working", working)
    assert scan_all(target, "episodic", "elsewhere") == []
    assert list(tmp_path.glob("agentmem-migrate-*")) == []  # checkpoint removed when done

    again = run_cli(tmp_path, "migrate", source, target, "--namespace", ns, "--agent-id", "a1")
    assert again.returncode == 0
    assert "(0 written, 39 already as new or newer)" in again.stdout


def test_an_interrupted_migrate_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "src.db")
    target = sqlite_url(tmp_path / "dst.db")
    put(source, records("episodic", "shared", 3000))
    checkpoint = tmp_path / "cp.json"
    args = [AGENTMEM, "migrate", source, target, "--batch", "5", "--checkpoint", str(checkpoint)]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path)
    )
    deadline = time.monotonic() + 30
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    saved = json.loads(checkpoint.read_text())
    assert 0 < saved["copied"] < 3000
    assert f"run the same command again to resume from {checkpoint}" in err
    copied_before = len(scan_all(target, "episodic", "shared"))
    assert copied_before >= saved["copied"]

    result = run_cli(tmp_path, *args[1:])
    assert result.returncode == 0, result.stderr
    assert f"resuming from {checkpoint}: {saved['copied']} records already copied" in result.stderr
    assert scan_all(target, "episodic", "shared") == scan_all(source, "episodic", "shared")
    # Only the pages after the checkpoint were read again (at most one page twice).
    assert "copied 3000 records" in result.stdout or "copied 3005 records" in result.stdout
    assert not checkpoint.exists()


def test_a_target_that_dies_mid_copy_is_reported_and_the_rerun_finishes(
    tmp_path: Path, redis_server_factory: type[RedisServer]
) -> None:
    server = redis_server_factory(persistence="aof").start()
    source = sqlite_url(tmp_path / "src.db")
    put(source, records("skill", "shared", 2000))
    checkpoint = tmp_path / "cp.json"
    args = ["migrate", source, server.url, "--batch", "5", "--checkpoint", str(checkpoint)]
    process = subprocess.Popen(
        [AGENTMEM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env(tmp_path),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    server.kill()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    lines = err.splitlines()
    assert lines[-2].startswith("agentmem: ") and "Traceback" not in err
    assert "records were copied" in lines[-1] and "run the same command again" in lines[-1]

    server.start()  # the same port and directory: its AOF kept what it acknowledged
    result = run_cli(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stderr
    assert scan_all(server.url, "skill", "shared") == scan_all(source, "skill", "shared")
