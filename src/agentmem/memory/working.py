"""Working memory: the steps of the task in progress, private to one agent.

Steps are stored (kind ``working``, the agent's own namespace, one record per step, id
``<session_id>/<step number>``), so a restarted process with the same agent id and
session finds them again. At most ``capacity`` steps are kept: adding one beyond that
deletes the oldest from the store. Steps expire with the working TTL (1 hour default).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from agentmem import text as textmod
from agentmem.errors import ConflictError, InvalidInput
from agentmem.memory.config import WORKING
from agentmem.memory.models import WorkingStep, stored_body
from agentmem.memory.space import MemorySpace
from agentmem.store import Record, Ref

__all__ = ["WorkingMemory"]

log = logging.getLogger("agentmem.memory")

_SESSION_TAG = "_session_"


def session_tag(session_id: str) -> str:
    """The tag that marks a record as belonging to a session (a single search token)."""
    return f"{_SESSION_TAG}{session_id}"


class WorkingMemory:
    """The current session's steps, cached in process and persisted in the store."""

    def __init__(self, space: MemorySpace, *, capacity: int, session_id: str) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise InvalidInput(f"working capacity must be an int >= 1, got {capacity!r}")
        self._space = space
        self.capacity = capacity
        self.session_id = session_id
        self.current_task_id: str | None = None
        self._steps: list[WorkingStep] = []
        # When each cached step expires (its record's expires_at), so the cache never
        # answers with a step the store has already let go.
        self._expires: dict[int, datetime | None] = {}
        self._next_number = 1

    def _prune(self) -> list[WorkingStep]:
        """Drop cached steps past their TTL; return the live ones."""
        now = self._space.clock()
        expired = {n for n, at in self._expires.items() if at is not None and at <= now}
        if expired:
            self._steps = [s for s in self._steps if s.step_number not in expired]
            for number in expired:
                del self._expires[number]
        return self._steps

    @property
    def steps(self) -> list[WorkingStep]:
        """The live steps held now, oldest first (a copy)."""
        return list(self._prune())

    def __len__(self) -> int:
        return len(self._prune())

    async def load(self, session_id: str) -> None:
        """Switch to ``session_id`` and read its steps from the store."""
        self.session_id = session_id
        self._expires = {}
        self._steps = await self._read_steps()
        self._next_number = (self._steps[-1].step_number + 1) if self._steps else 1

    async def _session_records(self) -> AsyncIterator[Record]:
        """Every record of this session in the store, in pages of 500."""
        space = self._space
        cursor: str | None = None
        while True:
            page = await space.store.scan(
                WORKING,
                space.namespace_of(WORKING),
                tags=[session_tag(self.session_id)],
                limit=500,
                cursor=cursor,
            )
            for record in page.records:
                yield record
            cursor = page.cursor
            if cursor is None:
                return

    async def _read_steps(self) -> list[WorkingStep]:
        steps: list[WorkingStep] = []
        async for r in self._session_records():
            step = WorkingStep.from_record(r, self._space.store)
            if step is None:
                continue
            self._expires[step.step_number] = r.expires_at
            steps.append(step)
        steps.sort(key=lambda s: s.step_number)
        return steps

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
        """Record a step; drop the oldest stored steps beyond capacity."""
        space = self._space
        for _ in range(100):
            number = self._next_number
            step = WorkingStep(
                step_id=uuid.uuid4().hex,
                step_number=number,
                action=action,
                observation=observation,
                reasoning=reasoning,
                tool_calls=[dict(call) for call in tool_calls or ()],
                timestamp=space.clock(),
                duration_ms=duration_ms,
                success=success,
                error=error,
                session_id=self.session_id,
                task_id=self.current_task_id,
            )
            record = Record(
                ref=space.ref(WORKING, f"{self.session_id}/{number:09d}"),
                body=stored_body(step),
                text=" ".join(
                    [action, observation, reasoning, *step.tool_names, error or ""]
                ).strip(),
                tags=frozenset({session_tag(self.session_id)}),
                expires_at=space.expires_at(WORKING),
            )
            try:
                # Must-not-exist: another process of this same agent and session may have
                # taken the number; then re-read and continue after its steps.
                await space.store.put(record, expected_version=0)
            except ConflictError:
                log.info(
                    "step %d of session %s already exists; re-reading", number, self.session_id
                )
                await self.load(self.session_id)
                continue
            self._next_number = number + 1
            self._expires[number] = record.expires_at
            self._steps.append(step)
            await self._trim()
            return step
        raise ConflictError(f"could not allocate a step number in session {self.session_id}")

    async def _trim(self) -> None:
        excess = len(self._prune()) - self.capacity
        if excess <= 0:
            return
        dropped, self._steps = self._steps[:excess], self._steps[excess:]
        for step in dropped:
            self._expires.pop(step.step_number, None)
        await self._space.store.delete_many(
            [self._space.ref(WORKING, f"{self.session_id}/{s.step_number:09d}") for s in dropped]
        )

    def recent(self, n: int) -> list[WorkingStep]:
        """The last ``n`` steps, oldest first."""
        live = self._prune()
        return live[-n:] if n > 0 else []

    async def stored_refs(self) -> list[Ref]:
        """Every record of this session in the store (steps this process never saw, such
        as another process's of the same session, and unreadable ones, included)."""
        return [r.ref async for r in self._session_records()]

    async def clear(self, refs: Sequence[Ref] | None = None) -> None:
        """Forget the session's steps, in the store too (one ``delete_many``); ``refs``
        when the caller already listed them with :meth:`stored_refs`."""
        if refs is None:
            refs = await self.stored_refs()
        if refs:
            await self._space.store.delete_many(refs)
        self._steps = []
        self._expires = {}
        self._next_number = 1
        self.current_task_id = None

    def token_count(self) -> int:
        """Tokens in the steps' text (the :mod:`agentmem.text` tokenizer)."""
        return sum(
            len(textmod.tokenize(f"{s.action} {s.observation} {s.reasoning}"))
            for s in self._prune()
        )
