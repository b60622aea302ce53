"""Shared plumbing for store implementations: origin, clock, open/closed state.

Backends (ours and third parties') may subclass :class:`StoreBase`; it carries no
storage logic, only what every store would otherwise repeat.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Self

from agentmem.errors import InvalidInput
from agentmem.store import Clock, utcnow

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["StoreBase", "default_origin"]


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
            raise RuntimeError(f"{type(self).__name__} is closed")

    async def _close(self) -> None:
        """Release resources; called once by :meth:`close`."""

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
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
