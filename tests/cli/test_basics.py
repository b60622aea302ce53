"""The real ``agentmem`` command: --json everywhere, kinds checked, quiet broken pipes,
URLs shown decoded and masked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agentmem.memory.factory import sqlite_url
from agentmem.routing import failover_url
from tests.cli.support import AGENTMEM, cli_env, put, records, run_cli
from tests.support.redis_servers import RedisServer, free_port


def test_unknown_kind_exits_2_listing_the_valid_ones(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    for command in (
        ["search", "deploy", "--kind", "episodes"],
        ["export", "--kind", "episodes"],
        ["watch", "--kind", "episodes", "--timeout", "1"],
        ["migrate", url, sqlite_url(tmp_path / "b.db"), "--kind", "episodes"],
    ):
        result = (
            run_cli(tmp_path, *command, "--url", url)
            if command[0] != "migrate"
            else (run_cli(tmp_path, *command))
        )
        assert result.returncode == 2, (command, result.stderr)
        assert result.stdout == ""
        assert "unknown kind 'episodes'; valid kinds: episodic, memory, semantic" in result.stderr
        assert "Traceback" not in result.stderr
    # A kind of one's own is one flag away.
    put(url, records("notes", "shared", 2))
    result = run_cli(tmp_path, "export", "--kind", "notes", "--any-kind", "--url", url)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2


def test_json_output_parses_for_every_data_command(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    put(url, records("skill", "team", 3), times=2)
    backends = json.loads(run_cli(tmp_path, "backends", "--json").stdout)
    assert {"memory", "sqlite", "failover"} <= {b["scheme"] for b in backends["backends"]}

    stats = json.loads(
        run_cli(tmp_path, "stats", "--url", url, "--namespace", "team", "--json").stdout
    )
    assert stats["counts"]["skill"] == 3 and stats["degraded"] is False

    search = run_cli(tmp_path, "search", "deploys", "--kind", "skill", "--url", url,
                     "--namespace", "team", "--json")  # fmt: skip
    hits = json.loads(search.stdout)["hits"]
    assert len(hits) == 3 and {h["version"] for h in hits} == {2}
    assert hits[0]["score"] > 0 and hits[0]["text"].startswith("note ")

    exported = run_cli(tmp_path, "export", "--kind", "skill", "--namespace", "team", "--url", url)
    (tmp_path / "skills.jsonl").write_text(exported.stdout, encoding="utf-8")
    target = sqlite_url(tmp_path / "t.db")
    imported = json.loads(
        run_cli(tmp_path, "import", "skills.jsonl", "--url", target, "--json").stdout
    )
    assert imported == {
        "file": "skills.jsonl",
        "read": 3,
        "written": 3,
        "skipped": 0,
        "last_line": 3,
    }

    doctor = json.loads(run_cli(tmp_path, "doctor", "--url", url, "--json").stdout)
    assert doctor["ok"] is True
    assert {c["check"] for c in doctor["checks"]} >= {"sqlite schema", "reachable"}


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    # Far more than a pipe buffer holds, so the export is still writing when head exits.
    put(url, records("episodic", "shared", 3000))
    for command in (f"{AGENTMEM} export --kind episodic --url {url}", f"{AGENTMEM} demo"):
        shell = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command} | head -1"],
            capture_output=True,
            text=True,
            env=cli_env(tmp_path),
            timeout=60,
            check=False,
        )
        assert len(shell.stdout.splitlines()) == 1
        assert "Traceback" not in shell.stderr and "Exception ignored" not in shell.stderr
        assert "BrokenPipe" not in shell.stderr
        # 141 (128 + SIGPIPE) like any Unix tool cut off by head; the demo's few lines
        # may all fit in the pipe before head exits, and then it simply succeeds.
        assert shell.returncode in (0, 141), shell.stderr
        if "export" in command:
            assert shell.returncode == 141


def test_stats_while_redis_is_down_says_degraded_with_a_masked_url(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: Redis is down
    result = run_cli(
        tmp_path, "stats", "--backend", "redis",
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(port), REDIS_PASSWORD="pa:ss@word",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        f"failover://?primary=redis://:***@127.0.0.1:{port}/0&fallback=sqlite://"
    )
    assert "%3A" not in first and "pa:ss" not in result.stdout + result.stderr
    assert "agentmem: warning: DEGRADED: primary redis://:***@127.0.0.1" in result.stderr
    assert "come from fallback sqlite://" in result.stderr


def test_stats_on_a_healthy_failover_store_prints_no_warning(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    url = failover_url(redis_server.url + "?prefix=clistats", sqlite_url(tmp_path / "fb.db"))
    result = run_cli(tmp_path, "stats", "--url", url, "--json")
    assert result.returncode == 0
    stats = json.loads(result.stdout)
    assert stats["degraded"] is False and stats["routing"]["state"] == "healthy"
    assert stats["url"].startswith(f"failover://?primary={redis_server.url}")
    assert "DEGRADED" not in result.stderr
