"""How tests open AgentMemory on each backend, in this process or in a worker process."""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentmem.memory import AgentMemory, create_memory_adapter
from agentmem.plugins import backends

REPO = Path(__file__).resolve().parents[2]


def available_backends() -> list[str]:
    """memory and sqlite always; redis (Redis + SQLite fallback) once its plugin is installed."""
    names = ["memory", "sqlite"]
    if "redis" in backends():
        names.append("redis")
    return names


@dataclass
class Backend:
    """One backend for one test: every agent opened through it shares the same memory."""

    name: str
    tmp: Path
    namespace: str
    redis_port: int | None = None

    @property
    def cross_process(self) -> bool:
        return self.name != "memory"

    def options(self, agent_id: str) -> dict[str, Any]:
        """create_memory_adapter keyword arguments for ``agent_id`` (JSON-serializable)."""
        base: dict[str, Any] = {"agent_id": agent_id, "namespace": self.namespace}
        if self.name == "memory":
            return {**base, "url": f"memory://{self.namespace}"}
        if self.name == "sqlite":
            return {**base, "backend": "sqlite", "sqlite_path": str(self.tmp / "shared.db")}
        assert self.redis_port is not None
        # Each agent has its own SQLite fallback file, as agents on different machines would.
        return {
            **base,
            "backend": "redis",
            "redis_host": "127.0.0.1",
            "redis_port": self.redis_port,
            "sqlite_path": str(self.tmp / f"fallback-{agent_id}.db"),
        }

    async def open(self, agent_id: str = "agent-1", **extra: Any) -> AgentMemory:
        return await create_memory_adapter(**{**self.options(agent_id), **extra})

    def worker(
        self, agent_id: str, command: str, *args: str, **extra: Any
    ) -> subprocess.Popen[str]:
        """Start ``python -m tests.memory.worker`` with this backend's options."""
        options = json.dumps({**self.options(agent_id), **extra})
        return subprocess.Popen(
            [sys.executable, "-m", "tests.memory.worker", options, command, *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def read_json_line(process: subprocess.Popen[str], timeout: float = 60.0) -> Any:
    """The next JSON line a worker prints; fails (never hangs) if none comes in time."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"worker printed nothing within {timeout}s; stderr:\n{err}")
    line = process.stdout.readline()
    if not line:
        _, err = process.communicate()
        raise AssertionError(f"worker exited early ({process.returncode}); stderr:\n{err}")
    return json.loads(line)


def new_namespace() -> str:
    return f"t-{secrets.token_hex(6)}"
