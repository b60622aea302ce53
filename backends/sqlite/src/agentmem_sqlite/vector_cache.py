"""A searching process's copy of a collection's vectors, kept in step with ``vectors``.

Triggers number every change to the ``vectors`` table in ``vector_log`` (schema version
5), in the writing transaction. Before a search, :meth:`CachedVectors.catch_up` reads the
last number given out: unchanged since its last search, nothing to read; moved forward
with the log still covering the gap, it reads only the changed rows; otherwise (first
search, trimmed log, a file replaced by an older copy) it reloads the collection's rows.
The number is read first, so a write that lands during the catch-up is read again next
time rather than missed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from agentmem.vector_index import VectorIndex

__all__ = ["CachedVectors"]

_CHUNK: Final = 500
"""Row ids one ``IN (...)`` query asks for (below SQLite's bound-parameter limit)."""

_LAST: Final = (
    "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'), "
    "(SELECT min(seq) FROM vector_log)"
)
# A row whose codes are not a blob is corrupt: left out here, as the uncached search does.
_ROWS: Final = (
    "SELECT v.rid, r.id, v.codes FROM vectors AS v JOIN records AS r ON r.rid = v.rid "
    "WHERE v.scope = ? AND typeof(v.codes) = 'blob'"
)
_CHANGED: Final = "SELECT DISTINCT rid FROM vector_log WHERE seq > ? AND scope = ?"


@dataclass
class CachedVectors:
    """One collection's vectors as held by this process, by the record's row id."""

    index: VectorIndex[int] = field(default_factory=VectorIndex)
    ids: dict[int, str] = field(default_factory=dict)
    seen: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def catch_up(self, conn: Any, scope: int) -> None:
        """Bring the copy up to date on the reader connection (call with ``lock`` held)."""
        ((last, first),) = await conn.execute_fetchall(_LAST)
        last = int(last or 0)
        if last == self.seen:
            return
        if self.seen is None or last < self.seen or (first is not None and first > self.seen + 1):
            rows = await conn.execute_fetchall(_ROWS, (scope,))
            self.index.clear()
            self.index.put_many((int(rid), bytes(codes)) for rid, _, codes in rows)
            self.ids = {int(rid): str(rid_id) for rid, rid_id, _ in rows}
        else:
            changed = [
                int(row[0]) for row in await conn.execute_fetchall(_CHANGED, (self.seen, scope))
            ]
            for start in range(0, len(changed), _CHUNK):
                chunk = changed[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = await conn.execute_fetchall(
                    f"{_ROWS} AND v.rid IN ({marks})",
                    (scope, *chunk),
                )
                present = {int(rid): (str(rid_id), bytes(codes)) for rid, rid_id, codes in rows}
                for rid in chunk:
                    if rid in present:
                        self.ids[rid], codes = present[rid]
                        self.index.put(rid, codes)
                    else:
                        self.ids.pop(rid, None)
                        self.index.remove(rid)
        self.seen = last
