"""Running the real ``agentmem`` command (the installed entry point) in a subprocess."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from agentmem import open_store
from agentmem.store import Record, Ref

AGENTMEM = os.path.join(os.path.dirname(sys.executable), "agentmem")
"""The console script pip installed beside this Python."""

_STORE_VARIABLES = (
    "AGENTMEM_URL",
    "MEMORY_BACKEND",
    "AGENTMEM_SQLITE_PATH",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
)


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without store settings of the caller's, plus ``extra``; the default
    SQLite file is in ``tmp_path`` so nothing outside it is ever touched."""
    env = {k: v for k, v in os.environ.items() if k not in _STORE_VARIABLES}
    env["AGENTMEM_SQLITE_PATH"] = str(tmp_path / "default.db")
    env["COLUMNS"] = "120"
    env.update(extra)
    return env


def run_cli(
    tmp_path: Path, *args: str, input: str | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """``agentmem ARGS`` with stdout and stderr captured (so neither is a terminal)."""
    return subprocess.run(
        [AGENTMEM, *args],
        input=input,
        capture_output=True,
        text=True,
        env=cli_env(tmp_path, **env),
        timeout=timeout,
        check=False,
        cwd=tmp_path,
    )


def new_namespace() -> str:
    return f"cli-{secrets.token_hex(4)}"


def put(url: str, records: Iterable[Record], *, times: int = 1) -> None:
    """Write the records (``times`` times each, so their versions reach ``times``)."""
    batch = list(records)

    async def write() -> None:
        async with await open_store(url) as store:
            for _ in range(times):
                await store.put_many(batch)

    asyncio.run(write())


def scan_all(url: str, kind: str, namespace: str) -> list[Record]:
    async def scan() -> list[Record]:
        found: list[Record] = []
        async with await open_store(url) as store:
            cursor: str | None = None
            while True:
                page = await store.scan(kind, namespace, limit=500, cursor=cursor)
                found += page.records
                cursor = page.cursor
                if cursor is None:
                    return found

    return asyncio.run(scan())


def records(kind: str, namespace: str, n: int, *, prefix: str = "r") -> list[Record]:
    return [
        Record(ref=Ref(kind, namespace, f"{prefix}{i:05d}"), text=f"note {i} about deploys")
        for i in range(n)
    ]
