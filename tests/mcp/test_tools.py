"""Every tool through the SDK's in-process client, on memory:// and on a SQLite file."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from mcp.shared.exceptions import MCPError

from agentmem_mcp import MemoryServer, parse_record_uri
from tests.mcp.support import call, call_error, connect, list_ids

aio = pytest.mark.asyncio

# name: (read-only, destructive, idempotent)
EXPECTED_ANNOTATIONS = {
    "add_memory": (False, False, False),
    "search_memory": (True, False, True),
    "list_memories": (True, False, True),
    "get_memory": (True, False, True),
    "delete_memory": (False, True, True),
    "add_step": (False, False, False),
    "save_episode": (False, False, False),
    "search_episodes": (True, False, True),
    "save_skill": (False, True, True),
    "record_skill_execution": (False, False, False),
    "save_knowledge": (False, True, True),
    "get_enriched_context": (True, False, True),
    "search_all": (True, False, True),
    "rotate_session": (False, False, False),
    "get_stats": (True, False, True),
}


@aio
async def test_tools_are_listed_with_schemas_and_annotations(server: MemoryServer) -> None:
    async with connect(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == set(EXPECTED_ANNOTATIONS)
        for name, (read_only, destructive, idempotent) in EXPECTED_ANNOTATIONS.items():
            tool = tools[name]
            assert tool.annotations is not None, name
            assert tool.annotations.read_only_hint is read_only, name
            assert tool.annotations.destructive_hint is destructive, name
            assert tool.annotations.idempotent_hint is idempotent, name
            assert tool.annotations.open_world_hint is False, name
            assert tool.title and tool.annotations.title == tool.title
            # Written for a model: a real description, typed output.
            assert tool.description and len(tool.description) > 60, name
            assert tool.output_schema and tool.output_schema.get("type") == "object", name
            assert tool.input_schema["type"] == "object"
        content = tools["add_memory"].input_schema["properties"]["content"]
        assert content["maxLength"] == 100_000 and content["minLength"] == 1


@aio
async def test_add_search_list_get_delete(server: MemoryServer) -> None:
    async with connect(server) as client:
        added = await call(
            client,
            "add_memory",
            {
                "content": "The user prefers dark mode in every editor",
                "tags": ["ui", "preference"],
                "metadata": {"source": "chat", "confidence": 0.9, "pinned": True, "n": 3},
            },
        )
        assert added["kind"] == "memory" and added["version"] == 1
        assert added["tags"] == ["preference", "ui"]
        assert added["data"]["metadata"] == {
            "source": "chat",
            "confidence": 0.9,
            "pinned": True,
            "n": 3,
        }
        ref = parse_record_uri(added["uri"])
        assert (ref.kind, ref.namespace, ref.id) == ("memory", added["namespace"], added["id"])

        other = await call(client, "add_memory", {"content": "Deploys happen on Tuesdays"})
        found = await call(client, "search_memory", {"query": "dark editor"})
        assert [hit["id"] for hit in found["hits"]] == [added["id"]]
        assert found["hits"][0]["score"] > 0
        tagged = await call(client, "search_memory", {"query": "mode tuesdays", "tags": ["ui"]})
        assert [hit["id"] for hit in tagged["hits"]] == [added["id"]]
        assert (await call(client, "search_memory", {"query": "nothing matches this"}))[
            "hits"
        ] == []

        assert await list_ids(client) == {added["id"], other["id"]}
        got = await call(client, "get_memory", {"id": added["id"]})
        assert got["found"] is True and got["memory"]["content"] == added["content"]

        assert (await call(client, "delete_memory", {"id": added["id"]}))["deleted"] is True
        assert (await call(client, "delete_memory", {"id": added["id"]}))["deleted"] is False
        gone = await call(client, "get_memory", {"id": added["id"]})
        assert gone == {"found": False, "uri": added["uri"], "memory": None}


@aio
async def test_own_ids_kinds_namespaces(server: MemoryServer) -> None:
    async with connect(server) as client:
        first = await call(
            client,
            "add_memory",
            {"content": "likes tea", "id": "pref-1", "kind": "preference", "namespace": "team-b"},
        )
        assert first["uri"] == "agentmem://preference/team-b/pref-1"
        message = await call_error(
            client,
            "add_memory",
            {
                "content": "likes coffee",
                "id": "pref-1",
                "kind": "preference",
                "namespace": "team-b",
            },
        )
        assert "already exists" in message and "pref-1" in message
        # Same id, other kind or namespace: other records.
        await call(client, "add_memory", {"content": "x", "id": "pref-1", "kind": "preference"})
        await call(client, "add_memory", {"content": "x", "id": "pref-1", "namespace": "team-b"})
        assert await list_ids(client, "preference", "team-b") == {"pref-1"}


@aio
async def test_paging(server: MemoryServer) -> None:
    async with connect(server) as client:
        ids = {
            (await call(client, "add_memory", {"content": f"note {i}"}))["id"] for i in range(25)
        }
        page = await call(client, "list_memories", {"limit": 10})
        assert len(page["items"]) == 10 and page["next_cursor"]
        assert await list_ids(client) == ids


@aio
async def test_expiry(server: MemoryServer) -> None:
    async with connect(server) as client:
        added = await call(
            client, "add_memory", {"content": "short lived", "expires_in_seconds": 0.3}
        )
        assert added["expires_at"] is not None
        await asyncio.sleep(0.5)
        assert (await call(client, "get_memory", {"id": added["id"]}))["found"] is False


@aio
async def test_agent_kinds_are_read_only_for_generic_tools(server: MemoryServer) -> None:
    async with connect(server) as client:
        for kind in ("episodic", "semantic", "skill", "session"):
            message = await call_error(client, "add_memory", {"content": "x", "kind": kind})
            assert "written by the agent tools" in message
        for tool, arguments in [
            ("add_memory", {"content": "x"}),
            ("get_memory", {"id": "epoch"}),
            ("list_memories", {}),
            ("search_memory", {"query": "x"}),
            ("delete_memory", {"id": "x"}),
        ]:
            message = await call_error(client, tool, {**arguments, "kind": "agentmem_outbox"})
            assert "internal" in message


@aio
async def test_working_memory_stays_private(server: MemoryServer) -> None:
    """Another agent's steps are not readable through the generic tools or resources (the
    library's rule); this agent reaches its own through get_enriched_context."""
    async with connect(server) as client:
        await call(client, "add_step", {"action": "secret step", "observation": "seen"})
        other = f"{server.config.namespace}/agent/someone-else"
        for tool, arguments in [
            ("list_memories", {"namespace": other}),
            ("search_memory", {"query": "secret", "namespace": other}),
            ("get_memory", {"id": "x", "namespace": other}),
            ("delete_memory", {"id": "x", "namespace": other}),
            ("add_memory", {"content": "x", "namespace": other}),
        ]:
            message = await call_error(client, tool, {**arguments, "kind": "working"})
            assert "private to its agent" in message
        with pytest.raises(MCPError, match="private to its agent"):
            await client.read_resource(f"agentmem://working/{quote(other, safe='')}/x")
        context = await call(client, "get_enriched_context", {"query": "secret"})
        assert "secret step" in context["context"]


