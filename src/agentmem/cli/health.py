"""Whether a store is answering from a fallback right now, in words an operator acts on."""

from __future__ import annotations

from typing import Any

from agentmem.cli.urls import display_url
from agentmem.routing import FailoverStore
from agentmem.routing.health import RoutingState
from agentmem.store import MemoryStore

__all__ = ["degraded_notice", "routing_state"]


def _failover_of(store: MemoryStore) -> FailoverStore | None:
    return store if isinstance(store, FailoverStore) else None


def routing_state(store: MemoryStore) -> dict[str, Any] | None:
    """A failover store's state and outbox size (None for any other store)."""
    failover = _failover_of(store)
    if failover is None:
        return None
    stats = failover.stats
    return {
        "state": str(stats.state),
        "primary": display_url(failover.primary.url),
        "fallback": display_url(failover.fallback.url),
        "outbox": stats.pending,
        "failovers": stats.failovers,
    }


def degraded_notice(store: MemoryStore) -> str | None:
    """One line saying the store is degraded and what that means, or None when healthy."""
    failover = _failover_of(store)
    if failover is None or failover.state is RoutingState.HEALTHY:
        return None
    pending = failover.stats.pending
    return (
        f"DEGRADED: primary {display_url(failover.primary.url)} is unavailable; these "
        f"results come from fallback {display_url(failover.fallback.url)} and may miss "
        f"other agents' writes ({pending} local writes wait in the outbox for the primary)"
    )
