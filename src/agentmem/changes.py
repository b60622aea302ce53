"""The change feed: one :class:`ChangeStream` type over any backend's change log.

A backend only answers two questions (:class:`ChangeSource`): where the feed ends now,
and which changes follow a cursor (waiting up to a timeout for one to arrive). The
stream adds anchoring, filtering, resumption and clean shutdown on top.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Protocol, Self

from agentmem.errors import InvalidInput

if TYPE_CHECKING:
    from types import TracebackType

    from agentmem.store import Change

__all__ = ["ChangeSource", "ChangeStream"]

log = logging.getLogger("agentmem.changes")


class ChangeSource(Protocol):
    """What a backend provides so that :class:`ChangeStream` can follow its change log."""

    async def change_head(self) -> str:
        """The cursor of the newest change (or a cursor that precedes all future ones)."""
        ...

    async def read_changes(self, after: str, *, limit: int, timeout: float) -> list[Change]:
        """Changes strictly after ``after`` in feed order, at most ``limit``.

        Waits up to ``timeout`` seconds when none are there yet; returns ``[]`` on timeout.
        """
        ...


class ChangeStream:
    """An async iterator over a store's changes, filtered by kind and namespace.

    Use it as an async context manager so that the starting point is fixed before your
    next write, and the stream is closed when you leave::

        async with store.watch(kind="episodic") as changes:
            async for change in changes:
                print(change.op, change.ref)

    ``cursor`` is the position after the last change delivered; pass it as ``since=`` to
    a new :meth:`~agentmem.store.MemoryStore.watch` to resume without missing anything
    (within the backend's retention bound).
    """

    def __init__(
        self,
        source: ChangeSource,
        *,
        kind: str | None = None,
        namespace: str | None = None,
        since: str | None = None,
        poll_timeout: float = 1.0,
        batch: int = 256,
    ) -> None:
        if since is not None and not isinstance(since, str):
            raise InvalidInput(f"since must be a cursor string or None, got {since!r}")
        self._source = source
        self._kind = kind
        self._namespace = namespace
        self._cursor: str | None = since
        self._poll_timeout = poll_timeout
        self._batch = batch
        self._buffer: deque[Change] = deque()
        self._closed = False

    @property
    def cursor(self) -> str | None:
        """Resume point: the cursor of the last change read from the feed (None before start)."""
        return self._cursor

    async def start(self) -> None:
        """Fix the starting point now (``async with`` calls this)."""
        if self._cursor is None:
            self._cursor = await self._source.change_head()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream; iteration then ends."""
        self._closed = True
        self._buffer.clear()

    def __aiter__(self) -> Self:
        return self

    def _wanted(self, change: Change) -> bool:
        return (self._kind is None or change.ref.kind == self._kind) and (
            self._namespace is None or change.ref.namespace == self._namespace
        )

    async def next(self, timeout: float) -> Change | None:
        """The next matching change, or None if none arrives within ``timeout`` seconds."""
        await self.start()
        deadline = time.monotonic() + timeout
        while not self._closed:
            while self._buffer:
                change = self._buffer.popleft()
                if self._wanted(change):
                    return change
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            assert self._cursor is not None
            changes = await self._source.read_changes(
                self._cursor, limit=self._batch, timeout=min(remaining, self._poll_timeout)
            )
            if changes:
                self._cursor = changes[-1].cursor
                self._buffer.extend(changes)
        return None

    async def __anext__(self) -> Change:
        while not self._closed:
            change = await self.next(self._poll_timeout)
            if change is not None:
                return change
        raise StopAsyncIteration
