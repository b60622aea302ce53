"""Compare-and-set writes made while degraded: replayed only if still valid, else reported.

A compare-and-set (``put(..., expected_version=n)``) made on the fallback during an outage
was checked against this agent's copy, not against the primary. At replay it is carried
into the primary only if the primary still holds the version the write was based on;
otherwise another agent (or another process's fallback) changed the record meanwhile and
the write is **not** carried. Either way nothing is silent: every write that is not
carried is one :class:`ReplayConflict`, with both versions, delivered to the failover
store's ``on_conflict`` callback, logged at WARNING and counted in its ``stats``.

The rule for a record with journalled compare-and-set writes, in journal order: the
first such write decides. Its expected version is the base; if the primary is at the
base (or already holds this very copy), the fallback's current copy, which holds every
later write of this agent too, is imported; else every journalled write of that record
up to the decision is a conflict. Writes journalled after the decision are decided anew.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from agentmem.errors import BackendUnavailable
from agentmem.routing.health import same_content
from agentmem.routing.outbox import OutboxEntry
from agentmem.routing.replay import PrimaryCaller
from agentmem.store import MemoryStore, Record, Ref

__all__ = [
    "CompareAndSetWhileDegraded",
    "ConflictCallback",
    "ConflictLedger",
    "ReplayConflict",
]

log = logging.getLogger("agentmem.routing")

_RECENT: Final = 1000


class CompareAndSetWhileDegraded(BackendUnavailable):
    """A strict failover store refuses compare-and-set while the primary is unavailable.

    Raised instead of taking the write on the fallback, where the version it checks is
    this agent's copy's and a conflict could only be found (and reported) at replay. It
    is a :class:`~agentmem.errors.BackendUnavailable`: retry once the store is healthy.

    ``primary_may_have_applied`` is True when the primary failed during this very call
    (a connection lost mid-request): the write may have landed, so read before retrying.
    """

    def __init__(self, message: str, *, primary_may_have_applied: bool = False) -> None:
        super().__init__(message)
        self.primary_may_have_applied = primary_may_have_applied


@dataclass(frozen=True, slots=True)
class ReplayConflict:
    """A write made on the fallback that was not carried into the primary at replay."""

    ref: Ref
    ours: Record | None
    """This agent's copy (the fallback's) that the write produced, not carried over
    (None for a delete)."""
    theirs: Record | None
    """What the primary holds, and keeps (None when it holds nothing)."""
    expected_version: int | None
    """The version the write's compare-and-set expected (None for a plain put)."""
    written_at: datetime
    """When the write was made and acknowledged, on the failover store's clock."""
    entry_id: str
    """The write's outbox entry."""

    @property
    def our_version(self) -> int:
        return self.ours.version if self.ours is not None else 0

    @property
    def their_version(self) -> int:
        return self.theirs.version if self.theirs is not None else 0


ConflictCallback = Callable[[ReplayConflict], Awaitable[None] | None]


@dataclass(slots=True)
class _Decision:
    carried: bool
    upto: int
    """Entries journalled below this position follow the decision."""
    ours: Record | None
    theirs: Record | None


class ConflictLedger:
    """Decides journalled compare-and-set writes at replay and reports the conflicts."""

    def __init__(self, on_conflict: ConflictCallback | None, next_seq: Callable[[], int]) -> None:
        self._on_conflict = on_conflict
        self._next_seq = next_seq
        self._decisions: dict[Ref, _Decision] = {}
        self.count = 0
        """Conflicts reported since the store opened."""
        self.recent: deque[ReplayConflict] = deque(maxlen=_RECENT)
        """The latest conflicts, oldest first."""
        self.unsettled: set[Ref] = set()
        """Refs whose fallback copy differs from the primary's after a conflict."""

    def start_recovery(self) -> None:
        """Forget the decisions of an earlier recovery."""
        self._decisions.clear()

    def decided(self, ref: Ref) -> bool:
        """True when writes of ``ref`` were decided in this recovery."""
        return ref in self._decisions

    async def replay(
        self,
        entries: Sequence[OutboxEntry],
        *,
        primary: PrimaryCaller,
        fallback: MemoryStore,
    ) -> None:
        """Replay the put entries of records with compare-and-set writes, in order."""
        for entry in entries:
            decision = self._decisions.get(entry.ref)
            if decision is None or entry.seq >= decision.upto:
                decision = await self._decide(entry, primary=primary, fallback=fallback)
                self._decisions[entry.ref] = decision
            if not decision.carried:
                await self.report(
                    ReplayConflict(
                        ref=entry.ref,
                        ours=decision.ours,
                        theirs=decision.theirs,
                        expected_version=entry.expected,
                        written_at=entry.at,
                        entry_id=entry.entry_id,
                    )
                )

    async def _decide(
        self,
        entry: OutboxEntry,
        *,
        primary: PrimaryCaller,
        fallback: MemoryStore,
    ) -> _Decision:
        ref = entry.ref
        # Positions reserved from here on belong to writes made after this decision.
        upto = self._next_seq()
        ours = await fallback.get(ref)
        theirs = await _get(primary, ref)
        if ours is None:
            # Deleted (a delete entry follows) or expired since: nothing to carry.
            return _Decision(True, upto, ours, theirs)
        if (
            theirs is not None
            and theirs.version == ours.version
            and theirs.updated_at == ours.updated_at
            and same_content(theirs, ours)
        ):
            # Already imported (a replay interrupted before its entries were removed).
            return _Decision(True, upto, ours, theirs)
        base_holds = entry.expected is None or entry.expected == (
            theirs.version if theirs is not None else 0
        )
        if base_holds:
            written = await primary(lambda p: p.import_many([ours]))
            if written:
                return _Decision(True, upto, ours, theirs)
            theirs = await _get(primary, ref)  # someone wrote it right now: theirs stays
        self.unsettled.add(ref)
        return _Decision(False, upto, ours, theirs)

    async def report_delete(self, entry: OutboxEntry, theirs: Record) -> None:
        """Report a compare-and-set delete made while degraded that replay did not carry."""
        await self.report(
            ReplayConflict(
                ref=entry.ref,
                ours=None,
                theirs=theirs,
                expected_version=entry.expected,
                written_at=entry.at,
                entry_id=entry.entry_id,
            )
        )

    async def report(self, conflict: ReplayConflict) -> None:
        """Count, keep, log and deliver one conflict to the ``on_conflict`` callback."""
        self.count += 1
        self.recent.append(conflict)
        log.warning(
            "replay conflict: this agent's write of %s (expected v%s, written %s, entry %s) "
            "made while degraded is not carried: the primary holds v%d, not the version it "
            "was based on; the fallback's copy was v%d",
            conflict.ref,
            conflict.expected_version,
            conflict.written_at,
            conflict.entry_id,
            conflict.their_version,
            conflict.our_version,
        )
        if self._on_conflict is None:
            return
        try:
            result = self._on_conflict(conflict)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("on_conflict callback failed for %s", conflict.ref)


async def _get(
    primary: PrimaryCaller,
    ref: Ref,
) -> Record | None:
    return await primary(lambda p: p.get(ref))
