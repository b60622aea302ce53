"""MemoryServer: an MCP server (the official SDK's ``MCPServer``) over one AgentMemory.

One server process holds one :class:`~agentmem.AgentMemory` (one agent id, one session)
and one change-feed follower. Many server processes may share one store: every MCP
client starts its own server, and agentmem keeps them consistent (SQLite across the
processes sharing a file, Redis across machines, with the SQLite fallback).

    async with MemoryServer(ServerConfig(backend="sqlite")) as server:
        await server.run()          # stdio or streamable HTTP, per the config

Tests connect in process with ``mcp.Client(server.mcp)``.
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import mcp.types as mt
from mcp.server.mcpserver import MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError

from agentmem import AgentMemError, AgentMemory, InvalidInput, Ref, create_memory_adapter
from agentmem_mcp.config import FallbackSlot, ServerConfig, claim_fallback_slot
from agentmem_mcp.kinds import hidden_reason
from agentmem_mcp.models import MemoryItem
from agentmem_mcp.notify import ChangeNotifier
from agentmem_mcp.uris import URI_TEMPLATE, canonical_uri, parse_record_uri, record_uri

if TYPE_CHECKING:
    from agentmem_mcp.httpserver import HTTPServer

__all__ = ["INSTRUCTIONS", "MemoryServer"]

log = logging.getLogger("agentmem.mcp")

RESOURCE_PAGE = 50
MAX_LIST_CURSOR = 1024

INSTRUCTIONS = """\
Durable memory shared with other agents (and with your own future sessions).

- Remember facts, preferences and decisions with add_memory; find them with search_memory
  (keywords), list_memories, get_memory; forget with delete_memory.
- While working on a task, record steps with add_step; when it is done, save_episode.
  Before a task, call get_enriched_context (or search_all / search_episodes) to reuse
  what worked before.
- Save reusable procedures with save_skill and report each run with
  record_skill_execution; save general lessons with save_knowledge.
- rotate_session starts a fresh session for an unrelated task; get_stats shows what
  the memory holds and whether its backend is healthy.

