"""agentmem watch: one line per change with its cursor; --since resumes after one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from agentmem.memory.factory import sqlite_url
from agentmem.store import Record, Ref
from tests.cli.support import AGENTMEM, cli_env, new_namespace, put, run_cli
from tests.support.redis_servers import RedisServer


def _watch_while_writing(
    tmp_path: Path, url: str, writes: list[Record], *args: str
) -> list[dict[str, Any]]:
    process = subprocess.Popen(
        [AGENTMEM, "watch", "--url", url, "--json", "--timeout", "30", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
    )
    assert process.stderr is not None
    # The feed position is fixed before this line (warnings may come first).
    lines = [process.stderr.readline() for _ in range(1)]
    while not lines[-1].startswith("agentmem: watching ") and len(lines) < 10 and lines[-1]:
        lines.append(process.stderr.readline())
    assert lines[-1].startswith("agentmem: watching "), lines
    put(url, writes)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_watch_filters_and_resumes_from_a_printed_cursor(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    put(url, [Record(ref=Ref("skill", "team", "before"))])  # not seen: before the watch
    writes = [
        Record(ref=Ref("skill", "team", "a")),
        Record(ref=Ref("episodic", "team", "not-a-skill")),
        Record(ref=Ref("skill", "other", "not-in-team")),
        Record(ref=Ref("skill", "team", "b")),
        Record(ref=Ref("skill", "team", "c")),
    ]
    events = _watch_while_writing(
        tmp_path, url, writes, "--kind", "skill", "--namespace", "team", "--count", "3"
    )
    assert [(e["op"], e["kind"], e["namespace"], e["id"]) for e in events] == [
        ("put", "skill", "team", i) for i in "abc"
    ]
    assert all(e["version"] == 1 and e["origin"] for e in events)

    resumed = run_cli(
        tmp_path, "watch", "--url", url, "--kind", "skill", "--namespace", "team",
        "--since", events[0]["cursor"], "--count", "2", "--timeout", "20",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    rows = [line.split() for line in resumed.stdout.splitlines()]
    assert [(r[0], r[1], r[4]) for r in rows] == [
        (events[1]["cursor"], "put", "b"),
        (events[2]["cursor"], "put", "c"),
    ]
    assert f"resume with --since {events[2]['cursor']}" in resumed.stderr

    replay = run_cli(tmp_path, "watch", "--url", url, "--since", "start", "--count", "1",
                     "--timeout", "20", "--json")  # fmt: skip
    assert json.loads(replay.stdout)["id"] == "before"


def test_watch_on_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    url = f"{redis_server.url}?prefix={new_namespace()}"
    events = _watch_while_writing(
        tmp_path, url, [Record(ref=Ref("semantic", "shared", "p1"))], "--count", "1"
    )
    assert [(e["op"], e["id"]) for e in events] == [("put", "p1")]
