"""Semantic memory: generalized knowledge (a pattern and what is known about it).

A pattern is stored once: its id is derived from the pattern's tokens, so saving the
same pattern again (from any agent) updates that record instead of adding a duplicate.
Re-saving never resets its counters: ``times_validated``, ``times_invalidated``,
``created_at`` and ``access_count`` are kept, ``source_episodes``, ``examples`` and
``tags`` are merged (union, first-seen order), and content, context, confidence and
importance take the new values. Every update is a compare-and-set on the record's
version, so concurrent savers lose nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from agentmem import text as textmod
from agentmem.errors import InvalidInput
from agentmem.memory.config import SEMANTIC
from agentmem.memory.counters import bump
from agentmem.memory.models import SemanticMemory, stored_body
from agentmem.memory.ranking import Retriever
from agentmem.memory.space import MemorySpace
from agentmem.store import Record

__all__ = ["SemanticStore", "pattern_id"]


def pattern_id(pattern: str) -> str:
    """The record id of a pattern: the same for any spelling with the same tokens."""
    tokens = textmod.tokenize(pattern)
    if not tokens:
        raise InvalidInput(f"a knowledge pattern needs at least one word, got {pattern!r}")
    return "pattern-" + hashlib.sha256(" ".join(tokens).encode()).hexdigest()[:32]


def _union(old: Sequence[str], new: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*old, *new]))


def _confidence(validated: int, invalidated: int) -> float:
    return round(validated / (validated + invalidated + 1), 4)


_FEEDBACK = "feedback_count"
"""Body field counting feedback since the last save; a save (which writes only the model's
fields) drops it, so an explicit confidence given to save wins until the next feedback."""


def _memory(record: Record) -> SemanticMemory:
    memory = SemanticMemory.from_dict(record.body)
    if record.body.get(_FEEDBACK):
        memory.confidence = _confidence(memory.times_validated, memory.times_invalidated)
    return memory


def _searched_memory(record: Record, store: object) -> SemanticMemory | None:
    """For reads of many records: a body that is not a memory is reported and skipped."""
    memory = SemanticMemory.from_record(record, store)
    if memory is not None and record.body.get(_FEEDBACK):
        memory.confidence = _confidence(memory.times_validated, memory.times_invalidated)
    return memory


class SemanticStore:
    """Save, fetch, search and validate knowledge."""

    def __init__(self, space: MemorySpace, retriever: Retriever) -> None:
        self._space = space
        self._retriever = retriever

    async def save(
        self,
        pattern: str,
        content: str,
        *,
        confidence: float | None = None,
        sources: Sequence[str] = (),
        tags: Sequence[str] = (),
        context: str = "",
        examples: Sequence[str] = (),
        importance: float | None = None,
        session_id: str | None = None,
        count_new_sources: bool = False,
    ) -> SemanticMemory:
        """Create or update the knowledge for ``pattern`` (see the module docstring).

        ``count_new_sources`` (used by consolidation) adds one validation per source
        episode not already recorded, and derives confidence from the counters.
        """
        space = self._space
        ref = space.ref(SEMANTIC, pattern_id(pattern))
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise InvalidInput(f"confidence must be between 0 and 1, got {confidence!r}")

        def merge(current: Record | None) -> Record:
            now = space.clock()
            if current is None:
                old = SemanticMemory(
                    memory_id=ref.id, created_at=now, agent_id=space.agent_id, session_id=session_id
                )
            else:
                old = SemanticMemory.from_dict(current.body)
            new_sources = [s for s in sources if s not in old.source_episodes]
            validated = old.times_validated + (len(new_sources) if count_new_sources else 0)
            if count_new_sources or confidence is None:
                conf = _confidence(validated, old.times_invalidated)
            else:
                conf = confidence
            memory = SemanticMemory(
                memory_id=old.memory_id,
                content=content,
                compressed_content=content,
                created_at=old.created_at,
                last_accessed=old.last_accessed,
                access_count=old.access_count,
                importance=conf if importance is None else float(importance),
                task_id=old.task_id,
                session_id=old.session_id,
                tags=_union(old.tags, tags),
                original_tokens=len(textmod.tokenize(content)),
                compressed_tokens=len(textmod.tokenize(content)),
                agent_id=old.agent_id,
                pattern=pattern,
                context=context or old.context,
                examples=_union(old.examples, examples),
                confidence=conf,
                times_validated=validated,
                times_invalidated=old.times_invalidated,
                source_episodes=_union(old.source_episodes, sources),
            )
            return self._record(memory, now)

        written = await space.update(ref, merge)
        assert written is not None
        return _memory(written)

    def _record(self, memory: SemanticMemory, now: datetime) -> Record:
        return Record(
            ref=self._space.ref(SEMANTIC, memory.memory_id),
            body=stored_body(memory),
            text="\n".join([memory.pattern, memory.content, memory.context]),
            tags=frozenset(memory.tags),
            expires_at=self._space.expires_at(SEMANTIC, now),
        )

    async def feedback(self, memory_id: str, valid: bool) -> SemanticMemory | None:
        """Count one confirmation (``valid``) or contradiction of the knowledge.

        The count is an increment (exact across agents and outages); from the first
        feedback on, confidence is derived from the counters when the knowledge is read,
        until a save with an explicit confidence sets it again.
        """
        space = self._space
        counter = "times_validated" if valid else "times_invalidated"
        written = await bump(
            space,
            space.ref(SEMANTIC, memory_id),
            add={counter: 1, _FEEDBACK: 1},
            ttl=space.ttls.get(SEMANTIC),
        )
        return None if written is None else _memory(written)

    async def get(self, memory_id: str) -> SemanticMemory | None:
        """The knowledge with this id, or None."""
        record = await self._space.store.get(self._space.ref(SEMANTIC, memory_id))
        return None if record is None else _memory(record)

    async def search(self, query: str, *, limit: int = 5) -> list[SemanticMemory]:
        """Ranked knowledge for ``query``."""
        ranked = await self._retriever.search(
            SEMANTIC, self._space.namespace_of(SEMANTIC), query, limit=limit
        )
        results = []
        for record, score in ranked:
            memory = _searched_memory(record, self._space.store)
            if memory is None:
                continue
            memory.score = score
            results.append(memory)
        return results
