"""The typed results tools return (their JSON schemas are the tools' output schemas).

Converters turn agentmem's records and dataclasses into these models; record bodies are
made JSON-safe on the way (datetimes as ISO 8601 strings, bytes as base64).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from agentmem import Hit, Record
from agentmem.memory import Episode, SemanticMemory, Skill, WorkingStep
from agentmem_mcp.uris import record_uri

__all__ = [
    "ContextResult",
    "DeleteResult",
    "EpisodeResult",
    "EpisodeSearchResult",
    "GetMemoryResult",
    "KnowledgeResult",
    "MemoryItem",
    "MemoryPage",
    "MemorySearchResult",
    "SearchAllResult",
    "SessionResult",
    "SkillResult",
    "StatsResult",
    "StepResult",
    "json_safe",
]


def json_safe(value: Any) -> Any:
    """Plain data as JSON can carry it (datetimes -> ISO strings, bytes -> base64)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MemoryItem(BaseModel):
    """One stored record, as the generic tools and resources show it."""

    uri: str = Field(description="agentmem://{kind}/{namespace}/{id}; readable as a resource")
    kind: str
    namespace: str
    id: str
    content: str = Field(description="the record's text (what search matches)")
    tags: list[str]
    data: dict[str, Any] = Field(description="the record's structured fields (metadata, ...)")
    version: int = Field(description="1 when created, +1 on every update")
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None = Field(description="when the record disappears (null: never)")
    score: float | None = Field(default=None, description="relevance, for search results")

    @classmethod
    def from_record(cls, record: Record, score: float | None = None) -> MemoryItem:
        ref = record.ref
        return cls(
            uri=record_uri(ref),
            kind=ref.kind,
            namespace=ref.namespace,
            id=ref.id,
            content=record.text,
            tags=sorted(record.tags),
            data=json_safe(record.body),
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            expires_at=record.expires_at,
            score=score,
        )

    @classmethod
    def from_hit(cls, hit: Hit) -> MemoryItem:
        return cls.from_record(hit.record, round(hit.score, 6))


class MemorySearchResult(BaseModel):
    """Ranked keyword hits, best first."""

    query: str
    kind: str
    namespace: str
    hits: list[MemoryItem]


class MemoryPage(BaseModel):
    """One page of a listing in id order."""

    kind: str
    namespace: str
    items: list[MemoryItem]
    next_cursor: str | None = Field(
        description="pass as cursor to get the next page; null on the last page"
    )


class GetMemoryResult(BaseModel):
    """The record at an address, if there is one."""

    found: bool
    uri: str
    memory: MemoryItem | None


class DeleteResult(BaseModel):
    """Whether a live record was removed (false: there was none; deleting is idempotent)."""

    deleted: bool
    uri: str


class StepResult(BaseModel):
    """A step appended to working memory."""

    step_id: str
    step_number: int
    session_id: str
    timestamp: datetime
    working_memory_steps: int = Field(description="steps working memory holds now")
    working_memory_capacity: int

    @classmethod
    def from_step(cls, step: WorkingStep, held: int, capacity: int) -> StepResult:
        return cls(
            step_id=step.step_id,
            step_number=step.step_number,
            session_id=step.session_id,
            timestamp=step.timestamp,
            working_memory_steps=held,
            working_memory_capacity=capacity,
        )


class EpisodeResult(BaseModel):
    """A finished task."""

    memory_id: str
    uri: str
    task_prompt: str
    outcome: str
    success: bool
    duration_seconds: float
    tools_used: list[str]
    error_messages: list[str]
    tags: list[str]
    importance: float
    summary: str = Field(description="one-line summary (compressed_content)")
    steps: int = Field(description="how many working-memory steps the episode kept")
    session_id: str | None
    agent_id: str
    created_at: datetime
    score: float | None = None

    @classmethod
    def from_episode(cls, episode: Episode, uri: str) -> EpisodeResult:
        return cls(
            memory_id=episode.memory_id,
            uri=uri,
            task_prompt=episode.task_prompt,
            outcome=episode.outcome,
            success=episode.success,
            duration_seconds=episode.duration_seconds,
            tools_used=list(episode.tools_used),
            error_messages=list(episode.error_messages),
            tags=list(episode.tags),
            importance=episode.importance,
            summary=episode.compressed_content,
            steps=len(episode.steps),
            session_id=episode.session_id,
            agent_id=episode.agent_id,
            created_at=episode.created_at,
            score=episode.score,
        )


class EpisodeSearchResult(BaseModel):
    """Episodes ranked for a query, best first."""

    query: str
    episodes: list[EpisodeResult]


class KnowledgeResult(BaseModel):
    """Generalized knowledge: a pattern and what is known about it."""

    memory_id: str
    uri: str
    pattern: str
    content: str
    confidence: float
    times_validated: int
    times_invalidated: int
    source_episodes: list[str]
    tags: list[str]
    score: float | None = None

    @classmethod
    def from_knowledge(cls, knowledge: SemanticMemory, uri: str) -> KnowledgeResult:
        return cls(
            memory_id=knowledge.memory_id,
            uri=uri,
            pattern=knowledge.pattern,
            content=knowledge.content,
            confidence=knowledge.confidence,
            times_validated=knowledge.times_validated,
            times_invalidated=knowledge.times_invalidated,
            source_episodes=list(knowledge.source_episodes),
            tags=list(knowledge.tags),
            score=knowledge.score,
        )


class SkillResult(BaseModel):
    """A named action sequence with its live statistics."""

    skill_name: str
    uri: str
    description: str
    action_sequence: list[Any]
    preconditions: list[str]
    postconditions: list[str]
    success_rate: float = Field(description="0..1, over all recorded executions")
    times_executed: int
    times_succeeded: int
    average_duration: float = Field(description="seconds")
    tags: list[str]
    score: float | None = None

    @classmethod
    def from_skill(cls, skill: Skill, uri: str) -> SkillResult:
        return cls(
            skill_name=skill.skill_name,
            uri=uri,
            description=skill.description,
            action_sequence=json_safe(skill.action_sequence),
            preconditions=list(skill.preconditions),
            postconditions=list(skill.postconditions),
            success_rate=skill.success_rate,
            times_executed=skill.times_executed,
            times_succeeded=skill.times_succeeded,
            average_duration=skill.average_duration,
            tags=list(skill.tags),
            score=skill.score,
        )


class SearchAllResult(BaseModel):
    """Episodes, knowledge and skills ranked for one query."""

    query: str
    episodes: list[EpisodeResult]
    knowledge: list[KnowledgeResult]
    skills: list[SkillResult]


class ContextResult(BaseModel):
    """Working memory plus relevant experiences, knowledge and skills, as prompt text."""

    query: str
    context: str


class SessionResult(BaseModel):
    """The session now in use and the one it continues."""

    session_id: str
    previous_session_id: str | None


class StatsResult(BaseModel):
    """What the memory holds and where it lives."""

    agent_id: str
    namespace: str
    session_id: str
    working_memory_steps: int
    working_memory_capacity: int
    stored_working_steps: int = Field(description="this agent's stored steps, all sessions")
    episodes: int
    knowledge: int
    skills: int
    backend_url: str = Field(description="the store URL (passwords masked)")
    backend_state: str = Field(
        description="healthy/degraded/recovering (Redis with SQLite fallback) or direct"
    )
    redis_available: bool
    server_pid: int
