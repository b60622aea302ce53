"""Shared plumbing for store implementations: origin, clock, open/closed state.

Backends (ours and third parties') may subclass :class:`StoreBase`; it carries no
storage logic, only what every store would otherwise repeat.

A store still open when the interpreter exits (a script that raised before ``close()``,
or forgot it) is reported with a :class:`ResourceWarning` and its :meth:`StoreBase._abandon`
hook releases what it can without an event loop. Backends must never keep the process
alive: their worker threads are daemon threads (see agentmem_sqlite.connection).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import warnings
import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Self

from agentmem.corruption import CorruptionLog
from agentmem.errors import InvalidInput, StoreClosed
from agentmem.store import Clock, utcnow

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["StoreBase", "default_origin", "open_stores"]

log = logging.getLogger("agentmem")

# Every StoreBase not yet closed; weak, so a dropped store is not kept alive by this.
_open: weakref.WeakSet[StoreBase] = weakref.WeakSet()


def open_stores() -> list[StoreBase]:
    """The stores of this process that were opened and not closed yet."""
    return list(_open)


@atexit.register
def _report_unclosed() -> None:
    """At interpreter exit: warn about each store never closed, and release it."""
    for store in list(_open):
        _open.discard(store)
        warnings.warn(
            f"{type(store).__name__} {store._where()} was never closed; "
            "use 'async with' or await close()",
            ResourceWarning,
            stacklevel=1,
        )
        try:
            store._abandon()
        except Exception:  # exiting anyway: report, never block or raise at exit
            log.exception("releasing unclosed %s at exit failed", type(store).__name__)


def default_origin() -> str:
    """``host:pid``: who a store writes as when no agent id is given."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StoreBase:
    """Origin, injectable clock, idempotent close and ``async with`` for a store."""

    def __init__(self, *, origin: str | None = None, clock: Clock | None = None) -> None:
        if origin is not None and (not isinstance(origin, str) or not origin):
            raise InvalidInput(f"origin must be a non-empty str, got {origin!r}")
        self._origin = origin or default_origin()
        self._clock: Clock = clock or utcnow
        self._closed = False
        self.corruption = CorruptionLog(self._where)
        """The corrupt records this store skipped (see :mod:`agentmem.corruption`)."""
        _open.add(self)

    def _where(self) -> str:
        url = getattr(self, "url", None)
        return url if isinstance(url, str) else type(self).__name__

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def closed(self) -> bool:
        return self._closed

    def now(self) -> datetime:
        """The store's clock, checked to be timezone-aware."""
        value = self._clock()
        if value.tzinfo is None:
            raise InvalidInput("the store's clock returned a naive datetime")
        return value

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"{type(self).__name__} is closed: open a new one")

    async def _close(self) -> None:
        """Release resources; called once by :meth:`close`."""

    def _abandon(self) -> None:
        """Release resources without an event loop; called at interpreter exit for a store
        that was never closed. Must not block for long."""

    async def close(self) -> None:
        """Release connections; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        _open.discard(self)
        await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
