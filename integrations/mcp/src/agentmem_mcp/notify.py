"""Resource-updated notifications, fed by the store's change feed.

One background task per server follows ``store.watch()``: every put or delete becomes a
``notifications/resources/updated`` for the record's canonical URI, so a write made by
*any* process sharing the store (another MCP server, an agent using the library)
reaches the clients subscribed here (records the server does not show, see
:func:`~agentmem_mcp.kinds.hidden_reason`, are never announced). Two protocol eras are
served:

- 2026-07-28 clients open a ``subscriptions/listen`` stream; the SDK's subscription bus
  filters events by the URIs each stream asked for, so every change is published there.
- Earlier clients send ``resources/subscribe``; their connections are kept per URI (weakly:
  a closed connection drops out by itself) and notified directly.

Creations and deletions also publish a (coalesced) ``resources/list_changed`` to listen
streams that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus

from agentmem import Change
from agentmem_mcp.kinds import hidden_reason
from agentmem_mcp.uris import record_uri

__all__ = ["ChangeNotifier"]

log = logging.getLogger("agentmem.mcp")

SEND_TIMEOUT = 5.0
"""Seconds one notification may take to write before its connection is dropped (a client
that stopped reading must not stall everyone else's notifications)."""
LIST_CHANGED_INTERVAL = 1.0
"""At most one resources/list_changed per this many seconds (bursts are coalesced)."""
RETRY_MAX = 5.0


class Watchable(Protocol):
    """The one store method the notifier uses (``store.watch``)."""

    def watch(
        self, kind: str | None = None, namespace: str | None = None, *, since: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[Change]]: ...


class Notifiable(Protocol):
    """A connection that can carry ``notifications/resources/updated``."""

    async def send_resource_updated(self, uri: str) -> None: ...


class ChangeNotifier:
    """Follows the change feed and notifies subscribers; start with :meth:`start`."""

    def __init__(self, store: Watchable, bus: SubscriptionBus) -> None:
        self._store = store
        self._bus = bus
        self._legacy: dict[str, weakref.WeakSet[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._list_task: asyncio.Task[None] | None = None
        self._list_changed = asyncio.Event()
        self._ready = asyncio.Event()
        self.delivered = 0
        """Changes seen on the feed (for tests and stats)."""

    # -- resources/subscribe (handshake-era clients) ---------------------------------

    def subscribe(self, uri: str, connection: Notifiable) -> None:
        """Notify ``connection`` when the record at canonical ``uri`` changes."""
        self._legacy.setdefault(uri, weakref.WeakSet()).add(connection)

    def unsubscribe(self, uri: str, connection: Notifiable) -> None:
        """Stop notifying ``connection`` about ``uri`` (nothing happens if it was not)."""
        subscribers = self._legacy.get(uri)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._legacy[uri]

    def subscribers(self, uri: str) -> int:
        """How many handshake-era connections follow ``uri``."""
        return len(self._legacy.get(uri, ()))

    # -- the feed ----------------------------------------------------------------------

    async def start(self, ready_within: float = 10.0) -> None:
        """Start following the feed; returns once its starting point is fixed (or after
        ``ready_within`` seconds, when the feed is unreachable: it keeps retrying)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._follow(), name="agentmem-mcp change feed")
        self._list_task = asyncio.create_task(self._announce_lists(), name="agentmem-mcp lists")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ready_within):
                await self._ready.wait()

    async def close(self) -> None:
        """Stop the background tasks (idempotent)."""
        tasks = [t for t in (self._task, self._list_task) if t is not None]
        self._task = self._list_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow(self) -> None:
        cursor: str | None = None
        delay = 0.1
        while True:
            try:
                async with self._store.watch(since=cursor) as changes:
                    self._ready.set()
                    async for change in changes:
                        cursor = change.cursor
                        delay = 0.1
                        await self._dispatch(change)
                return  # the stream ended: the store was closed
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # An outage of the feed (Redis restarting, ...): resume after the last
                # change seen, so nothing retained in between is skipped.
                log.warning("change feed interrupted (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _dispatch(self, change: Change) -> None:
        ref = change.ref
        if hidden_reason(ref.kind) is not None:
            return
        self.delivered += 1
        uri = record_uri(ref)
        await self._bus.publish(ResourceUpdated(uri=uri))
        if change.op == "delete" or change.version == 1:
            self._list_changed.set()
        subscribers = self._legacy.get(uri)
        if not subscribers:
            return
        for connection in list(subscribers):
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await connection.send_resource_updated(uri)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("dropping a subscriber of %s: %s: %s", uri, type(exc).__name__, exc)
                self.unsubscribe(uri, connection)

    async def _announce_lists(self) -> None:
        while True:
            await self._list_changed.wait()
            self._list_changed.clear()
            try:
                await self._bus.publish(ResourcesListChanged())
            except Exception:
                log.exception("publishing resources/list_changed failed")
            await asyncio.sleep(LIST_CHANGED_INTERVAL)
