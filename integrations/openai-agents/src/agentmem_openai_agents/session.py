"""An OpenAI Agents SDK ``Session`` over any agentmem store URL.

Layout: one record per conversation item, kind ``oa_item``, in the agentmem namespace of
the session, with a zero-padded sequence number as id (so agentmem's id order is the
conversation's order); and one counter record, kind ``oa_seq``, holding ``next`` (the next
sequence number to hand out) and ``floor`` (items below it were cleared).

Sequence numbers are allocated by compare-and-set on the counter, retried on conflict, so
concurrent writers in any number of processes get disjoint, increasing ranges: no item is
lost or duplicated, and each writer's items keep its order. Every operation touches one
key at a time (a CAS on the counter, a batch of new item records, a CAS delete), so it
holds on Redis Cluster without multi-key transactions across slots.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import unicodedata
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from agents.memory.session_settings import (
    SessionSettings,
    coerce_session_settings,
    resolve_session_limit,
)

from agentmem import ConfigurationError, ConflictError, MemoryStore, Record, Ref, open_store
from agentmem.store import MAX_NAMESPACE_LENGTH

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

__all__ = ["COUNTER_KIND", "ITEM_KIND", "AgentMemSession", "session_namespace"]

logger = logging.getLogger("agentmem.openai_agents")

ITEM_KIND = "oa_item"
COUNTER_KIND = "oa_seq"
_COUNTER_ID = "counter"
_ID_WIDTH = 20
_PROBE = 32
"""Ids read per round trip when walking back from the newest item."""
_PAGE = 1000
_MAX_ATTEMPTS = 1000
"""Compare-and-set attempts before giving up; contention of hundreds of writers on one
session resolves far sooner, so reaching it means something else keeps rewriting it."""


def session_namespace(session_id: str) -> str:
    """The agentmem namespace of a session id: percent-escaped, so any id (empty, with
    control characters, very long) maps to its own namespace."""
    if session_id == "":
        return "%"
    escaped = "".join(
        f"%{ord(ch):02X}"
        if ord(ch) < 0x100 and (ch in "%#" or unicodedata.category(ch) == "Cc")
        else f"%u{ord(ch):04X}"
        if unicodedata.category(ch) == "Cs"
        else ch
        for ch in session_id
    )
    if len(escaped) <= MAX_NAMESPACE_LENGTH:
        return escaped
    return "#" + hashlib.sha256(escaped.encode("utf-8", "surrogatepass")).hexdigest()


def _item_id(seq: int) -> str:
    return f"{seq:0{_ID_WIDTH}d}"


def _seq_of(record: Record) -> int:
    return int(record.ref.id)


async def _backoff(attempt: int) -> None:
    # Full jitter keeps colliding writers from retrying in lockstep.
    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))


class AgentMemSession:
    """Conversation history for the OpenAI Agents SDK, stored in agentmem.

    >>> import asyncio
    >>> async def demo():
    ...     session = AgentMemSession.from_url("chat-1", url="memory://")
    ...     async with session:
    ...         await session.add_items([{"role": "user", "content": "hi"}])
    ...         return await session.get_items()
    >>> asyncio.run(demo())
    [{'role': 'user', 'content': 'hi'}]
    """

    session_id: str
    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        *,
        store: MemoryStore | None = None,
        url: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **open_options: Any,
    ) -> None:
        """Use an open agentmem ``store``, or open ``url`` on first use (and own it)."""
        if (store is None) == (url is None):
            raise ConfigurationError("pass exactly one of store= (an open store) or url=")
        self.session_id = session_id
        self.session_settings = (
            coerce_session_settings(session_settings)
            if session_settings is not None
            else SessionSettings()
        )
        self._store = store
        self._url = url
        self._open_options = open_options
        self._owns_store = store is None
        self._opening: asyncio.Lock | None = None
        self._namespace = session_namespace(session_id)
        self._counter = Ref(COUNTER_KIND, self._namespace, _COUNTER_ID)

    @classmethod
    def from_url(
        cls,
        session_id: str,
        *,
        url: str,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **open_options: Any,
    ) -> AgentMemSession:
        """A session over the store ``url`` names, opened on first use (as RedisSession's
        ``from_url``); ``open_options`` go to :func:`agentmem.open_store`."""
        return cls(session_id, url=url, session_settings=session_settings, **open_options)

    async def _get_store(self) -> MemoryStore:
        if self._store is not None:
            return self._store
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._store is None:
                assert self._url is not None
                store = await open_store(self._url, **self._open_options)
                if not store.capabilities.compare_and_set:
                    await store.close()
                    raise ConfigurationError(
                        f"{store.url} does not support compare-and-set, which a shared"
                        " session needs: use memory://, sqlite:// or redis://"
                    )
                self._store = store
            return self._store

    async def close(self) -> None:
        """Close the store if this session opened it; calling it again does nothing."""
        if self._owns_store and self._store is not None:
            store, self._store = self._store, None
            await store.close()

    async def __aenter__(self) -> Self:
        await self._get_store()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the counter -----------------------------------------------------------------------

    async def _read_counter(self, store: MemoryStore) -> tuple[int, int, int]:
        """(next, floor, version) of the session's counter; (1, 1, 0) before the first write."""
        record = await store.get(self._counter)
        if record is None:
            return 1, 1, 0
        return int(record.body["next"]), int(record.body["floor"]), record.version

    async def _update_counter(
        self, store: MemoryStore, *, grow: int = 0, clear: bool = False
    ) -> tuple[int, int]:
        """Compare-and-set the counter: reserve ``grow`` numbers, or move the floor to
        ``next`` (clear). Returns the (next, floor) it replaced."""
        for attempt in range(_MAX_ATTEMPTS):
            next_seq, floor, version = await self._read_counter(store)
            body = {"next": next_seq + grow, "floor": next_seq if clear else floor}
            try:
                await store.put(Record(ref=self._counter, body=body), expected_version=version)
            except ConflictError:
                await _backoff(attempt)
                continue
            return next_seq, floor
        raise ConflictError(
            f"session {self.session_id!r}: the counter changed on each of {_MAX_ATTEMPTS} attempts"
        )

    # -- the Session protocol --------------------------------------------------------------

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append ``items``, in order, after every item added before this call returned."""
        if not items:
            return
        store = await self._get_store()
        start, _ = await self._update_counter(store, grow=len(items))
        await store.put_many(
            [
                Record(
                    ref=Ref(ITEM_KIND, self._namespace, _item_id(start + n)),
                    body={"item": item},
                )
                for n, item in enumerate(items)
            ]
        )

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The history in order; with ``limit`` (or the settings' limit) only the latest
        ``limit`` items, still oldest first."""
        store = await self._get_store()
        effective = resolve_session_limit(limit, self.session_settings)
        if effective is not None and effective == 0:
            return []
        if effective is None or effective < 0:
            return [r.body["item"] for r in await self._all_items(store)]
        newest = await self._newest(store, effective)
        return [r.body["item"] for r in reversed(newest)]

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item; None when the session is empty."""
        store = await self._get_store()
        for attempt in range(_MAX_ATTEMPTS):
            newest = await self._newest(store, 1)
            if not newest:
                return None
            record = newest[0]
            try:
                if await store.delete(record.ref, expected_version=record.version):
                    item: TResponseInputItem = record.body["item"]
                    return item
            except ConflictError:
                pass
            # Another process popped or cleared it first: look again.
            await _backoff(attempt)
        raise ConflictError(f"session {self.session_id!r}: pop lost {_MAX_ATTEMPTS} races")

    async def clear_session(self) -> None:
        """Remove every item added before this call; items added concurrently after the
        floor moved are kept."""
        store = await self._get_store()
        floor, _ = await self._update_counter(store, clear=True)
        doomed = [
            r.ref for r in await self._all_items(store, floor_override=0) if _seq_of(r) < floor
        ]
        if doomed:
            await store.delete_many(doomed)

    # -- reading ---------------------------------------------------------------------------

    async def _all_items(
        self, store: MemoryStore, *, floor_override: int | None = None
    ) -> list[Record]:
        if floor_override is None:
            _, floor, _ = await self._read_counter(store)
        else:
            floor = floor_override
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await store.scan(ITEM_KIND, self._namespace, limit=_PAGE, cursor=cursor)
            records.extend(r for r in page.records if _seq_of(r) >= floor)
            cursor = page.cursor
            if cursor is None:
                return records

    async def _newest(self, store: MemoryStore, count: int) -> list[Record]:
        """Up to ``count`` live items, newest first, walking back from the counter in
        batches (gaps are popped, cleared or not yet written items)."""
        next_seq, floor, _ = await self._read_counter(store)
        found: list[Record] = []
        top = next_seq - 1
        window = max(_PROBE, count)
        while top >= floor and len(found) < count:
            bottom = max(floor, top - window + 1)
            seqs = list(range(top, bottom - 1, -1))
            records = await store.get_many(
                [Ref(ITEM_KIND, self._namespace, _item_id(s)) for s in seqs]
            )
            found.extend(r for r in records if r is not None)
            top = bottom - 1
        return found[:count]
