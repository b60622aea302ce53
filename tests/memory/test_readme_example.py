"""README.md's example, run verbatim on every backend: the printed results are identical."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.redis_servers import RedisServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    return str(blocks[0])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "AGENTMEM_"))}
    env.pop("MEMORY_BACKEND", None)
    env["AGENTMEM_SQLITE_PATH"] = str(tmp_path / "readme.db")
    env.update(extra)
    return env


def _run(env: dict[str, str], *, kill_after_first_line: RedisServer | None = None) -> list[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _example()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    if kill_after_first_line is not None:
        kill_after_first_line.kill()  # the rest of the example runs on the SQLite fallback
    # Keep reading through the same text wrapper: it may already hold the rest.
    out = process.stdout.read()
    assert process.stderr is not None
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    return [line.rstrip("\n") for line in (lines[0] + out).splitlines()]


def test_readme_example_prints_the_same_everywhere(
    tmp_path: Path, redis_server_factory: type[RedisServer]
) -> None:
    results: dict[str, list[str]] = {}
    results["memory"] = _run(_env(tmp_path / "m", MEMORY_BACKEND="memory"))
    results["sqlite"] = _run(_env(tmp_path / "s", MEMORY_BACKEND="sqlite"))
    for name, kill in (("redis", False), ("redis killed halfway", True)):
        server = redis_server_factory().start()
        env = _env(
            tmp_path / name.replace(" ", "-"),
            MEMORY_BACKEND="redis",
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(server.port),
        )
        results[name] = _run(env, kill_after_first_line=server if kill else None)
    print("\n".join(results["sqlite"]))
    assert results["memory"][0] == "['Deploy the web app to staging']"
    assert results["memory"][-1] == "2 sessions"
    assert "[Relevant Skills]" in results["memory"]
    for name, lines in results.items():
        assert lines == results["memory"], name
