"""A LangGraph ``BaseStore`` over any agentmem store URL.

Built the way LangGraph's own async stores are: the async batch (``abatch``) is the core,
and the synchronous methods submit it to the event loop the agentmem store lives on (a
background thread's loop for :meth:`AgentMemStore.from_conn_string`, the caller's loop for
:meth:`AsyncAgentMemStore.from_conn_string`).

Layout in agentmem: every item is one record of kind ``lg_item`` in the agentmem namespace
that :func:`~agentmem_langgraph.names.encode_namespace` makes of its LangGraph namespace
(exact: no two tuples share one). Because the store protocol has no namespace listing, each
namespace written to is also registered as one record of kind ``lg_ns`` in the namespace
``namespaces``; listings scan that registry and keep the namespaces that still hold a live
item (``count``), so a namespace emptied by deletes or expiry is not listed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from agentmem import ConflictError, MemoryStore, Record, Ref, open_store
from agentmem.store import Clock, utcnow
from agentmem_langgraph.filters import matches_condition, matches_filter
from agentmem_langgraph.indexing import Indexing, cosine, fuse
from agentmem_langgraph.names import encode_key, encode_namespace

__all__ = ["ITEM_KIND", "NAMESPACE_KIND", "AgentMemStore", "AsyncAgentMemStore"]

logger = logging.getLogger("agentmem.langgraph")

ITEM_KIND = "lg_item"
NAMESPACE_KIND = "lg_ns"
REGISTRY_NAMESPACE = "namespaces"
_PAGE = 1000
_SEARCH_CAP = 10_000
"""The most keyword hits read per namespace for one ranked search (agentmem's limit)."""
_REGISTER_EVERY = 60.0
"""Seconds a process trusts its own registration of a namespace before writing it again."""
_SWEEP_GRACE = timedelta(minutes=10)
"""A registry entry is removed only when its namespace is empty and it has not been written
for this long: far longer than _REGISTER_EVERY, so a process that trusts its cached
registration never writes into a namespace whose entry a sweep is removing."""


def _check_labels(namespace: tuple[str, ...]) -> None:
    # BaseStore's methods check labels before batching; ops given to batch() directly do
    # not pass through them, and a bad label must fail the same way on both paths.
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(
                f"namespace labels must be strings, got {type(label).__name__} in {namespace}"
            )
        if not label:
            raise InvalidNamespaceError(f"namespace labels cannot be empty strings: {namespace}")
        if "." in label:
            raise InvalidNamespaceError(f"namespace labels cannot contain periods: {namespace}")


def _check_op(op: Op) -> None:
    if isinstance(op, GetOp | PutOp):
        _check_labels(op.namespace)
        if isinstance(op, PutOp) and not op.namespace:
            raise InvalidNamespaceError("namespace cannot be empty")
    elif isinstance(op, SearchOp):
        _check_labels(op.namespace_prefix)
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            _check_labels(tuple(label for label in condition.path if label != "*"))
    else:
        raise ValueError(f"unknown LangGraph store operation {type(op).__name__}")


def _item_ref(namespace: tuple[str, ...], key: str) -> Ref:
    return Ref(ITEM_KIND, encode_namespace(namespace), encode_key(key))


def _as_item(record: Record) -> Item:
    body = record.body
    return Item(
        value=body["value"],
        key=body["key"],
        namespace=tuple(body["ns"]),
        created_at=cast(datetime, record.created_at),
        updated_at=body.get("ua") or cast(datetime, record.updated_at),
    )


def _as_search_item(record: Record, score: float | None) -> SearchItem:
    item = _as_item(record)
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=score,
    )


