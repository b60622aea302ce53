"""In-process servers over each embedded backend (real SQLite files in temp dirs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentmem_mcp import MemoryServer, ServerConfig
from tests.mcp.support import new_namespace


def make_config(backend: str, tmp_path: Path, **overrides: object) -> ServerConfig:
    options: dict[str, object] = {"namespace": new_namespace(), "agent_id": "mcp-test"}
    if backend == "memory":
        options["backend"] = "memory"
    else:
        options["backend"] = "sqlite"
        options["sqlite_path"] = str(tmp_path / "memory.db")
    options.update(overrides)
    return ServerConfig(**options)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def server(backend: str, tmp_path: Path) -> AsyncIterator[MemoryServer]:
    async with MemoryServer(make_config(backend, tmp_path)) as running:
        yield running
