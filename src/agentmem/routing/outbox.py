"""The durable outbox: writes the primary missed, journalled as records in the fallback.

Each entry is a record of the reserved kind :data:`OUTBOX_KIND` in the failover store's
journal namespace, so the outbox lives wherever the fallback lives (a SQLite file
survives a process restart) and works on any store. An entry names a ref and what was
done to it (put, delete or increment). A put does not copy the record: replay reads the
fallback's current copy, which is the newest state this agent knows; it notes the
compare-and-set version the write expected, so a conflict at replay can be reported for
each write. An increment carries its delta and op id: replay sends the delta, never the
state, so increments of many agents add up exactly.

Entry ids are ``<sequence, 16 digits>.<instance token>``: scan order (by id) is journal
order, and two stores sharing a fallback never overwrite each other's entries.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from agentmem.errors import CorruptRecord
from agentmem.store import MemoryStore, Record, Ref

__all__ = ["OUTBOX_KIND", "Outbox", "OutboxEntry"]

log = logging.getLogger("agentmem.routing")

OUTBOX_KIND: Final = "agentmem_outbox"
_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One journalled operation the primary has not seen yet."""

    op: Literal["put", "delete", "increment"]
    ref: Ref
    at: datetime
    """When the write was made (the failover store's clock)."""
    version: int = 0
    """For a delete: the version removed (0 when the fallback did not hold the record)."""
    entry_id: str = ""
    expected: int | None = None
    """For a put or delete: the version a compare-and-set expected (None if plain)."""
    delta: dict[str, Any] | None = None
    """For an increment: :meth:`agentmem.increments.Increment.to_body` (op id included)."""

    @property
    def seq(self) -> int:
        """The journal position of the entry (0 when its id has none)."""
        try:
            return int(self.entry_id.split(".", 1)[0])
        except ValueError:
            return 0

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "op": self.op,
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "id": self.ref.id,
            "at": self.at,
            "version": self.version,
        }
        # Only when set, so entries of plain writes read the same as before.
        if self.expected is not None:
            body["expected"] = self.expected
        if self.delta is not None:
            body["delta"] = self.delta
        return body

    @classmethod
    def from_record(cls, record: Record) -> OutboxEntry:
        body = record.body
        try:
            op = body["op"]
            if op not in ("put", "delete", "increment"):
                raise ValueError(f"unknown op {op!r}")
            at = body["at"]
            version = body["version"]
            if not isinstance(at, datetime) or not isinstance(version, int):
                raise TypeError("at must be a datetime and version an int")
            expected = body.get("expected")
            if expected is not None and not isinstance(expected, int):
                raise TypeError("expected must be an int")
            delta = body.get("delta")
            if op == "increment" and not isinstance(delta, dict):
                raise TypeError("an increment entry needs its delta")
            ref = Ref(body["kind"], body["namespace"], body["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptRecord(f"outbox entry {record.ref.id!r} is malformed: {exc}") from exc
        return cls(
            op=op,
            ref=ref,
            at=at,
            version=version,
            entry_id=record.ref.id,
            expected=expected,
            delta=delta if isinstance(delta, dict) else None,
        )


class Outbox:
    """The journal of one failover store, kept in ``store`` under ``namespace``."""

    def __init__(self, store: MemoryStore, namespace: str) -> None:
        self._store = store
        self._namespace = namespace
        self._token = secrets.token_hex(4)
        self._next_seq = 1
        self._pending = 0

    @property
    def pending(self) -> int:
        """Entries written and not yet removed (as this process counts them)."""
        return self._pending

    async def load(self) -> int:
        """Count the entries left by earlier runs and continue their sequence."""
        cursor: str | None = None
        count = 0
        last = ""
        while True:
            page = await self._store.scan(OUTBOX_KIND, self._namespace, limit=_PAGE, cursor=cursor)
            count += len(page.records)
            if page.records:
                last = page.records[-1].ref.id
            if page.cursor is None:
                break
            cursor = page.cursor
        if last:
            try:
                self._next_seq = max(self._next_seq, int(last.split(".", 1)[0]) + 1)
            except ValueError:
                log.warning("outbox entry id %r is not <sequence>.<token>; ignoring it", last)
        self._pending = count
        return count

    @property
    def next_seq(self) -> int:
        """The journal position the next entry will get: every entry reserved so far is below."""
        return self._next_seq

    def new_ids(self, n: int) -> list[str]:
        """Reserve ``n`` entry ids in journal order."""
        first = self._next_seq
        self._next_seq += n
        return [f"{seq:016d}.{self._token}" for seq in range(first, first + n)]

    async def append(self, ids: Sequence[str], entries: Sequence[OutboxEntry]) -> None:
        """Write entries under the reserved ids, in one batch."""
        records = [
            Record(ref=Ref(OUTBOX_KIND, self._namespace, entry_id), body=entry.to_body())
            for entry_id, entry in zip(ids, entries, strict=True)
        ]
        await self._store.put_many(records)
        self._pending += len(records)

    async def put_refs(self) -> set[Ref]:
        """The refs of every journalled put (a full scan: used once, at start)."""
        refs: set[Ref] = set()
        cursor: str | None = None
        while True:
            page = await self._store.scan(OUTBOX_KIND, self._namespace, limit=_PAGE, cursor=cursor)
            refs.update(e.ref for e in map(OutboxEntry.from_record, page.records) if e.op == "put")
            if page.cursor is None:
                return refs
            cursor = page.cursor

    async def read(self, limit: int) -> list[OutboxEntry]:
        """The oldest ``limit`` entries, in journal order."""
        page = await self._store.scan(OUTBOX_KIND, self._namespace, limit=limit)
        return [OutboxEntry.from_record(record) for record in page.records]

    async def remove(self, ids: Sequence[str]) -> None:
        """Drop entries that have been replayed (or whose write never happened)."""
        if not ids:
            return
        removed = await self._store.delete_many([Ref(OUTBOX_KIND, self._namespace, i) for i in ids])
        self._pending = max(0, self._pending - removed)
