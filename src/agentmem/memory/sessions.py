"""Sessions: each session record names the session it continues, so history can be walked.

Session records are shared (any process, any agent can walk a chain) and expire with the
session TTL (30 days default); a walk stops at the first missing link.
"""

from __future__ import annotations

import secrets

from agentmem.errors import InvalidInput
from agentmem.memory.config import SESSION
from agentmem.memory.models import SessionInfo, stored_body
from agentmem.memory.space import MemorySpace
from agentmem.store import Record

__all__ = ["MAX_SESSION_ID_LENGTH", "SessionLog", "new_session_id"]

MAX_SESSION_ID_LENGTH = 100
MAX_HISTORY = 10_000


def new_session_id(space: MemorySpace) -> str:
    """A fresh id: the start time (like the earlier adapter's) plus a random suffix."""
    return f"{space.clock():%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        raise InvalidInput(
            f"session_id must be a non-empty str of at most {MAX_SESSION_ID_LENGTH} characters"
        )
    return session_id


class SessionLog:
    """Create session records and walk their chain."""

    def __init__(self, space: MemorySpace) -> None:
        self._space = space

    async def ensure(self, session_id: str, previous: str | None = None) -> SessionInfo:
        """The session's record, created (linked to ``previous``) if it does not exist.

        An existing session keeps its link, unless it had none and ``previous`` is given.
        """
        space = self._space
        check_session_id(session_id)
        if previous == session_id:
            raise InvalidInput("a session cannot continue itself")

        def create(current: Record | None) -> Record | None:
            if current is not None:
                info = SessionInfo.from_dict(current.body)
                if info.previous_session_id is not None or previous is None:
                    return None
                info.previous_session_id = previous
            else:
                info = SessionInfo(
                    session_id=session_id,
                    previous_session_id=previous,
                    agent_id=space.agent_id,
                    started_at=space.clock(),
                )
            return Record(
                ref=space.ref(SESSION, session_id),
                body=stored_body(info),
                text=session_id,
                expires_at=space.expires_at(SESSION),
            )

        record = await space.update(space.ref(SESSION, session_id), create)
        assert record is not None
        return SessionInfo.from_dict(record.body)

    async def history(self, session_id: str) -> list[SessionInfo]:
        """The chain ending at ``session_id``, oldest first."""
        chain: list[SessionInfo] = []
        seen: set[str] = set()
        current: str | None = session_id
        while current is not None and current not in seen and len(chain) < MAX_HISTORY:
            seen.add(current)
            record = await self._space.store.get(self._space.ref(SESSION, current))
            if record is None:
                break
            info = SessionInfo.from_dict(record.body)
            chain.append(info)
            current = info.previous_session_id
        chain.reverse()
        return chain
