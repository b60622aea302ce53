"""The in-process ``memory://`` store: the reference implementation of the contract.

``memory://`` opens a private store; ``memory://NAME`` opens a store shared by every
``memory://NAME`` in the same process (handy for several agents in one test). Nothing
survives the process. Records are kept encoded, so size limits and plain-data checks
behave exactly as on the persistent backends, and callers can never mutate stored data.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from agentmem import text as textmod
from agentmem import vector_index
from agentmem.base import StoreBase
from agentmem.changes import ChangeStream
from agentmem.codec import Codec
from agentmem.errors import ConfigurationError, InvalidInput
from agentmem.hookspecs import BackendRegistrar, hookimpl
from agentmem.increments import OP_MEMORY, make_increment
from agentmem.nearest import check_query, rank_codes
from agentmem.store import (
    Capabilities,
    Change,
    Clock,
    Hit,
    Page,
    Record,
    Ref,
    check_expected_version,
    check_kind_namespace,
    check_limit,
    check_refs,
    check_tags,
    check_version,
)
from agentmem.vector_index import VectorIndex
from agentmem.vectors import Embedding

__all__ = ["InMemoryStore"]


@dataclass
class _Collection:
    """The records of one (kind, namespace) and their inverted index."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Record] = field(default_factory=dict)
    terms: dict[str, Counter[str]] = field(default_factory=dict)
    postings: dict[str, set[str]] = field(default_factory=dict)
    vectors: dict[str, Embedding] = field(default_factory=dict)
    """Embeddings by id, so vector search scores without decoding records."""
    index: VectorIndex[str] | None = None
    """The embeddings as unit float32 rows, built at the first vector search (with numpy)
    and kept in step by :meth:`add` and :meth:`remove` after that."""
    total_len: int = 0
    ops: dict[str, dict[str, None]] = field(default_factory=dict)
    """The last op ids applied to each record by :meth:`InMemoryStore.increment`."""

    def remove(self, rid: str) -> None:
        self.ops.pop(rid, None)
        self.blobs.pop(rid, None)
        self.meta.pop(rid, None)
        self.vectors.pop(rid, None)
        if self.index is not None:
            self.index.remove(rid)
        old = self.terms.pop(rid, None)
        if old is not None:
            self.total_len -= sum(old.values())
            for term in old:
                ids = self.postings[term]
                ids.discard(rid)
                if not ids:
                    del self.postings[term]

    def add(self, record: Record, blob: bytes) -> None:
        rid = record.ref.id
        ops = self.ops.pop(rid, None)
        self.remove(rid)
        if ops is not None:
            self.ops[rid] = ops  # an update keeps the record's applied op ids
        self.blobs[rid] = blob
        # Keep a body-less copy for filtering and scoring without decoding.
        self.meta[rid] = Record(
            ref=record.ref,
            tags=record.tags,
            expires_at=record.expires_at,
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
        if record.embedding is not None:
            self.vectors[rid] = record.embedding
            if self.index is not None:
                self.index.put(rid, record.embedding.codes)
        terms = textmod.document_terms(record.text, record.tags)
        self.terms[rid] = terms
        self.total_len += sum(terms.values())
        for term in terms:
            self.postings.setdefault(term, set()).add(rid)


class _State:
    """Everything one named memory store holds; shared by stores opened on the same name."""

    def __init__(self, retention: int) -> None:
        self.collections: dict[tuple[str, str], _Collection] = {}
        self.changes: deque[Change] = deque(maxlen=retention)
        self.seq = itertools.count(1)
        self.last_seq = 0

    def collection(self, kind: str, namespace: str) -> _Collection:
        return self.collections.setdefault((kind, namespace), _Collection())


_named_states: dict[str, _State] = {}


class InMemoryStore(StoreBase):
    """A complete store in one process's memory.

    >>> import asyncio
    >>> from agentmem.store import Record, Ref
    >>> async def demo():
    ...     async with InMemoryStore() as store:
    ...         await store.put(Record(ref=Ref("skill", "ns", "a"), text="deploy the app"))
    ...         return [h.ref.id for h in await store.search("skill", "ns", "deploy")]
    >>> asyncio.run(demo())
    ['a']
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        origin: str | None = None,
        clock: Clock | None = None,
        codec: Codec | None = None,
        retention: int = 10_000,
    ) -> None:
        super().__init__(origin=origin, clock=clock)
        self._name = name
        if name is None:
            self._state = _State(retention)
        else:
            self._state = _named_states.setdefault(name, _State(retention))
        self._codec = codec or Codec()
        self._capabilities = Capabilities(
            cross_process=False, durable=False, increment=True, vector_search=True
        )

    @property
    def url(self) -> str:
        return f"memory://{self._name or ''}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- helpers ------------------------------------------------------------------------

    def _live(self, ref: Ref, now: datetime) -> Record | None:
        coll = self._state.collections.get((ref.kind, ref.namespace))
        if coll is None:
            return None
        meta = coll.meta.get(ref.id)
        if meta is None:
            return None
        if meta.is_expired(now):
            coll.remove(ref.id)  # reclaim on touch; expiry emits no change
            return None
        return meta

    def _decode(self, ref: Ref) -> Record:
        return self._codec.decode(self._state.collections[(ref.kind, ref.namespace)].blobs[ref.id])

    def _emit(self, op: Literal["put", "delete"], ref: Ref, version: int, now: datetime) -> None:
        seq = next(self._state.seq)
        self._state.last_seq = seq
        self._state.changes.append(Change(op, ref, version, self.origin, now, str(seq)))

    def _prepare(self, record: Record, now: datetime, expected: int | None) -> tuple[Record, bytes]:
        if not isinstance(record, Record):
            raise InvalidInput(f"expected a Record, got {type(record).__name__}")
        current = self._live(record.ref, now)
        actual = current.version if current else 0
        check_version(record.ref, expected, actual)
        stored = record.stored(
            version=actual + 1,
            created_at=current.created_at if current and current.created_at else now,
            updated_at=now,
        )
        return stored, self._codec.encode(stored)

    def _apply(self, stored: Record, blob: bytes, now: datetime) -> None:
        ref = stored.ref
        self._state.collection(ref.kind, ref.namespace).add(stored, blob)
        self._emit("put", ref, stored.version, now)

    # -- the contract -------------------------------------------------------------------

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        self._check_open()
        expected = check_expected_version(expected_version)
        now = self.now()
        stored, blob = self._prepare(record, now, expected)
        self._apply(stored, blob, now)
        return stored

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        self._check_open()
        now = self.now()
        # Encode everything before applying anything: a bad record leaves no partial batch.
        latest: dict[Ref, Record] = {}
        staged: list[tuple[Record, bytes]] = []
        for record in records:
            if not isinstance(record, Record):
                raise InvalidInput(f"expected a Record, got {type(record).__name__}")
            prior = latest.get(record.ref)
            if prior is None:
                stored, blob = self._prepare(record, now, None)
            else:
                stored = record.stored(
                    version=prior.version + 1,
                    created_at=prior.created_at or now,
                    updated_at=now,
                )
                blob = self._codec.encode(stored)
            latest[record.ref] = stored
            staged.append((stored, blob))
        for stored, blob in staged:
            self._apply(stored, blob, now)
        return [stored for stored, _ in staged]

    async def get(self, ref: Ref) -> Record | None:
        self._check_open()
        check_refs([ref])
        return self._decode(ref) if self._live(ref, self.now()) else None

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        self._check_open()
        check_refs(refs)
        now = self.now()
        return [self._decode(ref) if self._live(ref, now) else None for ref in refs]

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        self._check_open()
        check_refs([ref])
        expected = check_expected_version(expected_version)
        now = self.now()
        current = self._live(ref, now)
        actual = current.version if current else 0
        check_version(ref, expected, actual)
        if current is None:
            return False
        self._state.collections[(ref.kind, ref.namespace)].remove(ref.id)
        self._emit("delete", ref, actual, now)
        return True

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        self._check_open()
        check_refs(refs)
        removed = 0
        for ref in refs:
            removed += await self.delete(ref)
        return removed

    async def collections(self) -> list[tuple[str, str]]:
        """Every (kind, namespace) that holds records, sorted."""
        self._check_open()
        return sorted(key for key, coll in self._state.collections.items() if coll.blobs)

    async def count(self, kind: str, namespace: str) -> int:
        self._check_open()
        check_kind_namespace(kind, namespace)
        coll = self._state.collections.get((kind, namespace))
        if coll is None:
            return 0
        now = self.now()
        return sum(1 for meta in list(coll.meta.values()) if self._live(meta.ref, now))

    async def scan(
        self,
        kind: str,
        namespace: str,
        *,
        tags: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        self._check_open()
        check_kind_namespace(kind, namespace)
        limit = check_limit(limit)
        wanted = check_tags(tags)
        coll = self._state.collections.get((kind, namespace))
        if coll is None:
            return Page([], None)
        now = self.now()
        ids = sorted(rid for rid in coll.meta if cursor is None or rid > cursor)
        page: list[Record] = []
        for rid in ids:
            meta = self._live(Ref(kind, namespace, rid), now)
            if meta is None or not wanted <= meta.tags:
                continue
            assert meta.updated_at is not None
            if (since and meta.updated_at < since) or (until and meta.updated_at >= until):
                continue
            if len(page) == limit:
                return Page(page, page[-1].ref.id)
            page.append(self._decode(meta.ref))
        return Page(page, None)

    async def search(
        self,
        kind: str,
        namespace: str,
        text: str,
        *,
        limit: int = 10,
        tags: Iterable[str] | None = None,
    ) -> list[Hit]:
        self._check_open()
        check_kind_namespace(kind, namespace)
        limit = check_limit(limit)
        wanted = check_tags(tags)
        if not isinstance(text, str):
            raise InvalidInput(f"search text must be a str, got {type(text).__name__}")
        coll = self._state.collections.get((kind, namespace))
        terms = textmod.query_terms(text)
        if coll is None or not terms:
            return []
        now = self.now()
        candidates: set[str] = set()
        for term in terms:
            candidates |= coll.postings.get(term, set())
        n_docs = len(coll.meta)
        avg_len = coll.total_len / n_docs if n_docs else 0.0
        dfs = {term: len(coll.postings.get(term, ())) for term in terms}
        scored: list[tuple[float, str]] = []
        for rid in candidates:
            meta = self._live(Ref(kind, namespace, rid), now)
            if meta is None or not wanted <= meta.tags:
                continue
            doc = coll.terms[rid]
            score = textmod.bm25(
                terms, doc, doc_len=sum(doc.values()), avg_len=avg_len, n_docs=n_docs, doc_freqs=dfs
            )
            scored.append((-score, rid))
        best = heapq.nsmallest(limit, scored)
        return [Hit(self._decode(Ref(kind, namespace, rid)), -neg) for neg, rid in best]

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Exact cosine k-nearest-neighbour search over the collection's vectors."""
        self._check_open()
        check_kind_namespace(kind, namespace)
        limit = check_limit(limit)
        wanted = check_tags(tags)
        unit = check_query(vector)
        coll = self._state.collections.get((kind, namespace))
        if coll is None:
            return []
        now = self.now()
        if vector_index.available():
            return self._nearest_indexed(coll, unit, kind, namespace, wanted, limit, now)
        dim = len(unit)
        ids: list[str] = []
        codes: list[bytes] = []
        expired: list[str] = []
        # Plain dict lookups per vector (no Ref built): this loop is most of the cost.
        for rid, embedding in coll.vectors.items():
            meta = coll.meta.get(rid)
            if meta is None or len(embedding.codes) != dim:
                continue
            if meta.is_expired(now):
                expired.append(rid)
            elif wanted <= meta.tags:
                ids.append(rid)
                codes.append(embedding.codes)
        for rid in expired:
            coll.remove(rid)  # reclaim on touch, as _live does; expiry emits no change
        ranked = rank_codes(unit, ids, codes, limit)
        return [Hit(self._decode(Ref(kind, namespace, rid)), score) for rid, score in ranked]

    def _nearest_indexed(
        self,
        coll: _Collection,
        unit: list[float],
        kind: str,
        namespace: str,
        wanted: frozenset[str],
        limit: int,
        now: datetime,
    ) -> list[Hit]:
        if coll.index is None:
            coll.index = VectorIndex()
            coll.index.put_many((rid, e.codes) for rid, e in coll.vectors.items())
        allowed = None
        if wanted:
            allowed = [rid for rid in coll.vectors if wanted <= coll.meta[rid].tags]
        while True:
            ranked = coll.index.search(unit, limit, allowed=allowed)
            expired = [rid for rid, _ in ranked if coll.meta[rid].is_expired(now)]
            if not expired:
                return [Hit(self._decode(Ref(kind, namespace, rid)), s) for rid, s in ranked]
            for rid in expired:
                coll.remove(rid)  # reclaim on touch, as _live does; expiry emits no change
            if allowed is not None:
                allowed = [rid for rid in allowed if rid in coll.vectors]

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        self._check_open()
        if kind is not None or namespace is not None:
            check_kind_namespace(kind or "x", namespace or "x")
        return ChangeStream(self, kind=kind, namespace=namespace, since=since)

    async def change_head(self) -> str:
        return str(self._state.last_seq)

    async def read_changes(self, after: str, *, limit: int, timeout: float) -> list[Change]:
        try:
            position = int(after)
        except ValueError as exc:
            raise InvalidInput(f"not a memory:// change cursor: {after!r}") from exc
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._state.last_seq > position:
                return [c for c in self._state.changes if int(c.cursor) > position][:limit]
            if self._closed or asyncio.get_running_loop().time() >= deadline:
                return []
            await asyncio.sleep(0.005)

    async def import_many(self, records: Sequence[Record]) -> int:
        self._check_open()
        now = self.now()
        staged: list[tuple[Record, bytes]] = []
        for record in records:
            if not isinstance(record, Record) or record.version < 1:
                raise InvalidInput("import_many needs records that carry a version >= 1")
            current = self._live(record.ref, now)
            if current is not None and current.version >= record.version:
                continue
            stored = record.stored(
                version=record.version,
                created_at=record.created_at or now,
                updated_at=record.updated_at or now,
            )
            staged.append((stored, self._codec.encode(stored)))
        for stored, blob in staged:
            self._apply(stored, blob, now)
        return len(staged)

    async def increment(
        self,
        ref: Ref,
        *,
        add: Mapping[str, int | float] | None = None,
        append: Mapping[str, Sequence[Any]] | None = None,
        maximum: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
        op_id: str | None = None,
    ) -> Record:
        self._check_open()
        check_refs([ref])
        delta = make_increment(add=add, append=append, maximum=maximum, ttl=ttl, op_id=op_id)
        now = self.now()
        # No await from here on: the read, the check and the write are one atomic step.
        current = self._live(ref, now)
        coll = self._state.collection(ref.kind, ref.namespace)
        seen = coll.ops.get(ref.id)
        if current is not None and op_id is not None and seen and op_id in seen:
            return self._decode(ref)
        stored, blob = self._prepare(
            delta.apply(ref, self._decode(ref) if current else None, now), now, None
        )
        self._apply(stored, blob, now)
        if op_id is not None:
            # An insertion-ordered dict: O(1) lookups, the oldest id is dropped first.
            applied = coll.ops.setdefault(ref.id, {})
            applied[op_id] = None
            if len(applied) > OP_MEMORY:
                del applied[next(iter(applied))]
        return stored

    async def ping(self) -> None:
        self._check_open()


async def open_memory_store(url: str, **options: Any) -> InMemoryStore:
    """Opener for ``memory://`` and ``memory://NAME``."""
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or "@" in parts.netloc:
        raise ConfigurationError(f"memory URL takes only a name: memory://NAME, got {url!r}")
    return InMemoryStore(parts.netloc or None, **options)


@hookimpl
def register_backends(register: BackendRegistrar) -> None:
    register("memory", open_memory_store, description="in-process reference store")
