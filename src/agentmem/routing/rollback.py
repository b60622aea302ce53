"""Noticing a primary that came back *in the past* (restored from an older snapshot).

An RDB-only Redis killed after a snapshot restarts with that snapshot: its epoch markers
are there (they are older than the snapshot), but the writes made since are gone and
records deleted since are back. :class:`AckWindow` remembers the last writes the primary
acknowledged to this store (ref and version); a primary that now holds one of them at a
lower version, or not at all (without a tombstone and before its expiry), went back in
time, and the failover store refills it from the fallback, which has them all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from agentmem.routing.replay import PrimaryCaller
from agentmem.routing.tombstones import tombstones_of
from agentmem.store import Record, Ref

__all__ = ["AckWindow"]

_SIZE: Final = 64


class AckWindow:
    """The last ``size`` writes the primary acknowledged, newest last."""

    def __init__(self, size: int = _SIZE) -> None:
        self._size = size
        self._acked: OrderedDict[Ref, Record] = OrderedDict()

    def note(self, records: Iterable[Record]) -> None:
        """Remember acknowledged writes (the primary's copies, with their versions)."""
        for record in records:
            self._acked.pop(record.ref, None)
            self._acked[record.ref] = record
        while len(self._acked) > self._size:
            self._acked.popitem(last=False)

    def forget(self, refs: Sequence[Ref]) -> None:
        """Deleted records are absent for a good reason."""
        for ref in refs:
            self._acked.pop(ref, None)

    async def evidence(self, primary: PrimaryCaller, now: datetime) -> str | None:
        """Why the primary looks rolled back (a readable reason), or None if it does not."""
        acked = [r for r in self._acked.values() if r.expires_at is None or r.expires_at > now]
        if not acked:
            return None
        refs = [r.ref for r in acked]
        held = await primary(lambda p: p.get_many(refs))
        missing = [r for r, h in zip(acked, held, strict=True) if h is None]
        tombs = await primary(lambda p: tombstones_of(p, [r.ref for r in missing]))
        for mine, theirs in zip(acked, held, strict=True):
            if theirs is not None and theirs.version < mine.version:
                return f"it holds {mine.ref} at v{theirs.version}, acknowledged at v{mine.version}"
            if theirs is None and mine.ref not in tombs:
                return f"it lost {mine.ref} v{mine.version}, acknowledged and never deleted"
        return None
