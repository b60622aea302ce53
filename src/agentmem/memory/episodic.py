"""Episodic memory: finished tasks, shared by every agent of the namespace.

An episode is made from the current working memory by :meth:`EpisodicMemory.save`: its
steps, the tools named in their tool calls (first use order), the steps' error messages,
a one-line compressed summary and token counts (:mod:`agentmem.text` tokens). It is
indexed for search by its task prompt, outcome, tools, errors and tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from agentmem import text as textmod
from agentmem.memory.access import touch
from agentmem.memory.config import EPISODIC
from agentmem.memory.context import compress_step, shorten
from agentmem.memory.models import Episode, WorkingStep, stored_body
from agentmem.memory.ranking import Retriever
from agentmem.memory.space import MemorySpace
from agentmem.memory.working import session_tag
from agentmem.store import Record

__all__ = ["SUCCESS_TAG", "EpisodicMemory", "summarize"]

SUCCESS_TAG = "_ok_"
"""Internal tag on successful episodes, so ``success_only`` filters inside the store."""


def summarize(steps: Sequence[WorkingStep], outcome: str, success: bool, tools: list[str]) -> str:
    """The compressed one-line form of an episode."""
    status = "Succeeded" if success else "Failed"
    plural = "" if len(steps) == 1 else "s"
    using = f" using {', '.join(tools)}" if tools else ""
    return f"{status} after {len(steps)} step{plural}{using}: {shorten(outcome, 160)}"


def _tools_used(steps: Sequence[WorkingStep]) -> list[str]:
    return list(dict.fromkeys(name for step in steps for name in step.tool_names))


class EpisodicMemory:
    """Save, fetch and search episodes."""

    def __init__(self, space: MemorySpace, retriever: Retriever) -> None:
        self._space = space
        self._retriever = retriever

    async def save(
        self,
        steps: Sequence[WorkingStep],
        *,
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float,
        session_id: str,
        task_id: str | None = None,
        tags: Sequence[str] | None = None,
        importance: float = 0.5,
    ) -> Episode:
        """Store an episode built from ``steps``."""
        space = self._space
        now = space.clock()
        tools = _tools_used(steps)
        lines = [f"Task: {task_prompt}", *(compress_step(s) for s in steps), f"Outcome: {outcome}"]
        content = "\n".join(lines)
        compressed = summarize(steps, outcome, success, tools)
        errors = [s.error for s in steps if s.error]
        episode = Episode(
            memory_id=uuid.uuid4().hex,
            content=content,
            compressed_content=compressed,
            created_at=now,
            last_accessed=now,
            importance=float(importance),
            task_id=task_id,
            session_id=session_id,
            tags=list(dict.fromkeys(tags or ())),
            original_tokens=len(textmod.tokenize(content)),
            compressed_tokens=len(textmod.tokenize(compressed)),
            agent_id=space.agent_id,
            task_prompt=task_prompt,
            steps=[stored_body(s) for s in steps],
            outcome=outcome,
            success=bool(success),
            duration_seconds=float(duration_seconds),
            tools_used=tools,
            error_messages=errors,
        )
        internal = {session_tag(session_id)} | ({SUCCESS_TAG} if success else set())
        await space.store.put(
            Record(
                ref=space.ref(EPISODIC, episode.memory_id),
                body=stored_body(episode),
                text="\n".join([task_prompt, outcome, " ".join(tools), *errors]),
                tags=frozenset(episode.tags) | internal,
                expires_at=space.expires_at(EPISODIC, now),
            ),
            expected_version=0,
        )
        return episode

    async def get(self, memory_id: str) -> Episode | None:
        """The episode with this id (counts as an access), or None."""
        record = await touch(self._space, self._space.ref(EPISODIC, memory_id))
        return None if record is None else Episode.from_dict(record.body)

    async def search(
        self,
        query: str,
        *,
        limit: int = 5,
        success_only: bool = False,
        session_id: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> list[Episode]:
        """Ranked episodes for ``query``; ``session_id`` restricts to one session."""
        wanted = set(tags or ())
        if success_only:
            wanted.add(SUCCESS_TAG)
        if session_id is not None:
            wanted.add(session_tag(session_id))
        ranked = await self._retriever.search(
            EPISODIC, self._space.namespace_of(EPISODIC), query, limit=limit, tags=wanted
        )
        results = []
        for record, score in ranked:
            episode = Episode.from_record(record, self._space.store)
            if episode is None:
                continue
            episode.score = score
            results.append(episode)
        return results
