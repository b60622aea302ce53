"""What a router knows about its primary: state, counters, and the timed primary call.

A :class:`~agentmem.routing.FailoverStore` is in one of three states
(:class:`RoutingState`) and counts what it did (:class:`FailoverStats`). Only
:class:`~agentmem.errors.BackendUnavailable` (or a call that outlives its timeout) means
"the primary is down"; every other error is the caller's business and passes through.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from agentmem.errors import BackendUnavailable
from agentmem.store import Record

__all__ = ["FailoverStats", "RoutingState", "call_with_timeout", "same_content"]

T = TypeVar("T")


class RoutingState(enum.StrEnum):
    """Where a failover store sends calls right now."""

    HEALTHY = "healthy"
    """Circuit closed: every call goes to the primary."""
    DEGRADED = "degraded"
    """Circuit open: calls go to the fallback, writes are journalled, a probe waits."""
    RECOVERING = "recovering"
    """The primary answers again; refill and outbox replay run, calls still use the fallback."""
    MISCONFIGURED = "misconfigured"
    """The primary refused this configuration (wrong password, ...) found after a degraded
    open: calls use the fallback, writes are kept there, an ERROR was logged once."""


@dataclass(slots=True)
class FailoverStats:
    """Counters of a failover store (a snapshot; read ``store.stats``)."""

    state: RoutingState
    failovers: int
    """How many times the circuit opened."""
    replayed: int
    """Outbox entries replayed into the primary."""
    pending: int
    """Outbox entries waiting for the primary."""
    lost: int
    """Replayed writes that lost a version conflict (each one logged at WARNING)."""
    refills: int
    """How many times an emptied primary was refilled from the fallback."""
    conflicts: int = 0
    """Writes made while degraded that replay did not carry into the primary, each one
    reported to ``on_conflict`` as a ReplayConflict (one per write, exactly)."""


async def call_with_timeout(what: str, seconds: float, call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()``; a call outliving ``seconds`` is :class:`BackendUnavailable`.

    A hung server (SIGSTOP, a dead link without RST) never refuses a connection, so the
    socket timeout of the client would be paid on every call; this bounds it instead.
    """
    try:
        async with asyncio.timeout(seconds):
            return await call()
    except TimeoutError as exc:
        raise BackendUnavailable(f"{what} did not answer within {seconds:g}s") from exc


def same_content(a: Record, b: Record) -> bool:
    """True when two records carry the same data (versions and timestamps aside).

    Replay uses it to tell "my write is already there" from "someone else's write won".
    """
    return (
        a.ref == b.ref
        and a.body == b.body
        and a.text == b.text
        and a.tags == b.tags
        and a.expires_at == b.expires_at
    )
