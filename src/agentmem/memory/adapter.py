"""AgentMemory: the agent-facing API over any :class:`~agentmem.store.MemoryStore`.

It keeps the method names and records of the earlier synchronous adapter; every I/O
method is a coroutine. See docs/agent-memory.md for the guide and the migration note.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from agentmem.corruption import corrupt_count
from agentmem.errors import InvalidInput, StoreClosed
from agentmem.hookspecs import Embedder
from agentmem.memory import consolidation
from agentmem.memory.config import (
    DEFAULT_NAMESPACE,
    DEFAULT_WORKING_CAPACITY,
    EPISODIC,
    SEMANTIC,
    SKILL,
    WORKING,
    TTLSpec,
    resolve_ttls,
    working_namespace,
)
from agentmem.memory.context import format_enriched_context, format_working_context
from agentmem.memory.embedded import with_embeddings
from agentmem.memory.embedding import resolve_embedder
from agentmem.memory.episodic import EpisodicMemory
from agentmem.memory.events import EventCallback, EventHub, EventIterator
from agentmem.memory.models import Episode, SemanticMemory, SessionInfo, Skill, WorkingStep
from agentmem.memory.ranking import RankingWeights, Retriever
from agentmem.memory.semantic import SemanticStore
from agentmem.memory.sessions import SessionLog, check_session_id
from agentmem.memory.sessions import new_session_id as make_session_id
from agentmem.memory.skills import SkillStore
from agentmem.memory.space import MemorySpace
from agentmem.memory.status import BackendStatus
from agentmem.memory.working import WorkingMemory
from agentmem.store import Clock, MemoryStore, Ref, utcnow

__all__ = ["AgentMemory", "check_adapter_arguments"]

log = logging.getLogger("agentmem.memory")

MAX_AGENT_ID_LENGTH = 100


def check_adapter_arguments(
    *,
    agent_id: str,
    namespace: str,
    working_capacity: int,
    ttls: TTLSpec | None,
    session_id: str | None = None,
) -> dict[str, timedelta | None]:
    """Validate what :class:`AgentMemory` is given; returns the resolved TTLs.

    The factory calls it before opening a store, so refused arguments never leave an
    opened store behind. Raises :class:`~agentmem.errors.InvalidInput`.
    """
    if not isinstance(agent_id, str) or not agent_id or len(agent_id) > MAX_AGENT_ID_LENGTH:
        raise InvalidInput(
            f"agent_id must be a non-empty str of at most {MAX_AGENT_ID_LENGTH} characters"
        )
    if not isinstance(namespace, str) or not namespace or "/" in namespace:
        raise InvalidInput(f"namespace must be a non-empty str without '/', got {namespace!r}")
    # Validates the longest namespace this adapter will use (length, characters).
    Ref(WORKING, working_namespace(namespace, agent_id), "_")
    if (
        not isinstance(working_capacity, int)
        or isinstance(working_capacity, bool)
        or working_capacity < 1
    ):
        raise InvalidInput(f"working capacity must be an int >= 1, got {working_capacity!r}")
    if session_id is not None:
        check_session_id(session_id)
    return resolve_ttls(ttls)


class AgentMemory:
    """Working, episodic, semantic and skill memory for one agent, shared through a store.

    Usually made by :func:`~agentmem.memory.create_memory_adapter`; constructing one over
    an opened store works too::

        async with AgentMemory(await open_store("memory://"), agent_id="a1") as memory:
            await memory.add_step("look around", "found the bug")

    Parameters:
        store: any opened store; closed with the adapter when ``owns_store``.
        agent_id: who this agent is. Working memory is private to it, and notifications
            skip changes written under it.
        session_id: the session to continue (its working memory is loaded); a new one
            is started when None.
        namespace: the shared namespace of the application (default ``"shared"``).
        working_capacity: how many steps working memory keeps (default 50).
        ttls: per-kind TTL overrides (see :mod:`agentmem.memory.config`).
        enable_pubsub: follow other agents' writes (see :mod:`agentmem.memory.events`).
        embedder: an embedder name or async callable; None picks a plugin-provided one
            if exactly one is registered; False disables (see
            :mod:`agentmem.memory.embedding`).
        ranking: weights of the ranking formula (:mod:`agentmem.memory.ranking`).
    """

    def __init__(
        self,
        store: MemoryStore,
        *,
        agent_id: str = "default",
        session_id: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        working_capacity: int = DEFAULT_WORKING_CAPACITY,
        ttls: TTLSpec | None = None,
        enable_pubsub: bool = True,
        embedder: str | Embedder | bool | None = None,
        ranking: RankingWeights | None = None,
        owns_store: bool = True,
        clock: Clock | None = None,
    ) -> None:
        resolved_ttls = check_adapter_arguments(
            agent_id=agent_id,
            namespace=namespace,
            working_capacity=working_capacity,
            ttls=ttls,
            session_id=session_id,
        )
        self._store = store
        self._owns_store = owns_store
        chosen_embedder = resolve_embedder(embedder)
        self._space = MemorySpace(
            with_embeddings(store, chosen_embedder),
            agent_id,
            namespace,
            resolved_ttls,
            clock or utcnow,
        )
        self._retriever = Retriever(
            store, self._space.clock, weights=ranking, embedder=chosen_embedder
        )
        first_session = check_session_id(session_id) if session_id else make_session_id(self._space)
        self.working = WorkingMemory(
            self._space, capacity=working_capacity, session_id=first_session
        )
        self._episodes = EpisodicMemory(self._space, self._retriever)
        self._semantic = SemanticStore(self._space, self._retriever)
        self._skills = SkillStore(self._space, self._retriever)
        self._sessions = SessionLog(self._space)
        self._hub = EventHub(store, namespace, agent_id) if enable_pubsub else None
        self.redis_manager = BackendStatus(store)
        """``redis_manager.available``: whether Redis carries the memory right now."""
        self._init_lock = asyncio.Lock()
        self._initialized = False
        self._closed = False
        self._last_consolidation: str | None = None

    # -- identity and lifecycle -----------------------------------------------------

    @property
    def agent_id(self) -> str:
        return self._space.agent_id

    @property
    def session_id(self) -> str:
        return self.working.session_id

    @property
    def namespace(self) -> str:
        return self._space.namespace

    @property
    def store(self) -> MemoryStore:
        return self._store

    @property
    def backend_status(self) -> BackendStatus:
        """Same object as :attr:`redis_manager` (the earlier adapter's name for it)."""
        return self.redis_manager

    @property
    def ttls(self) -> dict[str, timedelta | None]:
        return dict(self._space.ttls)

    async def initialize(self) -> None:
        """Register the session, load its working memory, start notifications.

        Called by the factory and by the first method that needs it; calling it again
        does nothing.
        """
        async with self._init_lock:
            if self._closed:
                raise StoreClosed("this AgentMemory is closed: create a new one")
            if self._initialized:
                return
            await self._sessions.ensure(self.session_id)
            await self.working.load(self.session_id)
            if self._hub is not None:
                await self._hub.start()
            self._initialized = True

    async def _ready(self) -> None:
        if self._closed:
            raise StoreClosed("this AgentMemory is closed: create a new one")
        if not self._initialized:
            await self.initialize()

    async def close(self) -> None:
        """Stop notifications and close the store (if owned); calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._hub is not None:
            await self._hub.close()
        if self._owns_store:
            await self._store.close()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- working memory -------------------------------------------------------------

    async def add_step(
        self,
        action: str,
        observation: str,
        reasoning: str = "",
        tool_calls: Sequence[dict[str, Any]] | None = None,
        success: bool = True,
        error: str | None = None,
        *,
        duration_ms: float = 0.0,
    ) -> WorkingStep:
        """Append a step to working memory (stored; the oldest beyond capacity are dropped)."""
        await self._ready()
        return await self.working.add_step(
            action, observation, reasoning, tool_calls, success, error, duration_ms=duration_ms
        )

    async def get_recent_steps(self, n: int = 5) -> list[WorkingStep]:
        """The last ``n`` steps, oldest first."""
        await self._ready()
        return self.working.recent(n)

    async def get_context(self, detailed_steps: int = 10) -> str:
        """Working memory as text: recent steps in full, older ones one line each."""
        await self._ready()
        return format_working_context(self.working.steps, detailed_steps)

    async def clear_working_memory(self) -> None:
        """Forget this session's steps."""
        await self._ready()
        await self.working.clear()

    # -- episodic -------------------------------------------------------------------

    async def save_episode(
        self,
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float,
        task_id: str | None = None,
        tags: Sequence[str] | None = None,
        importance: float = 0.5,
    ) -> Episode:
        """Turn working memory into a stored episode, then clear working memory.

        Three store calls, whatever the number of steps: the episode's put and the listing
        of the session's stored steps go out together, then one ``delete_many`` of the
        steps once the episode is stored.
        """
        await self._ready()
        episode, stored = await asyncio.gather(
            self._episodes.save(
                self.working.steps,
                task_prompt=task_prompt,
                outcome=outcome,
                success=success,
                duration_seconds=duration_seconds,
                session_id=self.session_id,
                task_id=task_id or self.working.current_task_id,
                tags=tags,
                importance=importance,
            ),
            self.working.stored_refs(),
        )
        await self.working.clear(stored)
        return episode

    async def search_episodes(
        self,
        query: str,
        limit: int = 5,
        success_only: bool = False,
        include_linked_sessions: bool = True,
        tags: Sequence[str] | None = None,
    ) -> list[Episode]:
        """Episodes ranked for ``query`` (:mod:`agentmem.memory.ranking`).

        ``include_linked_sessions=True`` searches every episode of the shared namespace
        (earlier sessions and other agents included); False only this session's.
        ``tags`` keeps episodes carrying all of them.
        """
        await self._ready()
        return await self._episodes.search(
            query,
            limit=limit,
            success_only=success_only,
            session_id=None if include_linked_sessions else self.session_id,
            tags=tags,
        )

    async def get_episode(self, memory_id: str) -> Episode | None:
        """The episode with this id, or None."""
        await self._ready()
        return await self._episodes.get(memory_id)

    # -- semantic -------------------------------------------------------------------

    async def add_semantic(
        self,
        pattern: str,
        content: str,
        confidence: float = 0.5,
        source_episodes: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        context: str = "",
        examples: Sequence[str] | None = None,
        importance: float | None = None,
    ) -> SemanticMemory:
        """Store knowledge about ``pattern``; saving a known pattern updates it, keeping
        its counters (:mod:`agentmem.memory.semantic`)."""
        await self._ready()
        return await self._semantic.save(
            pattern,
            content,
            confidence=confidence,
            sources=source_episodes or (),
            tags=tags or (),
            context=context,
            examples=examples or (),
            importance=importance,
            session_id=self.session_id,
        )

    async def save_knowledge(
        self,
        pattern: str,
        content: str,
        confidence: float = 0.8,
        sources: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
    ) -> SemanticMemory:
        """Same as :meth:`add_semantic` with the earlier adapter's argument names."""
        return await self.add_semantic(
            pattern, content, confidence=confidence, source_episodes=sources, tags=tags
        )

    async def search_semantic(self, query: str, limit: int = 5) -> list[SemanticMemory]:
        """Knowledge ranked for ``query``."""
        await self._ready()
        return await self._semantic.search(query, limit=limit)

    async def get_semantic(self, memory_id: str) -> SemanticMemory | None:
        """The knowledge with this id, or None."""
        await self._ready()
        return await self._semantic.get(memory_id)

    async def record_knowledge_feedback(self, memory_id: str, valid: bool) -> SemanticMemory | None:
        """Count a confirmation or contradiction of some knowledge (atomic)."""
        await self._ready()
        return await self._semantic.feedback(memory_id, valid)

    async def consolidate(
        self,
        *,
        window: timedelta = timedelta(days=7),
        min_episodes: int = 3,
        max_episodes: int = 1000,
    ) -> list[SemanticMemory]:
        """Turn recurring successful episodes into knowledge; the rule is documented in
        :mod:`agentmem.memory.consolidation`."""
        await self._ready()
        written = await consolidation.consolidate(
            self._space,
            self._semantic,
            window=window,
            min_episodes=min_episodes,
            max_episodes=max_episodes,
        )
        self._last_consolidation = self._space.clock().isoformat()
        return written

    async def consolidate_now(self) -> list[SemanticMemory]:
        """The earlier adapter's name for :meth:`consolidate`."""
        return await self.consolidate()

    async def extract_patterns(self, min_episodes: int = 3) -> list[SemanticMemory]:
        """The earlier adapter's name for :meth:`consolidate` with a group size."""
        return await self.consolidate(min_episodes=min_episodes)

    # -- skills ---------------------------------------------------------------------

    async def save_skill(
        self,
        skill_name: str,
        description: str,
        action_sequence: Sequence[Any],
        preconditions: Sequence[str] | None = None,
        postconditions: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        *,
        error_handling: dict[str, Any] | None = None,
        decision_logic: dict[str, Any] | None = None,
        importance: float = 0.5,
    ) -> Skill:
        """Create a skill, or update it keeping its statistics."""
        await self._ready()
        return await self._skills.save(
            skill_name,
            description,
            action_sequence,
            preconditions=preconditions,
            postconditions=postconditions,
            tags=tags,
            error_handling=error_handling,
            decision_logic=decision_logic,
            importance=importance,
            session_id=self.session_id,
        )

    async def get_skill(self, skill_name: str) -> Skill | None:
        """The skill with this name, or None."""
        await self._ready()
        return await self._skills.get(skill_name)

    async def search_skills(self, query: str, limit: int = 5) -> list[Skill]:
        """Skills ranked for ``query``."""
        await self._ready()
        return await self._skills.search(query, limit=limit)

    async def record_skill_execution(
        self, skill_name: str, success: bool, duration: float
    ) -> Skill:
        """Count one execution: runs, success rate and mean duration, atomically."""
        await self._ready()
        return await self._skills.record_execution(skill_name, success, duration)

    # -- everything at once ---------------------------------------------------------

    async def search_all(self, query: str, limit_per_type: int = 3) -> dict[str, list[Any]]:
        """``{"episodic": [...], "semantic": [...], "skills": [...]}``, searched in parallel."""
        await self._ready()
        episodes, knowledge, skills = await asyncio.gather(
            self._episodes.search(query, limit=limit_per_type),
            self._semantic.search(query, limit=limit_per_type),
            self._skills.search(query, limit=limit_per_type),
        )
        return {"episodic": episodes, "semantic": knowledge, "skills": skills}

    async def get_enriched_context(
        self, query: str, detailed_steps: int = 10, limit_per_type: int = 2
    ) -> str:
        """Working context plus relevant experiences, knowledge and skills, as text
        (format in :mod:`agentmem.memory.context`)."""
        found = await self.search_all(query, limit_per_type)
        return format_enriched_context(
            format_working_context(self.working.steps, detailed_steps),
            found["episodic"],
            found["semantic"],
            found["skills"],
        )

    # -- sessions -------------------------------------------------------------------

    async def rotate_session(self, new_session_id: str | None = None) -> str:
        """Start a new session linked to the current one; returns its id.

        Working memory belongs to a session: after rotating it holds the new session's
        steps (none for a new session). Save an episode first to keep the old steps.
        """
        await self._ready()
        new_id = (
            check_session_id(new_session_id) if new_session_id else make_session_id(self._space)
        )
        await self._sessions.ensure(new_id, previous=self.session_id)
        await self.working.load(new_id)
        return new_id

    async def get_session_history(self) -> list[str]:
        """The ids of the chain of sessions ending at the current one, oldest first (as
        the earlier adapter returned it). :meth:`get_sessions` gives the full records."""
        return [info.session_id for info in await self.get_sessions()]

    async def get_sessions(self) -> list[SessionInfo]:
        """The chain of sessions ending at the current one, oldest first, as
        :class:`SessionInfo` (id, previous session, agent, start time)."""
        await self._ready()
        return await self._sessions.history(self.session_id)

    # -- notifications --------------------------------------------------------------

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` when another agent writes a shared memory; returns an
        unsubscribe function. Needs ``enable_pubsub=True``."""
        return self._require_hub().subscribe(callback)

    def events(self) -> EventIterator:
        """``async for event in memory.events():`` other agents' writes, until close."""
        return self._require_hub().events()

    def _require_hub(self) -> EventHub:
        if self._hub is None:
            raise InvalidInput("notifications are off: create the adapter with enable_pubsub=True")
        return self._hub

    # -- statistics -----------------------------------------------------------------

    async def get_stats(self) -> dict[str, Any]:
        """Counts per kind, working-memory size and capacity, session and backend."""
        await self._ready()
        space = self._space
        episodes, patterns, skills, steps = await asyncio.gather(
            space.store.count(EPISODIC, space.namespace_of(EPISODIC)),
            space.store.count(SEMANTIC, space.namespace_of(SEMANTIC)),
            space.store.count(SKILL, space.namespace_of(SKILL)),
            space.store.count(WORKING, space.namespace_of(WORKING)),
        )
        return {
            "agent_id": self.agent_id,
            "working_memory": {
                "current_steps": len(self.working),
                "capacity": self.working.capacity,
                "session_id": self.session_id,
                "stored_steps_all_sessions": steps,
                "tokens": self.working.token_count(),
            },
            "episodic_memory": {"total_episodes": episodes},
            "semantic_memory": {"total_patterns": patterns},
            "skill_memory": {"total_skills": skills},
            "backend": {
                "url": self.redis_manager.url,
                "redis_available": self.redis_manager.available,
                "state": self.redis_manager.state,
                "failover": self.redis_manager.failover_stats,
            },
            "last_consolidation": self._last_consolidation,
            "corrupt_records": corrupt_count(self._store),
        }

    async def print_stats(self) -> None:
        """Print :meth:`get_stats` for a human."""
        stats = await self.get_stats()
        wm = stats["working_memory"]
        print("=== Agent Memory Statistics ===")
        print(f"Agent: {stats['agent_id']}  Backend: {stats['backend']['url']}")
        print(f"Working Memory: {wm['current_steps']}/{wm['capacity']} steps")
        print(f"  Session: {wm['session_id']}")
        print(f"Episodes: {stats['episodic_memory']['total_episodes']}")
        print(f"Semantic patterns: {stats['semantic_memory']['total_patterns']}")
        print(f"Skills: {stats['skill_memory']['total_skills']}")
