"""Skill memory: named action sequences with live statistics, shared by all agents.

A skill's record id is its name. Statistics (``times_executed``, ``times_succeeded``,
``total_duration`` and the derived ``success_rate`` and ``average_duration``) live in the
skill's record. The counts change only by increments (see :mod:`agentmem.memory.counters`):
agents recording executions at the same time never lose one, not even across a failover
outage; the rates are derived from the counts whenever a skill is read. Saving a skill
that exists updates its description, sequence, conditions and tags and keeps its
statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agentmem import text as textmod
from agentmem.errors import InvalidInput
from agentmem.memory.access import touch
from agentmem.memory.config import SKILL
from agentmem.memory.counters import bump
from agentmem.memory.models import Skill, stored_body
from agentmem.memory.ranking import Retriever
from agentmem.memory.space import MemorySpace
from agentmem.store import Record

__all__ = ["SkillStore"]


def _check_name(skill_name: str) -> str:
    if not isinstance(skill_name, str) or not skill_name.strip():
        raise InvalidInput(f"skill_name must be a non-empty str, got {skill_name!r}")
    return skill_name


class SkillStore:
    """Save, fetch, search skills and record their executions."""

    def __init__(self, space: MemorySpace, retriever: Retriever) -> None:
        self._space = space
        self._retriever = retriever

    def _record(self, skill: Skill, now: datetime) -> Record:
        readable_name = skill.skill_name.replace("_", " ").replace("-", " ")
        return Record(
            ref=self._space.ref(SKILL, skill.skill_name),
            body=stored_body(skill),
            text="\n".join(
                [
                    skill.skill_name,
                    readable_name,
                    skill.description,
                    " ".join(skill.preconditions),
                    " ".join(skill.postconditions),
                ]
            ),
            tags=frozenset(skill.tags),
            expires_at=self._space.expires_at(SKILL, now),
        )

    async def save(
        self,
        skill_name: str,
        description: str,
        action_sequence: Sequence[Any],
        *,
        preconditions: Sequence[str] | None = None,
        postconditions: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        error_handling: dict[str, Any] | None = None,
        decision_logic: dict[str, Any] | None = None,
        importance: float = 0.5,
        session_id: str | None = None,
    ) -> Skill:
        """Create the skill, or update it keeping its statistics."""
        space = self._space
        name = _check_name(skill_name)
        content = f"{name}: {description}"

        def merge(current: Record | None) -> Record:
            now = space.clock()
            old = None if current is None else Skill.from_dict(current.body)
            skill = Skill(
                memory_id=old.memory_id if old else f"skill:{name}",
                content=content,
                compressed_content=content,
                created_at=old.created_at if old else now,
                last_accessed=old.last_accessed if old else now,
                access_count=old.access_count if old else 0,
                importance=float(importance),
                session_id=old.session_id if old else session_id,
                tags=list(dict.fromkeys(tags or ())),
                original_tokens=len(textmod.tokenize(content)),
                compressed_tokens=len(textmod.tokenize(content)),
                agent_id=old.agent_id if old else space.agent_id,
                skill_name=name,
                description=description,
                action_sequence=list(action_sequence),
                preconditions=list(preconditions or ()),
                postconditions=list(postconditions or ()),
                error_handling=dict(error_handling or (old.error_handling if old else {})),
                decision_logic=dict(decision_logic or (old.decision_logic if old else {})),
            )
            if old is not None:
                skill.times_executed = old.times_executed
                skill.times_succeeded = old.times_succeeded
                skill.total_duration = old.total_duration
                skill.success_rate = old.success_rate
                skill.average_duration = old.average_duration
            return self._record(skill, now)

        written = await space.update(space.ref(SKILL, name), merge)
        assert written is not None
        return Skill.from_dict(written.body)

    async def record_execution(self, skill_name: str, success: bool, duration: float) -> Skill:
        """Count one execution atomically; KeyError-free: an unknown skill raises InvalidInput."""
        space = self._space
        name = _check_name(skill_name)

        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise InvalidInput(f"duration must be a number of seconds, got {duration!r}")
        ttl = space.ttls.get(SKILL)
        written = await bump(
            space,
            space.ref(SKILL, name),
            add={
                "times_executed": 1,
                "times_succeeded": 1 if success else 0,
                "total_duration": float(duration),
            },
            ttl=ttl,
            count_unseen=True,
        )
        if written is None:
            raise InvalidInput(f"no skill named {name!r}; save_skill() it first")
        # During an outage the local copy may hold only the counts: name it at least.
        return Skill.from_dict({"memory_id": f"skill:{name}", "skill_name": name, **written.body})

    async def get(self, skill_name: str) -> Skill | None:
        """The skill with this name (counts as an access), or None."""
        record = await touch(self._space, self._space.ref(SKILL, _check_name(skill_name)))
        return None if record is None else Skill.from_dict(record.body)

    async def search(self, query: str, *, limit: int = 5) -> list[Skill]:
        """Ranked skills for ``query``."""
        ranked = await self._retriever.search(
            SKILL, self._space.namespace_of(SKILL), query, limit=limit
        )
        results = []
        for record, score in ranked:
            skill = Skill.from_record(record, self._space.store)
            if skill is None:
                continue
            skill.score = score
            results.append(skill)
        return results
