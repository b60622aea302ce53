"""Whatever a model sends becomes a tool error with a clear message; the server goes on."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from agentmem_mcp import MemoryServer
from tests.mcp.conftest import make_config
from tests.mcp.support import call, call_error, connect

aio = pytest.mark.asyncio

MB = "x" * 1_000_000


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


# (tool, arguments, a phrase the error must contain)
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    # wrong types
    ("add_memory", {"content": 5}, "valid string"),
    ("add_memory", {"content": "x", "tags": "not-a-list"}, "valid list"),
    ("add_memory", {"content": "x", "metadata": {"nested": {"no": 1}}}, "metadata"),
    ("add_memory", {"content": "x", "metadata": {"big": 2**70}}, "cannot be stored"),
    ("get_memory", {"id": ["a"]}, "valid string"),
    ("search_memory", {"query": "x", "limit": "many"}, "valid integer"),
    ("search_memory", {"query": "x", "limit": 10**30}, "less than or equal to 50"),
    ("save_episode", {"task_prompt": "x", "outcome": "y", "success": "maybe"}, "boolean"),
    ("add_memory", {"content": "x", "expires_in_seconds": -1}, "greater than 0"),
    ("save_episode", {"task_prompt": "t", "outcome": "o", "success": True, "importance": 7}, "1"),
    # missing fields
    ("add_memory", {}, "Field required"),
    ("save_episode", {"task_prompt": "x", "outcome": "y"}, "success"),
    ("record_skill_execution", {"success": True}, "skill_name"),
    ("search_all", {}, "query"),
    # 1 MB strings
    ("add_memory", {"content": MB}, "at most 100000 characters"),
    ("add_memory", {"content": "x", "id": MB}, "at most 512 characters"),
    ("add_memory", {"content": "x", "namespace": MB}, "at most 256 characters"),
    ("add_memory", {"content": "x", "tags": [MB]}, "at most 128 characters"),
    ("add_memory", {"content": "x", "kind": MB}, "pattern"),
    ("search_memory", {"query": MB}, "at most 2000 characters"),
    ("list_memories", {"cursor": MB}, "at most 1024 characters"),
    ("add_step", {"action": MB, "observation": "o"}, "at most 100000 characters"),
    ("save_skill", {"skill_name": MB, "description": "d", "action_sequence": []}, "at most 200"),
    # hostile names
    ("add_memory", {"content": "x", "id": "\x00"}, "control character"),
    ("add_memory", {"content": "x", "id": "line\nbreak"}, "control character"),
    ("add_memory", {"content": "x", "id": "\ud800"}, "unicode"),
    ("add_memory", {"content": "x", "namespace": "bell\x07"}, "control character"),
    ("add_memory", {"content": "x", "tags": ["t\x1b[31m"]}, "control character"),
    ("add_memory", {"content": "x", "kind": "Episodic"}, "pattern"),
    ("add_memory", {"content": "x", "kind": "../etc"}, "pattern"),
    ("add_memory", {"content": "x", "kind": "episodic"}, "agent tools"),
    ("get_memory", {"id": "epoch", "kind": "agentmem_meta"}, "internal"),
    ("save_skill", {"skill_name": "\x00", "description": "d", "action_sequence": []}, "control"),
    (
        "save_skill",
        {"skill_name": "deep", "description": "d", "action_sequence": [nested(150)]},
        "nested more than",
    ),
    ("rotate_session", {"new_session_id": "\x01"}, "control character"),
    ("save_knowledge", {"pattern": "!!!", "content": "c"}, "at least one word"),
    ("record_skill_execution", {"skill_name": "never_saved", "success": True}, "no skill named"),
    ("no_such_tool", {}, "Unknown tool"),
]


@aio
async def test_hostile_arguments_are_tool_errors(server: MemoryServer) -> None:
    async with connect(server) as client:
        for tool, arguments, phrase in HOSTILE:
            started = time.monotonic()
            message = await call_error(client, tool, arguments)
            assert phrase in message, f"{tool}: {message[:500]}"
            # The rejected value is not echoed back in full (a 1 MB error helps nobody).
            assert len(message) < 3000, f"{tool}: {len(message)} characters"
            assert time.monotonic() - started < 10
        # ...and the server is as good as new.
        added = await call(client, "add_memory", {"content": "still here"})
        assert (await call(client, "get_memory", {"id": added["id"]}))["found"]


LEGAL_BUT_ODD_IDS = [
    "../../etc/passwd",
    "/absolute",
    "*",
    "{tag}",
    "a/b",
    "%2F%00",
    "key:with:colons",
    "spaces  inside ",
    "ünïcödé €",
    "emoji 🧠",
    "agentmem://memory/shared/x",
    "x" * 512,
]


@aio
async def test_odd_ids_are_just_ids(server: MemoryServer) -> None:
    """Ids are escaped by the store: they never reach another record, namespace or glob."""
    async with connect(server) as client:
        uris = {}
        for i, record_id in enumerate(LEGAL_BUT_ODD_IDS):
            added = await call(client, "add_memory", {"content": f"odd {i}", "id": record_id})
            assert added["id"] == record_id
            uris[record_id] = added["uri"]
        page = await call(client, "list_memories", {"limit": 100})
        assert sorted(item["id"] for item in page["items"]) == sorted(LEGAL_BUT_ODD_IDS)
        for i, record_id in enumerate(LEGAL_BUT_ODD_IDS):
            got = await call(client, "get_memory", {"id": record_id})
            assert got["memory"]["content"] == f"odd {i}"
            resource = await client.read_resource(uris[record_id])
            assert json.loads(resource.contents[0].text)["id"] == record_id  # type: ignore[union-attr]
        assert (await call(client, "delete_memory", {"id": "*"}))["deleted"] is True
        remaining = await call(client, "list_memories", {"limit": 100})
        assert len(remaining["items"]) == len(LEGAL_BUT_ODD_IDS) - 1


@aio
async def test_unexpected_exception_is_logged_and_reported(
    server: MemoryServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store_type = type(server.memory.store)

    async def broken_search(self: object, *args: object, **kwargs: object) -> object:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(store_type, "search", broken_search)
    async with connect(server) as client:
        with caplog.at_level(logging.ERROR, logger="agentmem.mcp"):
            message = await call_error(client, "search_memory", {"query": "anything"})
        assert "internal error" in message and "server log" in message
        assert "secret internal detail" not in message
        [record] = [r for r in caplog.records if r.name == "agentmem.mcp"]
        assert "search_memory" in record.getMessage() and record.exc_info is not None
        monkeypatch.undo()
        assert (await call(client, "search_memory", {"query": "anything"}))["hits"] == []


@aio
async def test_a_hung_backend_is_a_timeout_not_a_hang(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with MemoryServer(make_config(backend, tmp_path, tool_timeout=0.3)) as server:

        async def hung_get(self: object, *args: object, **kwargs: object) -> object:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        monkeypatch.setattr(type(server.memory.store), "get", hung_get)
        async with connect(server) as client:
            started = time.monotonic()
            message = await call_error(client, "get_memory", {"id": "x"})
            assert "timed out after 0.3 s" in message
            assert time.monotonic() - started < 5
