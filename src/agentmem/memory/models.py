"""The records agents read and write, with every field users of the earlier adapter know.

Each is a plain dataclass: attribute access as before (``episode.memory_id``,
``skill.success_rate``), :meth:`to_dict` for plain data. Bodies in the store are these
dicts; fields a newer version adds are ignored by an older reader instead of failing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from agentmem.corruption import report
from agentmem.errors import CorruptRecord
from agentmem.store import Body, Record, utcnow

__all__ = ["Episode", "LongTermMemory", "SemanticMemory", "SessionInfo", "Skill", "WorkingStep"]


class _Plain:
    """to_dict / from_dict shared by the record classes."""

    def to_dict(self) -> Body:
        """The record as plain data (what the store keeps as its body)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls, body: Body) -> Self:
        """Build from a stored body; unknown keys (from a newer writer) are ignored.

        A body lacking a required field raises :class:`~agentmem.errors.CorruptRecord`.
        """
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{k: v for k, v in body.items() if k in names})
        except TypeError as exc:
            raise CorruptRecord(f"not a {cls.__name__} body: {exc}") from exc

    @classmethod
    def from_record(cls, record: Record, store: object) -> Self | None:
        """For reads of many records: like :meth:`from_dict`, but a body that is not one
        of these is reported to ``store``'s corruption log and skipped (None)."""
        try:
            return cls.from_dict(record.body)
        except CorruptRecord as exc:
            report(store, record.ref, exc)
            return None


@dataclass(kw_only=True)
class WorkingStep(_Plain):
    """One step of the task in progress."""

    step_id: str
    step_number: int
    action: str
    observation: str
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    timestamp: datetime = field(default_factory=utcnow)
    duration_ms: float = 0.0
    success: bool = True
    error: str | None = None
    session_id: str = ""
    task_id: str | None = None

    @property
    def tool_names(self) -> list[str]:
        """The ``name`` of each tool call that has one."""
        return [str(c["name"]) for c in self.tool_calls if isinstance(c, dict) and c.get("name")]


@dataclass(kw_only=True)
class LongTermMemory(_Plain):
    """Fields every long-term memory (episodic, semantic, skill) carries."""

    memory_id: str
    content: str = ""
    compressed_content: str = ""
    created_at: datetime = field(default_factory=utcnow)
    last_accessed: datetime = field(default_factory=utcnow)
    access_count: int = 0
    importance: float = 0.5
    task_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    original_tokens: int = 0
    compressed_tokens: int = 0
    agent_id: str = ""
    score: float | None = None
    """Ranking score when the record came from a search (not stored)."""


@dataclass(kw_only=True)
class Episode(LongTermMemory):
    """A finished task."""

    task_prompt: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = ""
    success: bool = True
    duration_seconds: float = 0.0
    tools_used: list[str] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    patterns_discovered: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class SemanticMemory(LongTermMemory):
    """Generalized knowledge: a pattern and what is known about it."""

    pattern: str = ""
    context: str = ""
    examples: list[str] = field(default_factory=list)
    confidence: float = 0.5
    times_validated: int = 0
    times_invalidated: int = 0
    source_episodes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Skill(LongTermMemory):
    """A named action sequence with live statistics."""

    skill_name: str = ""
    description: str = ""
    action_sequence: list[Any] = field(default_factory=list)
    preconditions: list[str] = field(default_factory=list)
    postconditions: list[str] = field(default_factory=list)
    success_rate: float = 0.0
    times_executed: int = 0
    times_succeeded: int = 0
    total_duration: float = 0.0
    average_duration: float = 0.0
    error_handling: dict[str, Any] = field(default_factory=dict)
    decision_logic: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The counts are stored (and incremented); the rates are derived from them, so
        # they are right however many agents added to the counts.
        if self.times_executed > 0:
            self.success_rate = self.times_succeeded / self.times_executed
            self.average_duration = self.total_duration / self.times_executed


@dataclass(kw_only=True)
class SessionInfo(_Plain):
    """A session and the one it continues (None for the first of a chain)."""

    session_id: str
    previous_session_id: str | None = None
    agent_id: str = ""
    started_at: datetime = field(default_factory=utcnow)


def stored_body(memory: _Plain) -> Body:
    """The body to store: the dict without the search-only ``score``."""
    body = memory.to_dict()
    body.pop("score", None)
    return body
