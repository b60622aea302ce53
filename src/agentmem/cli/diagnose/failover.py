"""A failover store's state and outbox."""

from __future__ import annotations

from agentmem.cli.diagnose.findings import Finding
from agentmem.cli.urls import display_url
from agentmem.routing import FailoverStore, RoutingState

__all__ = ["check_failover"]


async def check_failover(store: FailoverStore) -> Finding:
    """healthy with an empty outbox, or why not."""
    where = display_url(store.url)
    stats = store.stats
    if stats.state is not RoutingState.HEALTHY:
        return Finding(
            "failover",
            "fail",
            f"{stats.state}: primary {display_url(store.primary.url)} unavailable, answering "
            f"from fallback {display_url(store.fallback.url)}; {stats.pending} writes wait "
            "in the outbox",
            where,
        )
    if stats.pending:
        return Finding("failover", "warn", f"healthy; {stats.pending} writes in the outbox", where)
    return Finding("failover", "ok", "healthy; outbox empty", where)
