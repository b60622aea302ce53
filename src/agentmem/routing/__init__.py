"""Routing stores: compose any :class:`~agentmem.store.MemoryStore`, never name a backend.

- :class:`TieredStore` (``tiered://``): durable-first write-through, fast-first reads.
- :class:`FailoverStore` (``failover://``): a primary with a fallback, a durable outbox
  and recovery. See docs/failover.md for its failure model.
"""

from agentmem.routing.conflicts import CompareAndSetWhileDegraded, ReplayConflict
from agentmem.routing.failover import FailoverStore
from agentmem.routing.health import FailoverStats, RoutingState
from agentmem.routing.tiered import TieredStore
from agentmem.routing.urls import failover_url, tiered_url

__all__ = [
    "CompareAndSetWhileDegraded",
    "FailoverStats",
    "FailoverStore",
    "ReplayConflict",
    "RoutingState",
    "TieredStore",
    "failover_url",
    "tiered_url",
]