class AgentMemStore(BaseStore):
    """LangGraph long-term memory on agentmem: get, put, delete, filtered and ranked search,
    namespace listing, TTL, on memory://, sqlite://, redis://, redis+cluster:// or any
    plugin's URL. Namespaces match exactly.

    Open it with :meth:`from_conn_string` (synchronous code, or a graph run with
    ``invoke``) or :meth:`AsyncAgentMemStore.from_conn_string` (async code)::

        with AgentMemStore.from_conn_string("sqlite:///tmp/mem.db") as store:
            graph = builder.compile(store=store)
    """

    supports_ttl = True

    def __init__(
        self,
        store: MemoryStore,
        *,
        loop: asyncio.AbstractEventLoop,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """Wrap an open agentmem ``store`` that lives on ``loop``."""
        self.store = store
        self._loop = loop
        self.index_config = index
        self.ttl_config = ttl
        self._indexing = Indexing.from_config(index)
        self._clock = clock
        self._registered: dict[str, float] = {}
        self._sweeper: concurrent.futures.Future[None] | None = None
        self._stop_sweeper: asyncio.Event | None = None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        **options: Any,
    ) -> Iterator[AgentMemStore]:
        """Open the store a URL names on a background event loop, for synchronous use.

        ``options`` go to :func:`agentmem.open_store` (e.g. ``agent_id``). The sweeper of
        ``ttl["sweep_interval_minutes"]`` runs while the context is open.
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="agentmem-langgraph", daemon=True)
        thread.start()
        try:
            opened = asyncio.run_coroutine_threadsafe(open_store(conn_string, **options), loop)
            store = cls(opened.result(), loop=loop, index=index, ttl=ttl)
            try:
                if ttl and ttl.get("sweep_interval_minutes"):
                    store.start_ttl_sweeper()
                yield store
            finally:
                store.stop_ttl_sweeper()
                asyncio.run_coroutine_threadsafe(store.store.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    # -- the batch core --------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` on the store's loop and wait; not callable from that loop itself."""
        ops = list(ops)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise asyncio.InvalidStateError(
                "a synchronous store method was called from the store's own event loop, which"
                " would deadlock: use the async methods (aget, aput, asearch, ...) there"
            )
        return asyncio.run_coroutine_threadsafe(self._run(ops), self._loop).result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` (reads first, then writes, as LangGraph's stores do)."""
        ops = list(ops)
        if asyncio.get_running_loop() is self._loop:
            return await self._run(ops)
        # The agentmem store's connections belong to its own loop: hand the batch over.
        future = asyncio.run_coroutine_threadsafe(self._run(ops), self._loop)
        return await asyncio.wrap_future(future)

    async def _run(self, ops: list[Op]) -> list[Result]:
        for op in ops:
            _check_op(op)
        results: list[Result] = [None] * len(ops)
        to_refresh: dict[Ref, Record] = {}
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
        if gets:
            records = await self.store.get_many([_item_ref(op.namespace, op.key) for _, op in gets])
            for (i, op), record in zip(gets, records, strict=True):
                if record is not None:
                    results[i] = _as_item(record)
                    if op.refresh_ttl:
                        to_refresh[record.ref] = record
        searches = [(i, op) for i, op in enumerate(ops) if isinstance(op, SearchOp)]
        if searches:
            found = await asyncio.gather(*(self._search(op) for _, op in searches))
            for (i, op), hits in zip(searches, found, strict=True):
                results[i] = [_as_search_item(record, score) for record, score in hits]
                if op.refresh_ttl:
                    to_refresh.update((record.ref, record) for record, _ in hits)
        listings = [(i, op) for i, op in enumerate(ops) if isinstance(op, ListNamespacesOp)]
        if listings:
            live = await self._live_namespaces()
            for i, op in listings:
                results[i] = _select_namespaces(live, op)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                # Within one batch the last write to a key wins, as in every LangGraph store.
                puts.pop((op.namespace, op.key), None)
                puts[(op.namespace, op.key)] = op
        if to_refresh:
            await self._refresh([r for r in to_refresh.values() if (op_key(r) not in puts)])
        if puts:
            await self._write(list(puts.values()))
        return results

    # -- reads -----------------------------------------------------------------------------

    async def _scan_all(self, kind: str, namespace: str) -> list[Record]:
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await self.store.scan(kind, namespace, limit=_PAGE, cursor=cursor)
            records.extend(page.records)
            cursor = page.cursor
            if cursor is None:
                return records

    async def _registry(self) -> list[Record]:
        return await self._scan_all(NAMESPACE_KIND, REGISTRY_NAMESPACE)

    async def _live_namespaces(self) -> list[tuple[str, ...]]:
        entries = await self._registry()
        counts = await asyncio.gather(
            *(self.store.count(ITEM_KIND, entry.ref.id) for entry in entries)
        )
        return [tuple(e.body["ns"]) for e, n in zip(entries, counts, strict=True) if n > 0]

    async def _search(self, op: SearchOp) -> list[tuple[Record, float | None]]:
        prefix = tuple(op.namespace_prefix)
        namespaces = sorted(
            entry.ref.id
            for entry in await self._registry()
            if tuple(entry.body["ns"])[: len(prefix)] == prefix
        )
        offset, limit = max(op.offset, 0), max(op.limit, 0)
        if not op.query:
            found = await self._browse(namespaces, op.filter, offset + limit)
            return [(record, None) for record in found[offset : offset + limit]]
        if self._indexing.embeddings is None:
            hit_lists = await asyncio.gather(
                *(
                    self.store.search(ITEM_KIND, ns, op.query, limit=_SEARCH_CAP)
                    for ns in namespaces
                )
            )
            keyword = sorted(
                (
                    hit
                    for hits in hit_lists
                    for hit in hits
                    if matches_filter(hit.record.body["value"], op.filter)
                ),
                key=lambda hit: (-hit.score, hit.ref),
            )
            return [(hit.record, hit.score) for hit in keyword[offset : offset + limit]]
        # Hybrid: every item in scope has a vector rank, so every one is read.
        scanned = await asyncio.gather(*(self._scan_all(ITEM_KIND, ns) for ns in namespaces))
        candidates = {
            record.ref: record
            for records in scanned
            for record in records
            if matches_filter(record.body["value"], op.filter)
        }
        ranked = await self._rank(op.query, namespaces, candidates)
        return [(candidates[ref], score) for ref, score in ranked[offset : offset + limit]]

    async def _browse(
        self, namespaces: Sequence[str], filter: dict[str, Any] | None, wanted: int
    ) -> list[Record]:
        """The first ``wanted`` items passing ``filter``, in (namespace, key) order: a
        stable order for paging, read only as far as the page needs."""
        found: list[Record] = []
        for namespace in namespaces:
            cursor: str | None = None
            while len(found) < wanted:
                size = min(_PAGE, max(50, 2 * (wanted - len(found))))
                page = await self.store.scan(ITEM_KIND, namespace, limit=size, cursor=cursor)
                found.extend(r for r in page.records if matches_filter(r.body["value"], filter))
                cursor = page.cursor
                if cursor is None:
                    break
            if len(found) >= wanted:
                break
        return found[:wanted]

    async def _rank(
        self, query: str, namespaces: Sequence[str], candidates: dict[Ref, Record]
    ) -> list[tuple[Ref, float]]:
        """Fuse the keyword rank and the vector rank of ``candidates`` (reciprocal rank)."""
        embeddings = self._indexing.embeddings
        assert embeddings is not None
        hit_lists = await asyncio.gather(
            *(self.store.search(ITEM_KIND, ns, query, limit=_SEARCH_CAP) for ns in namespaces)
        )
        keyword = sorted(
            (hit for hits in hit_lists for hit in hits if hit.ref in candidates),
            key=lambda hit: (-hit.score, hit.ref),
        )
        query_vector = await embeddings.aembed_query(query)
        similarity = {
            ref: max(cosine(query_vector, v) for v in record.body["vec"])
            for ref, record in candidates.items()
            if record.body.get("vec")
        }
        by_vector = sorted(similarity, key=lambda ref: (-similarity[ref], ref))
        names = {ref: f"{ref.namespace}\x00{ref.id}" for ref in candidates}
        fused = fuse([[names[h.ref] for h in keyword], [names[ref] for ref in by_vector]])
        scored = [(ref, fused[names[ref]]) for ref in candidates if names[ref] in fused]
        return sorted(scored, key=lambda pair: (-pair[1], pair[0]))

    # -- writes ----------------------------------------------------------------------------

    def _expiry(self, minutes: float | None, now: datetime) -> datetime | None:
        return None if minutes is None else now + timedelta(minutes=minutes)

    async def _write(self, puts: list[PutOp]) -> None:
        now = self._clock()
        deletes = [_item_ref(op.namespace, op.key) for op in puts if op.value is None]
        upserts = [op for op in puts if op.value is not None]
        if deletes:
            await self.store.delete_many(deletes)
        if not upserts:
            return
        texts = [self._indexing.texts(op.value or {}, op.index) for op in upserts]
        vectors: list[list[list[float]]] = [[] for _ in upserts]
        embeddings = self._indexing.embeddings
        flat = [text for item_texts in texts for text in item_texts]
        if embeddings is not None and flat:
            embedded = await embeddings.aembed_documents(flat)
            at = 0
            for n, item_texts in enumerate(texts):
                vectors[n] = [list(v) for v in embedded[at : at + len(item_texts)]]
                at += len(item_texts)
        records = []
        for op, item_texts, item_vectors in zip(upserts, texts, vectors, strict=True):
            body: dict[str, Any] = {
                "ns": list(op.namespace),
                "key": op.key,
                "value": dict(op.value or {}),
                "ttl": op.ttl,
                "ua": now,
            }
            if item_vectors:
                body["vec"] = item_vectors
            records.append(
                Record(
                    ref=_item_ref(op.namespace, op.key),
                    body=body,
                    text=" ".join(item_texts),
                    expires_at=self._expiry(op.ttl, now),
                )
            )
        await self.store.put_many(records)
        # Registered after the items, so a sweep that finds a namespace empty either runs
        # before the item exists (and this write re-registers it) or sees the item.
        await self._register({op.namespace for op in upserts})

    async def _register(self, namespaces: set[tuple[str, ...]]) -> None:
        now = time.monotonic()
        due = [
            ns
            for ns in namespaces
            if now - self._registered.get(encode_namespace(ns), -_REGISTER_EVERY) >= _REGISTER_EVERY
        ]
        if not due:
            return
        await self.store.put_many(
            [
                Record(
                    ref=Ref(NAMESPACE_KIND, REGISTRY_NAMESPACE, encode_namespace(ns)),
                    body={"ns": list(ns)},
                )
                for ns in due
            ]
        )
        for ns in due:
            self._registered[encode_namespace(ns)] = now

    async def _refresh(self, records: list[Record]) -> None:
        """Push back the expiry of items read with ``refresh_ttl`` (compare-and-set, so a
        newer write made meanwhile is never overwritten by the refresh)."""
        now = self._clock()

        async def refresh(record: Record) -> None:
            minutes = record.body.get("ttl")
            if minutes is None:
                return
            renewed = Record(
                ref=record.ref,
                body=record.body,
                text=record.text,
                tags=record.tags,
                expires_at=self._expiry(minutes, now),
            )
            try:
                await self.store.put(renewed, expected_version=record.version)
            except ConflictError:
                logger.debug("not refreshing %s: written meanwhile", record.ref)

        await asyncio.gather(*(refresh(r) for r in records))

    # -- TTL sweep -------------------------------------------------------------------------

    async def sweep_ttl(self) -> int:
        """Remove registry entries of namespaces left empty; return how many were removed.

        Expired items themselves are reclaimed by the backend (native expiry on Redis, the
        SQLite sweep) and are never returned, listed or counted once expired.
        """
        if asyncio.get_running_loop() is not self._loop:
            future = asyncio.run_coroutine_threadsafe(self.sweep_ttl(), self._loop)
            return await asyncio.wrap_future(future)
        cutoff = self._clock() - _SWEEP_GRACE
        removed = 0
        for entry in await self._registry():
            if entry.updated_at is not None and entry.updated_at > cutoff:
                continue
            if await self.store.count(ITEM_KIND, entry.ref.id):
                continue
            try:
                if await self.store.delete(entry.ref, expected_version=entry.version):
                    removed += 1
            except ConflictError:
                continue  # re-registered meanwhile: the namespace is in use again
        return removed

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep every ``sweep_interval_minutes`` (default: the TTL config's, else 5)."""
        if self._sweeper is not None and not self._sweeper.done():
            return
        configured = (self.ttl_config or {}).get("sweep_interval_minutes")
        interval = float(sweep_interval_minutes or configured or 5) * 60

        async def loop() -> None:
            self._stop_sweeper = stop = asyncio.Event()
            while True:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                    return
                except TimeoutError:
                    pass
                try:
                    removed = await self.sweep_ttl()
                    if removed:
                        logger.info("TTL sweep removed %d empty namespaces", removed)
                except Exception:
                    logger.exception("TTL sweep failed; the next one will retry")

        self._sweeper = asyncio.run_coroutine_threadsafe(loop(), self._loop)

    def stop_ttl_sweeper(self) -> None:
        """Stop the sweeper started by :meth:`start_ttl_sweeper` (no-op when none runs)."""
        if self._sweeper is None:
            return
        sweeper, self._sweeper = self._sweeper, None
        stop = self._stop_sweeper
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        else:
            sweeper.cancel()
        try:
            sweeper.result(timeout=10)
        except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
            sweeper.cancel()


def op_key(record: Record) -> tuple[tuple[str, ...], str]:
    """The LangGraph (namespace, key) a stored item record belongs to."""
    return tuple(record.body["ns"]), record.body["key"]


def _select_namespaces(live: list[tuple[str, ...]], op: ListNamespacesOp) -> list[tuple[str, ...]]:
    namespaces = [
        ns for ns in live if all(matches_condition(c, ns) for c in op.match_conditions or ())
    ]
    if op.max_depth is not None:
        namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
    else:
        namespaces = sorted(set(namespaces))
    return namespaces[op.offset : op.offset + op.limit]


class AsyncAgentMemStore(AgentMemStore):
    """The same store opened on the caller's event loop, for async code (``ainvoke``).

    Synchronous methods still work from other threads (a graph's sync nodes run in a
    thread pool), as in LangGraph's own async stores.
    """

    _sweeper_task: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        **options: Any,
    ) -> AsyncIterator[AsyncAgentMemStore]:
        """Open the store a URL names on the running loop; close it on exit."""
        loop = asyncio.get_running_loop()
        async with await open_store(conn_string, **options) as opened:
            store = cls(opened, loop=loop, index=index, ttl=ttl)
            if ttl and ttl.get("sweep_interval_minutes"):
                store._sweeper_task = loop.create_task(store._sweep_forever())
            try:
                yield store
            finally:
                task = store._sweeper_task
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        interval = float((self.ttl_config or {}).get("sweep_interval_minutes") or 5) * 60
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_ttl()
            except Exception:
                logger.exception("TTL sweep failed; the next one will retry")
