"""Which backend an adapter is using right now (``memory.redis_manager.available``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from agentmem.routing import FailoverStore
from agentmem.store import MemoryStore

__all__ = ["BackendStatus"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix", "redis+cluster", "rediss+cluster"})


class BackendStatus:
    """Whether Redis carries the memory now, and the routing state behind it.

    ``available`` is True when the adapter's store is Redis, or a failover store whose
    Redis primary is healthy; False while it answers from the SQLite fallback and for
    stores without Redis (sqlite, memory).
    """

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def available(self) -> bool:
        store = self._store
        if isinstance(store, FailoverStore):
            return store.available and _is_redis(store.primary.url)
        return _is_redis(store.url)

    @property
    def state(self) -> str:
        """``healthy``, ``degraded``, ``recovering`` or ``misconfigured`` (failover);
        ``direct`` otherwise."""
        store = self._store
        return store.state.value if isinstance(store, FailoverStore) else "direct"

    @property
    def failover_stats(self) -> dict[str, int] | None:
        """A failover store's counters (failovers, replayed, pending, lost, refills and
        conflicts: writes made while degraded that replay did not carry, each reported to
        its ``on_conflict``); None for other stores."""
        store = self._store
        if not isinstance(store, FailoverStore):
            return None
        stats = store.stats
        return {
            "failovers": stats.failovers,
            "replayed": stats.replayed,
            "pending": stats.pending,
            "lost": stats.lost,
            "refills": stats.refills,
            "conflicts": stats.conflicts,
        }

    @property
    def url(self) -> str:
        """The store URL (passwords masked by the backend)."""
        return self._store.url

    @property
    def description(self) -> str:
        """A readable account of the store: ``redis://... with fallback sqlite://...``."""
        store = self._store
        if isinstance(store, FailoverStore):
            return f"{store.primary.url} with fallback {store.fallback.url}"
        return store.url

    async def wait_until_available(self, within: float | None = None) -> bool:
        """Wait for a failover store to be healthy again; True if it is."""
        store = self._store
        if isinstance(store, FailoverStore):
            return await store.wait_until_healthy(within) and self.available
        return self.available


def _is_redis(url: str) -> bool:
    return urlsplit(url).scheme.lower() in _REDIS_SCHEMES