@aio
async def test_agent_tools(server: MemoryServer) -> None:
    async with connect(server) as client:
        step = await call(
            client,
            "add_step",
            {
                "action": "Build the container image",
                "observation": "image web:1.4 built",
                "tool_names": ["docker_build"],
                "duration_ms": 1200,
            },
        )
        assert step["step_number"] == 1 and step["working_memory_steps"] == 1
        await call(
            client, "add_step", {"action": "Apply the manifests", "observation": "rolled out"}
        )

        episode = await call(
            client,
            "save_episode",
            {
                "task_prompt": "Deploy the web app to staging",
                "outcome": "web 1.4 is live on staging",
                "success": True,
                "duration_seconds": 95,
                "tags": ["deploy"],
                "importance": 0.8,
            },
        )
        assert episode["steps"] == 2 and episode["tools_used"] == ["docker_build"]
        assert episode["uri"].startswith("agentmem://episodic/")
        found = await call(client, "search_episodes", {"query": "deploy staging"})
        assert [e["memory_id"] for e in found["episodes"]] == [episode["memory_id"]]
        assert (await call(client, "search_episodes", {"query": "deploy", "tags": ["nope"]}))[
            "episodes"
        ] == []

        skill = await call(
            client,
            "save_skill",
            {
                "skill_name": "deploy_to_staging",
                "description": "build, apply, check health",
                "action_sequence": ["build", {"action": "apply", "args": {"env": "staging"}}],
                "preconditions": ["cluster reachable"],
            },
        )
        assert skill["times_executed"] == 0 and skill["uri"] == (
            f"agentmem://skill/{server.config.namespace}/deploy_to_staging"
        )
        await call(
            client,
            "record_skill_execution",
            {"skill_name": "deploy_to_staging", "success": True, "duration_seconds": 90},
        )
        ran = await call(
            client,
            "record_skill_execution",
            {"skill_name": "deploy_to_staging", "success": False, "duration_seconds": 30},
        )
        assert (ran["times_executed"], ran["times_succeeded"], ran["success_rate"]) == (2, 1, 0.5)
        assert ran["average_duration"] == 60
        message = await call_error(
            client, "record_skill_execution", {"skill_name": "no_such_skill", "success": True}
        )
        assert "no skill named" in message

        knowledge = await call(
            client,
            "save_knowledge",
            {
                "pattern": "staging deploys",
                "content": "check health after apply",
                "sources": [episode["memory_id"]],
            },
        )
        assert knowledge["confidence"] == 0.8 and knowledge["source_episodes"] == [
            episode["memory_id"]
        ]

        context = (await call(client, "get_enriched_context", {"query": "deploy web to staging"}))[
            "context"
        ]
        assert context.startswith("[Current Task Context]")
        for section in ("[Relevant Past Experiences]", "[Relevant Knowledge]", "[Relevant Skills]"):
            assert section in context
        assert "deploy_to_staging: build, apply, check health (success rate: 50.0%)" in context

        everything = await call(client, "search_all", {"query": "staging"})
        assert [e["memory_id"] for e in everything["episodes"]] == [episode["memory_id"]]
        assert [k["memory_id"] for k in everything["knowledge"]] == [knowledge["memory_id"]]
        assert [s["skill_name"] for s in everything["skills"]] == ["deploy_to_staging"]

        stats = await call(client, "get_stats")
        assert (stats["episodes"], stats["knowledge"], stats["skills"]) == (1, 1, 1)
        assert stats["working_memory_steps"] == 0  # save_episode cleared it
        assert stats["agent_id"] == "mcp-test" and stats["namespace"] == server.config.namespace

        session = await call(client, "rotate_session", {})
        assert session["previous_session_id"] == stats["session_id"]
        assert session["session_id"] != stats["session_id"]
        named = await call(client, "rotate_session", {"new_session_id": "release-2"})
        assert named == {"session_id": "release-2", "previous_session_id": session["session_id"]}
        assert (await call(client, "get_stats"))["session_id"] == "release-2"


