"""A clock tests can move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from agentmem.store import utcnow


class ManualClock:
    """Starts at the real current time (so server-side expiry stays in the future) and
    only moves when :meth:`advance` is called.

    >>> clock = ManualClock()
    >>> before = clock()
    >>> clock.advance(60)
    >>> (clock() - before).total_seconds()
    60.0
    """

    def __init__(self, start: datetime | None = None) -> None:
        now = start or utcnow()
        self._now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
