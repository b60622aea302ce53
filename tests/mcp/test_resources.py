"""Records as resources, and resource-updated notifications fed by the change feed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from agentmem import Record, Ref, open_store
from agentmem_mcp import MemoryServer, record_uri
from tests.mcp.support import call, connect, subscribe_legacy, unsubscribe_legacy

aio = pytest.mark.asyncio


@aio
async def test_read_and_list_records(server: MemoryServer) -> None:
    async with connect(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["agentmem://{kind}/{namespace}/{id}"]

        notes = [
            await call(client, "add_memory", {"content": f"note {i}\nsecond line"})
            for i in range(55)
        ]
        episode = await call(
            client,
            "save_episode",
            {"task_prompt": "ship it", "outcome": "shipped", "success": True},
        )
        read = await client.read_resource(notes[0]["uri"])
        [content] = read.contents
        assert content.mime_type == "application/json"
        body = json.loads(content.text)  # type: ignore[union-attr]
        assert body["id"] == notes[0]["id"] and body["content"] == "note 0\nsecond line"

        listed: list[Any] = []
        cursor = None
        while True:
            page = await client.list_resources(cursor=cursor)
            listed.extend(page.resources)
            cursor = page.next_cursor
            if cursor is None:
                break
        uris = [r.uri for r in listed]
        assert set(uris) >= {n["uri"] for n in notes} | {episode["uri"]}
        assert len(uris) == len(set(uris))
        first = next(r for r in listed if r.uri == notes[0]["uri"])
        assert first.description == "note 0" and first.mime_type == "application/json"

        with pytest.raises(MCPError, match="invalid cursor"):
            await client.list_resources(cursor="not a cursor")


@aio
async def test_bad_resource_uris_are_errors(server: MemoryServer) -> None:
    async with connect(server) as client:
        missing = record_uri(Ref("memory", server.config.namespace, "absent"))
        for uri in [
            missing,
            "agentmem://memory/ns/%00",  # control character
            "agentmem://Memory/ns/x",  # not a kind
            "agentmem://agentmem_meta/agentmem/epoch",  # internal
            "agentmem://memory/ns/a/b",  # four parts
            "agentmem://memory/ns/%FF%FE",  # not UTF-8
            "file:///etc/passwd",
        ]:
            with pytest.raises(MCPError):
                await client.read_resource(uri)
        # Still serving.
        await call(client, "add_memory", {"content": "fine"})


@aio
async def test_listen_stream_gets_updates_from_any_writer(server: MemoryServer) -> None:
    """2026-07-28 clients: subscriptions/listen; writes through the tools and through
    another store handle on the same data are both announced."""
    namespace = server.config.namespace
    uri = record_uri(Ref("memory", namespace, "watched"))
    async with (
        connect(server) as client,
        client.listen(resource_subscriptions=[uri], resources_list_changed=True) as events,
    ):
        stream = aiter(events)
        await call(client, "add_memory", {"content": "v1", "id": "watched"})
        assert await _next_event(stream, ResourceUpdated) == ResourceUpdated(uri=uri)
        # A record nobody subscribed to is not announced as updated (list changed only).
        await call(client, "add_memory", {"content": "other", "id": "unwatched"})
        if server.config.backend == "sqlite":
            # Another writer on the same file (as another process would be).
            async with await open_store(
                "sqlite://" + str(server.config.sqlite_path), origin="other-process"
            ) as other:
                await other.put(Record(ref=Ref("memory", namespace, "watched"), text="v2"))
        else:
            await server.memory.store.put(
                Record(ref=Ref("memory", namespace, "watched"), text="v2")
            )
        assert await _next_event(stream, ResourceUpdated) == ResourceUpdated(uri=uri)
        await call(client, "delete_memory", {"id": "watched"})
        assert await _next_event(stream, ResourceUpdated) == ResourceUpdated(uri=uri)


async def _next_event(stream: Any, kind: type, timeout: float = 10.0) -> Any:
    """The next event of ``kind`` (list-changed events may come in between)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await anext(stream)
            if isinstance(event, kind):
                return event
            assert isinstance(event, ResourcesListChanged), event


@aio
async def test_legacy_subscribe_and_unsubscribe(server: MemoryServer) -> None:
    """Handshake-era clients: resources/subscribe and notifications/resources/updated."""
    received: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            await received.put(message.params.uri)

    uri = record_uri(Ref("memory", server.config.namespace, "legacy"))
    async with connect(server, mode="legacy", message_handler=on_message) as client:
        assert client.protocol_version != "2026-07-28"
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe is True
        # Subscribing with another (valid) spelling of the URI is the same subscription.
        await subscribe_legacy(client, uri.replace("legacy", "%6Cegacy"))
        await call(client, "add_memory", {"content": "v1", "id": "legacy"})
        assert await asyncio.wait_for(received.get(), 10) == uri
        await call(client, "add_memory", {"content": "elsewhere", "id": "not-subscribed"})
        await unsubscribe_legacy(client, uri)
        await call(client, "delete_memory", {"id": "legacy"})
        await asyncio.sleep(0.5)
        assert received.empty()
        with pytest.raises(MCPError):
            await subscribe_legacy(client, "agentmem://agentmem_outbox/x/y")
        with pytest.raises(MCPError):
            await subscribe_legacy(client, "not a uri")


@aio
async def test_closed_connections_drop_their_subscriptions(server: MemoryServer) -> None:
    uri = record_uri(Ref("memory", server.config.namespace, "dropped"))
    async with connect(server, mode="legacy") as client:
        await subscribe_legacy(client, uri)
        assert server.notifier is not None and server.notifier.subscribers(uri) == 1
    # The connection is gone: writing still works, and nothing is kept for it.
    async with connect(server) as client:
        await call(client, "add_memory", {"content": "x", "id": "dropped"})
    for _ in range(50):
        import gc

        gc.collect()
        if server.notifier.subscribers(uri) == 0:
            break
        await asyncio.sleep(0.1)
    assert server.notifier.subscribers(uri) == 0


def test_uri_encoding_round_trips(tmp_path: Path) -> None:
    from agentmem_mcp import parse_record_uri

    for ref in [
        Ref("memory", "shared/agent/mcp", "../etc/passwd"),
        Ref("skill", "a b", "{tag}*?#%"),
        Ref("episodic", "ns", "ünï €/🧠"),
    ]:
        uri = record_uri(ref)
        assert uri.count("/") == 4  # agentmem:// + two separators: one segment per part
        assert parse_record_uri(uri) == ref