@aio
async def test_generic_tools_read_agent_kinds(server: MemoryServer) -> None:
    async with connect(server) as client:
        episode = await call(
            client,
            "save_episode",
            {"task_prompt": "rotate the keys", "outcome": "done", "success": True},
        )
        hits = await call(client, "search_memory", {"query": "rotate keys", "kind": "episodic"})
        assert [h["id"] for h in hits["hits"]] == [episode["memory_id"]]
        got = await call(client, "get_memory", {"id": episode["memory_id"], "kind": "episodic"})
        assert got["memory"]["data"]["task_prompt"] == "rotate the keys"
        assert got["memory"]["uri"] == episode["uri"]


@aio
async def test_structured_results_also_come_as_text(server: MemoryServer) -> None:
    async with connect(server) as client:
        result = await client.call_tool("get_stats", {})
        assert not result.is_error and result.content  # JSON text for clients without structure
        assert '"agent_id"' in result.content[0].text  # type: ignore[union-attr]


@aio
async def test_serving_an_adapter_the_caller_owns() -> None:
    from agentmem import create_memory_adapter

    async with await create_memory_adapter("memory", agent_id="owner") as memory:
        async with MemoryServer(memory=memory) as server, connect(server) as client:
            await call(client, "add_memory", {"content": "kept by the caller", "id": "k"})
            assert (await call(client, "get_stats"))["agent_id"] == "owner"
        # The server is closed; the adapter is not.
        assert await memory.store.get(parse_record_uri(f"agentmem://memory/{memory.namespace}/k"))
