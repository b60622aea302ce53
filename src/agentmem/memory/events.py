"""Notifications: other agents' episodes, knowledge and skills as they are written.

One background task per adapter follows the store's change feed
(:meth:`~agentmem.store.MemoryStore.watch`) for the shared namespace and turns each
change of an episodic, semantic or skill record into a :class:`MemoryEvent`. Changes the
agent made itself (the change's origin is the agent id) are dropped, and working memory
lives in another namespace, so it is never reported to anyone.

Delivery: to every registered callback (plain functions or coroutines, called in order;
an exception is logged, never swallowed silently, and does not stop delivery) and to
every open :meth:`EventHub.events` iterator. On Redis changes cross processes and
machines; on SQLite processes sharing the file; on ``memory://NAME`` stores of one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agentmem.changes import ChangeStream
from agentmem.errors import BackendUnavailable
from agentmem.memory.config import EPISODIC, SEMANTIC, SKILL
from agentmem.store import Change, MemoryStore

__all__ = ["EventCallback", "EventHub", "EventIterator", "MemoryEvent"]

log = logging.getLogger("agentmem.memory.events")

NOTIFIED_KINDS = frozenset({EPISODIC, SEMANTIC, SKILL})


@dataclass(frozen=True, slots=True)
class MemoryEvent:
    """Another agent wrote (``put``) or removed (``delete``) a shared memory."""

    kind: Literal["episodic", "semantic", "skill"]
    op: Literal["put", "delete"]
    memory_id: str
    """The record id: an episode's memory_id, a pattern id, a skill's name."""
    agent_id: str
    version: int
    at: datetime

    @property
    def created(self) -> bool:
        """True for the first write of the record (version 1)."""
        return self.op == "put" and self.version == 1


EventCallback = Callable[[MemoryEvent], Awaitable[None] | None]

_END = object()


class EventIterator:
    """An async iterator over events, registered from the moment it is created."""

    def __init__(self, queues: set[asyncio.Queue[MemoryEvent | object]]) -> None:
        self._queue: asyncio.Queue[MemoryEvent | object] = asyncio.Queue()
        self._queues = queues
        self._done = False
        queues.add(self._queue)

    def __aiter__(self) -> EventIterator:
        return self

    async def __anext__(self) -> MemoryEvent:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            await self.aclose()
            raise StopAsyncIteration
        assert isinstance(item, MemoryEvent)
        return item

    async def aclose(self) -> None:
        """Stop receiving events."""
        self._done = True
        self._queues.discard(self._queue)


class EventHub:
    """Follows the change feed and fans events out to callbacks and iterators."""

    def __init__(self, store: MemoryStore, namespace: str, agent_id: str) -> None:
        self._store = store
        self._namespace = namespace
        self._agent_id = agent_id
        self._callbacks: list[EventCallback] = []
        self._queues: set[asyncio.Queue[MemoryEvent | object]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stream: ChangeStream | None = None
        self._outage = False
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start following changes from now on (idempotent)."""
        if self._task is not None:
            return
        stream = self._store.watch(namespace=self._namespace)
        try:
            await stream.start()  # fix the starting point now: nothing after this is missed
        except BackendUnavailable as exc:
            log.warning("change feed unavailable at start (%s); will retry", exc)
            self._outage = True
        self._stream = stream
        self._task = asyncio.create_task(self._run(), name=f"agentmem events {self._agent_id}")
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("notifications stopped: %r", task.exception(), exc_info=task.exception())

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def events(self) -> EventIterator:
        """Iterate over events from now on (not from the first ``anext``); ends when the
        adapter closes."""
        return EventIterator(self._queues)

    def _event(self, change: Change) -> MemoryEvent | None:
        kind = change.ref.kind
        if kind not in NOTIFIED_KINDS or change.origin == self._agent_id:
            return None
        return MemoryEvent(
            kind=kind,  # type: ignore[arg-type]
            op=change.op,
            memory_id=change.ref.id,
            agent_id=change.origin,
            version=change.version,
            at=change.at,
        )

    def _stopping(self) -> bool:
        # A method, so type checkers do not assume the flag is unchanged across an await.
        return self._closing

    async def _run(self) -> None:
        assert self._stream is not None
        while True:
            try:
                async for change in self._stream:
                    self._outage = False
                    event = self._event(change)
                    if event is not None:
                        # The earlier adapter's users watch their logs for this line.
                        log.debug(
                            "Received memory update: %s %s %s from %s",
                            event.op,
                            event.kind,
                            event.memory_id,
                            event.agent_id,
                        )
                        await self._deliver(event)
                return
            except BackendUnavailable as exc:
                if self._closing:
                    return
                # Resume where we stopped, after a pause; the feed keeps what we missed.
                # Warn once per outage, not once per retry.
                level = logging.DEBUG if self._outage else logging.WARNING
                log.log(level, "change feed unavailable (%s); retrying every second", exc)
                self._outage = True
                cursor = self._stream.cursor
                await asyncio.sleep(1.0)
                if self._stopping():
                    return
                self._stream = self._store.watch(namespace=self._namespace, since=cursor)

    async def _deliver(self, event: MemoryEvent) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)
        for callback in list(self._callbacks):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event callback %r failed on %s", callback, event)

    async def close(self) -> None:
        """Stop following changes and end every iterator (idempotent)."""
        self._closing = True
        if self._stream is not None:
            await self._stream.aclose()
        task, self._task = self._task, None
        if task is not None:
            # Every backend's feed read ends promptly on cancellation (the Redis one reads
            # on a connection of its own, bounded by asyncio.timeout), so wait it out.
            task.cancel()
            await asyncio.wait([task])
        for queue in list(self._queues):
            queue.put_nowait(_END)
