"""The tools, their argument schemas, annotations and error handling.

Every argument is validated twice: by the SDK against the JSON schema built from the
typed signatures below (types, lengths, ranges), then by agentmem itself (refs, tags,
bodies). Whatever fails becomes a tool error (``isError: true``) whose text says what was
wrong; nothing a model sends can crash the server:

- ``AgentMemError`` (``InvalidInput``, ``ConflictError``, ``BackendUnavailable``, ...):
  its message, on one line;
- a call that outlives ``--tool-timeout``: "timed out";
- anything else: logged with its traceback on the ``agentmem.mcp`` logger (stderr), and
  reported as an internal error without the exception's text.

No ``from __future__ import annotations`` here: the size limits in the signatures come
from the server's configuration, so the annotations are built when the tools are.
"""

import asyncio
import functools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, StringConstraints

from agentmem import (
    AgentMemError,
    AgentMemory,
    BackendUnavailable,
    ConflictError,
    Record,
    Ref,
)
from agentmem.memory import DEFAULT_WORKING_CAPACITY
from agentmem_mcp.kinds import AGENT_KINDS, GENERIC_KIND, hidden_reason
from agentmem_mcp.models import (
    ContextResult,
    DeleteResult,
    EpisodeResult,
    EpisodeSearchResult,
    GetMemoryResult,
    KnowledgeResult,
    MemoryItem,
    MemoryPage,
    MemorySearchResult,
    SearchAllResult,
    SessionResult,
    SkillResult,
    StatsResult,
    StepResult,
    json_safe,
)
from agentmem_mcp.uris import record_uri

if TYPE_CHECKING:
    from agentmem_mcp.server import MemoryServer

__all__ = ["register_tools"]

log = logging.getLogger("agentmem.mcp")

P = ParamSpec("P")
R = TypeVar("R")

MAX_TAGS = 32
MAX_METADATA_KEYS = 32
MAX_NAME = 200
MAX_LIST_ITEMS = 100
MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600
CREATE_ATTEMPTS = 8