Every stored record is also a resource, agentmem://{kind}/{namespace}/{id}; subscribe to
be told when any process changes it.
"""


def _lowlevel(server: MCPServer[Any]) -> Any:
    """The SDK's low-level ``Server`` behind ``server``.

    ``MCPServer`` registers no ``resources/subscribe`` handler and lists only static
    resources; the SDK's documented way to serve such methods is the low-level
    ``Server.add_request_handler``, which ``MCPServer`` keeps in this attribute.
    """
    lowlevel = getattr(server, "_lowlevel_server", None)
    if lowlevel is None or not hasattr(lowlevel, "add_request_handler"):
        raise RuntimeError(
            "this mcp SDK version has no MCPServer._lowlevel_server; pin mcp>=2.3,<3"
        )
    return lowlevel


def _connection_of(session: Any) -> Any:
    """What to keep for notifying a subscriber later.

    The SDK builds a new ``ServerSession`` per request; its connection (which has
    ``send_resource_updated`` too) lives as long as the client is connected, so that is
    what subscriptions hold (weakly). Falls back to the session itself.
    """
    connection = getattr(session, "_connection", None)
    return connection if hasattr(connection, "send_resource_updated") else session


class MemoryServer:
    """The agentmem MCP server: tools, record resources and change notifications.

    Parameters:
        config: where the memory lives and how to serve it (:class:`ServerConfig`).
        memory: an already opened AgentMemory to serve instead of opening one from
            ``config`` (it is not closed by :meth:`close`).
    """

    def __init__(self, config: ServerConfig | None = None, *, memory: AgentMemory | None = None):
        from agentmem_mcp import __version__
        from agentmem_mcp.tools import register_tools

        self.config = config or ServerConfig()
        self.bus = InMemorySubscriptionBus()
        self.mcp: MCPServer[Any] = MCPServer(
            name="agentmem",
            title="agentmem: durable shared memory",
            instructions=INSTRUCTIONS,
            version=__version__,
            subscriptions=self.bus,
            log_level=_sdk_level(self.config.log_level),
        )
        self._given_memory = memory
        self._memory: AgentMemory | None = memory
        self._notifier: ChangeNotifier | None = None
        self._slot: FallbackSlot | None = None
        self._http: HTTPServer | None = None
        register_tools(self)
        self._register_resources()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def memory(self) -> AgentMemory:
        """The memory the tools use; a tool error while the server is not started."""
        if self._memory is None:
            raise ToolError("the memory server is not running (starting or shutting down)")
        return self._memory

    @property
    def notifier(self) -> ChangeNotifier | None:
        return self._notifier

    async def start(self) -> None:
        """Open the memory (unless given) and start following the change feed."""
        if self._memory is None:
            self._memory = await self._open_memory()
        if self._notifier is None:
            self._notifier = ChangeNotifier(self._memory.store, self.bus)
            await self._notifier.start()

    async def _open_memory(self) -> AgentMemory:
        config = self.config
        sqlite_path = config.sqlite_path
        if config.per_process_fallback and config.uses_redis_with_fallback():
            self._slot = claim_fallback_slot()
            sqlite_path = str(self._slot.path)
            log.info("fallback file of this server: %s", sqlite_path)
        try:
            memory = await create_memory_adapter(
                config.backend,
                agent_id=config.agent_id,
                session_id=config.session_id,
                # The server follows the feed itself (every kind, for resources).
                enable_pubsub=False,
                redis_host=config.redis_host,
                redis_port=config.redis_port,
                redis_db=config.redis_db,
                redis_password=config.redis_password,
                url=config.url,
                sqlite_path=sqlite_path,
                namespace=config.namespace,
            )
        except BaseException:
            self._release_slot()
            raise
        log.info(
            "serving %s as agent %s (namespace %s, session %s)",
            memory.redis_manager.description,
            memory.agent_id,
            memory.namespace,
            memory.session_id,
        )
        return memory

    def _release_slot(self) -> None:
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    async def close(self) -> None:
        """Stop notifications, close the memory it opened; idempotent."""
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            await notifier.close()
        memory, self._memory = self._memory, None
        if memory is not None and memory is not self._given_memory:
            try:
                await memory.close()
            finally:
                self._release_slot()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def run(self) -> None:
        """Serve on the configured transport until the client goes away (stdio EOF) or
        :meth:`request_stop` (HTTP)."""
        config = self.config
        if config.transport != "streamable-http":
            await self.mcp.run_stdio_async()
            return
        from agentmem_mcp.httpserver import http_server

        app = self.mcp.streamable_http_app(streamable_http_path=config.http_path, host=config.host)
        self._http = http_server(app, config)
        await self._http.serve()

    def request_stop(self) -> None:
        """Make :meth:`run` return (streamable HTTP: a graceful shutdown of the server)."""
        if self._http is not None:
            self._http.should_exit = True

    # -- resources ---------------------------------------------------------------------

    def _register_resources(self) -> None:
        # Ids are not file paths: "..", "/x" and the like are plain ids here (the store
        # escapes every part), so the SDK's path-traversal screening does not apply.
        security = ResourceSecurity(
            reject_path_traversal=False, reject_absolute_paths=False, reject_null_bytes=False
        )

        @self.mcp.resource(
            URI_TEMPLATE,
            name="record",
            title="A stored memory record",
            description="One record (any kind: memory, episodic, semantic, skill, working, "
            "session) as JSON. Subscribe to be notified when any process changes it.",
            mime_type="application/json",
            security=security,
        )
        async def read_record(kind: str, namespace: str, id: str) -> str:
            return await self._read_record(kind, namespace, id)

        lowlevel = _lowlevel(self.mcp)
        lowlevel.add_request_handler("resources/list", mt.PaginatedRequestParams, self._list)
        lowlevel.add_request_handler("resources/subscribe", mt.SubscribeRequestParams, self._sub)
        lowlevel.add_request_handler(
            "resources/unsubscribe", mt.UnsubscribeRequestParams, self._unsub
        )

    async def _read_record(self, kind: str, namespace: str, record_id: str) -> str:
        try:
            ref = Ref(kind, namespace, record_id)
            if (reason := hidden_reason(ref.kind)) is not None:
                raise ResourceError(reason)
            record = await self.memory.store.get(ref)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        except AgentMemError as exc:
            raise ResourceError(" ".join(str(exc).split())) from None
        if record is None:
            raise ResourceNotFoundError(f"no such record: {record_uri(ref)}")
        return MemoryItem.from_record(record).model_dump_json(indent=2)

    async def _list(self, ctx: Any, params: mt.PaginatedRequestParams) -> mt.ListResourcesResult:
        """resources/list: the records of the listed kinds in the server's namespace,
        kind by kind, id order; the cursor is ``<kind index>:<store cursor>``."""
        kinds = [k for k in self.config.resource_kinds if hidden_reason(k) is None]
        index, store_cursor = 0, None
        if params.cursor:
            index, store_cursor = _parse_list_cursor(params.cursor, len(kinds))
        resources: list[mt.Resource] = []
        namespace = self.config.namespace
        store = self.memory.store
        while index < len(kinds) and len(resources) < RESOURCE_PAGE:
            try:
                page = await store.scan(
                    kinds[index],
                    namespace,
                    limit=RESOURCE_PAGE - len(resources),
                    cursor=store_cursor,
                )
            except AgentMemError as exc:
                raise MCPError(mt.INTERNAL_ERROR, f"listing {kinds[index]}: {exc}") from None
            for record in page.records:
                resources.append(
                    mt.Resource(
                        uri=record_uri(record.ref),
                        name=f"{record.ref.kind}/{record.ref.id}",
                        description=_first_line(record.text),
                        mime_type="application/json",
                    )
                )
            if page.cursor is None:
                index, store_cursor = index + 1, None
            else:
                store_cursor = page.cursor
        next_cursor = None
        if index < len(kinds):
            next_cursor = f"{index}:{store_cursor or ''}"
        return mt.ListResourcesResult(resources=resources, next_cursor=next_cursor)

    async def _sub(self, ctx: Any, params: mt.SubscribeRequestParams) -> mt.EmptyResult:
        uri = _checked_uri(params.uri)
        if self._notifier is None:
            raise MCPError(mt.INTERNAL_ERROR, "the memory server is not running")
        self._notifier.subscribe(uri, _connection_of(ctx.session))
        return mt.EmptyResult()

    async def _unsub(self, ctx: Any, params: mt.UnsubscribeRequestParams) -> mt.EmptyResult:
        uri = _checked_uri(params.uri)
        if self._notifier is not None:
            self._notifier.unsubscribe(uri, _connection_of(ctx.session))
        return mt.EmptyResult()


def _checked_uri(uri: str) -> str:
    try:
        canonical = canonical_uri(uri)
    except InvalidInput as exc:
        raise MCPError(mt.INVALID_PARAMS, str(exc)) from None
    if (reason := hidden_reason(parse_record_uri(canonical).kind)) is not None:
        raise MCPError(mt.INVALID_PARAMS, reason)
    return canonical


def _parse_list_cursor(cursor: str, kinds: int) -> tuple[int, str | None]:
    head, sep, rest = cursor.partition(":")
    if not sep or not head.isdigit() or len(cursor) > MAX_LIST_CURSOR or int(head) >= kinds:
        raise MCPError(mt.INVALID_PARAMS, "invalid cursor: pass back a nextCursor unchanged")
    return int(head), rest or None


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().partition("\n")[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _sdk_level(level: str) -> Any:
    upper = level.upper()
    return upper if upper in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def server_pid() -> int:
    """This process's id (reported by get_stats, so a client can tell servers apart)."""
    return os.getpid()
