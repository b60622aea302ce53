"""Helpers for the MCP tests: servers in process and as real stdio subprocesses."""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, MCPDeprecationWarning, StdioServerParameters
from mcp.client.session import MessageHandlerFnT
from mcp.types import CallToolResult, TextContent

from agentmem_mcp import MemoryServer

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Variables that would point a server at some other store than the test's own.
_STORE_VARIABLES = (
    "MEMORY_BACKEND",
    "AGENTMEM_URL",
    "AGENTMEM_SQLITE_PATH",
    "AGENTMEM_AGENT_ID",
    "AGENTMEM_NAMESPACE",
    "AGENTMEM_MCP_TRANSPORT",
    "AGENTMEM_MCP_LOG_LEVEL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
)


def new_namespace() -> str:
    return f"mcp-{secrets.token_hex(5)}"


def server_env(**extra: str) -> dict[str, str]:
    """The test process's environment without store settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _STORE_VARIABLES}
    env.update(extra)
    return env


def server_command(*args: str, console_script: str | None = None) -> tuple[str, list[str]]:
    """``python -m agentmem_mcp ARGS`` (or an installed console script) for this venv."""
    if console_script is not None:
        return str(BIN / console_script), list(args)
    return sys.executable, ["-m", "agentmem_mcp", *args]


@asynccontextmanager
async def stdio_client(
    *args: str,
    env: dict[str, str],
    mode: str = "auto",
    message_handler: MessageHandlerFnT | None = None,
    console_script: str | None = None,
) -> AsyncIterator[Client]:
    """A Client connected to a real ``agentmem-mcp`` subprocess over stdio."""
    command, argv = server_command(*args, console_script=console_script)
    params = StdioServerParameters(command=command, args=argv, env=env, cwd=str(REPO))
    client = Client(
        params,
        mode=mode,  # type: ignore[arg-type]
        message_handler=message_handler,
        cache=None,
        read_timeout_seconds=120,
    )
    async with client:
        yield client


@asynccontextmanager
async def connect(
    server: MemoryServer, *, mode: str = "auto", **options: Any
) -> AsyncIterator[Client]:
    """A Client connected to ``server`` in process (the SDK's direct dispatch).

    Opened inside each test rather than as a fixture: the client's anyio task group must
    be entered and left by the same task.
    """
    async with Client(server.mcp, mode=mode, cache=None, **options) as client:  # type: ignore[arg-type]
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    """Call a tool that must succeed; its structured result."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, f"{tool} failed: {text_of(result)}"
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """Call a tool that must fail as a tool error; the error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool}({_short(arguments)}) succeeded: {result.structured_content}"
    return text_of(result)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 200 else text[:200] + "..."


async def list_ids(client: Client, kind: str = "memory", namespace: str | None = None) -> set[str]:
    """Every id of a kind, through list_memories pages."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        arguments: dict[str, Any] = {"kind": kind, "limit": 100}
        if namespace is not None:
            arguments["namespace"] = namespace
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await call(client, "list_memories", arguments)
        ids.update(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def subscribe_legacy(client: Client, uri: str) -> None:
    """resources/subscribe, which the SDK marks deprecated (removed in 2026-07-28)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.subscribe_resource(uri)


async def unsubscribe_legacy(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.unsubscribe_resource(uri)


def percentiles(samples: Sequence[float]) -> str:
    """``p50 x ms, p99 y ms`` of samples in seconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    p50 = statistics.median(ordered)
    return f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (n={len(ordered)})"