Kind = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$"),
    Field(
        description="a lower-case word grouping memories (e.g. memory, preference, fact, "
        "episodic, semantic, skill); default 'memory'"
    ),
]
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Namespace = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=256)] | None,
    Field(description="memory shared by a team of agents; default: this server's namespace"),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Tags = Annotated[list[Tag] | None, Field(max_length=MAX_TAGS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Query = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    Field(description="plain keywords; no query syntax (quotes, *, - are plain words)"),
]
ShortText = Annotated[str, StringConstraints(max_length=4000)]
MetadataValue = str | int | float | bool | None
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def guarded(
    name: str, timeout: float
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn every failure of a tool into a :class:`ToolError` with a clear message."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    return await fn(*args, **kwargs)
            except ToolError:
                raise
            except TimeoutError:
                # Ours, or one a client library let through: either way the backend is slow.
                after = f" after {timeout:g} s" if deadline.expired() else ""
                raise ToolError(
                    f"{name} timed out{after}: the memory backend is slow or unreachable; try again"
                ) from None
            except BackendUnavailable as exc:
                raise ToolError(
                    f"memory backend unavailable, try again: {_one_line(exc)}"
                ) from None
            except AgentMemError as exc:
                raise ToolError(_one_line(exc)) from None
            except Exception:
                log.exception("tool %s failed unexpectedly", name)
                raise ToolError(
                    f"{name} failed with an internal error (details are in the server log)"
                ) from None

        return call

    return decorate


def _readable_kind(kind: str) -> str:
    if (reason := hidden_reason(kind)) is not None:
        raise ToolError(reason)
    return kind


def _writable_kind(kind: str) -> str:
    _readable_kind(kind)
    if kind in AGENT_KINDS:
        raise ToolError(
            f"kind {kind!r} is written by the agent tools (add_step, save_episode, save_knowledge, "
            "save_skill); use another kind for free-form memories, e.g. 'memory'"
        )
    return kind


async def _create(memory: AgentMemory, record: Record, write_id: str) -> Record:
    """Store ``record``, which must not exist yet; its body carries ``write_id``.

    A conflict is checked against what is there: this very write (a store retried it
    after an ambiguous failure, e.g. a timeout during a Redis failover) is a success;
    another record is the caller's error; nothing at all means the conflict came from a
    race that is over (a delete in between, or the store's own bookkeeping under many
    concurrent first writes), so the write is tried again.
    """
    ref, store = record.ref, memory.store
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return await store.put(record, expected_version=0)
        except ConflictError as exc:
            current = await store.get(ref)
            if current is not None and current.body.get("write_id") == write_id:
                log.info("add_memory %s: the store had already applied this write", ref.id)
                return current
            if current is not None:
                raise ToolError(
                    f"a memory with id {ref.id!r} already exists ({record_uri(ref)}); choose "
                    "another id, or delete_memory it first"
                ) from None
            log.info("add_memory %s: transient conflict (%s); retrying", ref.id, _one_line(exc))
            last = exc
        await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise ToolError(f"could not store the memory, try again: {_one_line(last)}")


def register_tools(server: "MemoryServer") -> None:
    """Register every tool on ``server.mcp``."""
    config = server.config
    mcp = server.mcp
    Content = Annotated[str, StringConstraints(min_length=1, max_length=config.max_content_chars)]
    Text = Annotated[str, StringConstraints(max_length=config.max_content_chars)]

    def tool(
        title: str,
        *,
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        def register(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            name = fn.__name__
            wrapped = guarded(name, config.tool_timeout)(fn)
            mcp.add_tool(
                wrapped,
                name=name,
                title=title,
                annotations=ToolAnnotations(
                    title=title,
                    read_only_hint=read_only,
                    destructive_hint=False if read_only else destructive,
                    idempotent_hint=idempotent,
                    # Only this memory is touched: no web, no other systems.
                    open_world_hint=False,
                ),
                structured_output=True,
            )
            return wrapped

        return register

    def namespace_of(namespace: str | None) -> str:
        return namespace if namespace is not None else server.memory.namespace

    # -- generic memories ------------------------------------------------------------

    @tool("Remember something")
    async def add_memory(
        content: Annotated[Content, Field(description="what to remember, in plain words")],
        tags: Annotated[Tags, Field(description="labels to filter by later")] = None,
        kind: Kind = GENERIC_KIND,
        namespace: Namespace = None,
        id: Annotated[
            RecordId | None,
            Field(description="your own id for it (must be new); default: a generated one"),
        ] = None,
        metadata: Annotated[
            dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], MetadataValue]
            | None,
            Field(max_length=MAX_METADATA_KEYS, description="small key/value facts about it"),
        ] = None,
        expires_in_seconds: Annotated[
            float | None,
            Field(gt=0, le=MAX_EXPIRY_SECONDS, description="forget it after this long"),
        ] = None,
    ) -> MemoryItem:
        """Save a piece of information to long-term memory: a fact, a user preference, a
        decision, a note. It is shared with every agent using this memory and found later
        with search_memory. For a finished task use save_episode, for a reusable procedure
        save_skill, for a general lesson save_knowledge."""
        memory = server.memory
        ref = Ref(_writable_kind(kind), namespace_of(namespace), id or uuid.uuid4().hex)
        expires_at = None
        if expires_in_seconds is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_seconds)
        write_id = uuid.uuid4().hex
        record = Record(
            ref=ref,
            body={
                "metadata": dict(metadata or {}),
                "agent_id": memory.agent_id,
                "write_id": write_id,
            },
            text=content,
            tags=frozenset(tags or ()),
            expires_at=expires_at,
        )
        stored = await _create(memory, record, write_id)
        return MemoryItem.from_record(stored)

    @tool("Search memories", read_only=True, idempotent=True)
    async def search_memory(
        query: Query,
        kind: Kind = GENERIC_KIND,
        namespace: Namespace = None,
        tags: Annotated[Tags, Field(description="only memories carrying all of these")] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> MemorySearchResult:
        """Find memories by keywords, best match first. A memory matches when its content
        or tags share at least one word with the query. Search before answering questions
        about past work, the user's preferences or facts you may have saved."""
        ns = namespace_of(namespace)
        hits = await server.memory.store.search(
            _readable_kind(kind), ns, query, limit=limit, tags=tags or None
        )
        return MemorySearchResult(
            query=query, kind=kind, namespace=ns, hits=[MemoryItem.from_hit(h) for h in hits]
        )

    @tool("List memories", read_only=True, idempotent=True)
    async def list_memories(
        kind: Kind = GENERIC_KIND,
        namespace: Namespace = None,
        tags: Annotated[Tags, Field(description="only memories carrying all of these")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[
            Annotated[str, StringConstraints(max_length=1024)] | None,
            Field(description="next_cursor of the previous page"),
        ] = None,
    ) -> MemoryPage:
        """List the memories of one kind page by page, in id order (use search_memory to
        find memories by what they say)."""
        ns = namespace_of(namespace)
        page = await server.memory.store.scan(
            _readable_kind(kind), ns, tags=tags or None, limit=limit, cursor=cursor
        )
        return MemoryPage(
            kind=kind,
            namespace=ns,
            items=[MemoryItem.from_record(r) for r in page.records],
            next_cursor=page.cursor,
        )

    @tool("Read a memory", read_only=True, idempotent=True)
    async def get_memory(
        id: Annotated[RecordId, Field(description="the memory's id")],
        kind: Kind = GENERIC_KIND,
        namespace: Namespace = None,
    ) -> GetMemoryResult:
        """Read one memory by its id (as returned by add_memory, search_memory or
        list_memories)."""
        ref = Ref(_readable_kind(kind), namespace_of(namespace), id)
        record = await server.memory.store.get(ref)
        return GetMemoryResult(
            found=record is not None,
            uri=record_uri(ref),
            memory=MemoryItem.from_record(record) if record is not None else None,
        )

    @tool("Forget a memory", destructive=True, idempotent=True)
    async def delete_memory(
        id: Annotated[RecordId, Field(description="the memory's id")],
        kind: Kind = GENERIC_KIND,
        namespace: Namespace = None,
    ) -> DeleteResult:
        """Permanently delete one memory by its id, for every agent sharing this memory.
        Deleting one that is already gone is not an error (deleted is false)."""
        ref = Ref(_readable_kind(kind), namespace_of(namespace), id)
        deleted = await server.memory.store.delete(ref)
        return DeleteResult(deleted=deleted, uri=record_uri(ref))

    # -- the agent's own memory ------------------------------------------------------

    def uri_of(kind: str, record_id: str) -> str:
        return record_uri(Ref(kind, server.memory.namespace, record_id))

    @tool("Record a task step")
    async def add_step(
        action: Annotated[Content, Field(description="what you did")],
        observation: Annotated[Text, Field(description="what happened / what you saw")],
        reasoning: Annotated[Text, Field(description="why you did it")] = "",
        tool_names: Annotated[
            list[Name] | None,
            Field(max_length=MAX_LIST_ITEMS, description="names of the tools the step used"),
        ] = None,
        success: bool = True,
        error: Annotated[ShortText | None, Field(description="the error, if it failed")] = None,
        duration_ms: Annotated[float, Field(ge=0, le=1e10)] = 0.0,
    ) -> StepResult:
        """Record one step of the task you are working on now in working memory (private
        to this agent and session; the most recent steps are kept). The steps become part
        of the episode when you call save_episode."""
        memory = server.memory
        step = await memory.add_step(
            action,
            observation,
            reasoning,
            tool_calls=[{"name": n} for n in tool_names or ()],
            success=success,
            error=error,
            duration_ms=duration_ms,
        )
        steps = await memory.get_recent_steps(DEFAULT_WORKING_CAPACITY)
        return StepResult.from_step(step, len(steps), DEFAULT_WORKING_CAPACITY)

    @tool("Save a finished task")
    async def save_episode(
        task_prompt: Annotated[Content, Field(description="the task, as it was asked")],
        outcome: Annotated[Text, Field(description="what came of it")],
        success: bool,
        duration_seconds: Annotated[float, Field(ge=0, le=1e9)] = 0.0,
        tags: Tags = None,
        importance: Annotated[Unit, Field(description="0..1, how much it matters")] = 0.5,
        task_id: Name | None = None,
    ) -> EpisodeResult:
        """Store the finished task as an episode (prompt, outcome, success, duration and the
        steps recorded with add_step), then clear working memory. Episodes are shared with
        other agents and found by search_episodes, search_all and get_enriched_context."""
        episode = await server.memory.save_episode(
            task_prompt,
            outcome,
            success,
            duration_seconds,
            task_id=task_id,
            tags=tags,
            importance=importance,
        )
        return EpisodeResult.from_episode(episode, uri_of("episodic", episode.memory_id))

    @tool("Search past tasks", read_only=True, idempotent=True)
    async def search_episodes(
        query: Query,
        limit: Annotated[int, Field(ge=1, le=20)] = 5,
        success_only: Annotated[bool, Field(description="only tasks that succeeded")] = False,
        tags: Annotated[Tags, Field(description="only episodes carrying all of these")] = None,
        this_session_only: Annotated[
            bool, Field(description="only this session's episodes (default: every agent's)")
        ] = False,
    ) -> EpisodeSearchResult:
        """Find past tasks (episodes) similar to a query, best first, to reuse what worked
        and avoid what failed."""
        episodes = await server.memory.search_episodes(
            query,
            limit=limit,
            success_only=success_only,
            include_linked_sessions=not this_session_only,
            tags=tags,
        )
        return EpisodeSearchResult(
            query=query,
            episodes=[
                EpisodeResult.from_episode(e, uri_of("episodic", e.memory_id)) for e in episodes
            ],
        )

    @tool("Save a skill", destructive=True, idempotent=True)
    async def save_skill(
        skill_name: Annotated[
            Name, Field(description="a short unique name, e.g. deploy_to_staging")
        ],
        description: Annotated[Text, Field(description="what it does and when to use it")],
        action_sequence: Annotated[
            list[Annotated[str, StringConstraints(max_length=4000)] | dict[str, Any]],
            Field(max_length=MAX_LIST_ITEMS, description="the ordered actions"),
        ],
        preconditions: Annotated[list[ShortText] | None, Field(max_length=MAX_LIST_ITEMS)] = None,
        postconditions: Annotated[list[ShortText] | None, Field(max_length=MAX_LIST_ITEMS)] = None,
        tags: Tags = None,
    ) -> SkillResult:
        """Save a reusable procedure under a name: what it does and its ordered actions.
        Saving an existing name replaces its description and actions and keeps its
        execution statistics."""
        skill = await server.memory.save_skill(
            skill_name,
            description,
            [json_safe(a) for a in action_sequence],
            preconditions=preconditions,
            postconditions=postconditions,
            tags=tags,
        )
        return SkillResult.from_skill(skill, uri_of("skill", skill.skill_name))

    @tool("Report a skill run")
    async def record_skill_execution(
        skill_name: Annotated[Name, Field(description="a skill saved with save_skill")],
        success: bool,
        duration_seconds: Annotated[float, Field(ge=0, le=1e9)] = 0.0,
    ) -> SkillResult:
        """Record that you ran a saved skill, whether it worked and how long it took; its
        success rate and mean duration are updated (exactly, even when many agents report
        at once)."""
        skill = await server.memory.record_skill_execution(skill_name, success, duration_seconds)
        return SkillResult.from_skill(skill, uri_of("skill", skill.skill_name))

    @tool("Save a lesson", destructive=True, idempotent=True)
    async def save_knowledge(
        pattern: Annotated[Name, Field(description="the situation, in a few words")],
        content: Annotated[Content, Field(description="what is known about it")],
        confidence: Annotated[Unit, Field(description="0..1")] = 0.8,
        sources: Annotated[
            list[Name] | None,
            Field(max_length=MAX_LIST_ITEMS, description="ids of episodes it comes from"),
        ] = None,
        tags: Tags = None,
    ) -> KnowledgeResult:
        """Save a general lesson: a pattern and what is known about it. Saving the same
        pattern again updates its content and confidence and merges its sources."""
        knowledge = await server.memory.save_knowledge(
            pattern, content, confidence=confidence, sources=sources, tags=tags
        )
        return KnowledgeResult.from_knowledge(knowledge, uri_of("semantic", knowledge.memory_id))

    @tool("Get context for a task", read_only=True, idempotent=True)
    async def get_enriched_context(
        query: Query,
        detailed_steps: Annotated[int, Field(ge=0, le=100)] = 10,
        limit_per_type: Annotated[int, Field(ge=1, le=10)] = 2,
    ) -> ContextResult:
        """Get, as ready-to-read text, your current working memory plus the past
        experiences, knowledge and skills most relevant to a query. Call it when starting a
        task."""
        text = await server.memory.get_enriched_context(query, detailed_steps, limit_per_type)
        return ContextResult(query=query, context=text)

    @tool("Search everything", read_only=True, idempotent=True)
    async def search_all(
        query: Query,
        limit_per_type: Annotated[int, Field(ge=1, le=10)] = 3,
    ) -> SearchAllResult:
        """Search past tasks, lessons and skills at once; results per type, best first."""
        found = await server.memory.search_all(query, limit_per_type)
        return SearchAllResult(
            query=query,
            episodes=[
                EpisodeResult.from_episode(e, uri_of("episodic", e.memory_id))
                for e in found["episodic"]
            ],
            knowledge=[
                KnowledgeResult.from_knowledge(k, uri_of("semantic", k.memory_id))
                for k in found["semantic"]
            ],
            skills=[
                SkillResult.from_skill(s, uri_of("skill", s.skill_name)) for s in found["skills"]
            ],
        )

    @tool("Start a new session")
    async def rotate_session(
        new_session_id: Annotated[
            Name | None,
            Field(description="default: a generated id"),
        ] = None,
    ) -> SessionResult:
        """Start a new session for a new, unrelated task, linked to the current one.
        Working memory starts empty: call save_episode first to keep the current steps."""
        memory = server.memory
        previous = memory.session_id
        session_id = await memory.rotate_session(new_session_id)
        return SessionResult(session_id=session_id, previous_session_id=previous)

    @tool("Memory statistics", read_only=True, idempotent=True)
    async def get_stats() -> StatsResult:
        """How many past tasks, lessons and skills the memory holds, the working memory and
        session, and the backend's state (e.g. whether Redis answers or the SQLite fallback
        does)."""
        from agentmem_mcp.server import server_pid

        memory = server.memory
        stats = await memory.get_stats()
        working = stats["working_memory"]
        backend = stats["backend"]
        return StatsResult(
            agent_id=memory.agent_id,
            namespace=memory.namespace,
            session_id=memory.session_id,
            working_memory_steps=int(working["current_steps"]),
            working_memory_capacity=int(working["capacity"]),
            stored_working_steps=int(working["stored_steps_all_sessions"]),
            episodes=int(stats["episodic_memory"]["total_episodes"]),
            knowledge=int(stats["semantic_memory"]["total_patterns"]),
            skills=int(stats["skill_memory"]["total_skills"]),
            backend_url=str(backend["url"]),
            backend_state=str(backend["state"]),
            redis_available=bool(backend["redis_available"]),
            server_pid=server_pid(),
        )
