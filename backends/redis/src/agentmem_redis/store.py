"""RedisStore: the agentmem store contract over Redis and Redis Cluster.

Every change to a record and its index entries runs as one Lua script inside the
record's bucket (one hash tag), so it is atomic on a single node and on a cluster. See
docs/backends/redis.md for the key layout, the search algorithm and the change feed.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import random
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote

from agentmem import (
    AgentMemError,
    BackendUnavailable,
    Capabilities,
    Change,
    ChangeStream,
    Codec,
    ConfigurationError,
    ConflictError,
    CorruptRecord,
    Hit,
    InvalidInput,
    Page,
    Record,
    Ref,
    StoreBase,
    vector_index,
)
from agentmem import text as textmod
from agentmem.increments import OP_MEMORY, OP_TTL_SECONDS, Increment, make_increment
from agentmem.nearest import check_query, fetch_winners, rank_codes
from agentmem.store import (
    Clock,
    check_aware,
    check_expected_version,
    check_kind_namespace,
    check_limit,
    check_refs,
    check_tags,
    check_version,
)
from agentmem.vector_index import VectorIndex
from agentmem_redis.config import RedisOptions, parse_url
from agentmem_redis.errors import translate, translating
from agentmem_redis.feed import (
    from_us,
    join_cursor,
    make_change,
    parse_entry,
    split_cursor,
    to_us,
)
from agentmem_redis.keys import KeyLayout, escape
from agentmem_redis.link import RedisLink, ScriptCall
from agentmem_redis.vector_cache import (
    VERSION_FIELDS,
    BucketKeys,
    CachedVectors,
    Seen,
    parse_versions,
    scan_hashes,
)
from redis import exceptions as rx

__all__ = ["RedisStore", "open_redis_store"]

log = logging.getLogger("agentmem.redis")

# msgpack ships no type information; the one function used here, typed.
_packb: Callable[..., bytes] = importlib.import_module("msgpack").packb

LAYOUT_FORMAT: Final = 1
_CLUSTER_BUCKETS: Final = 16
_MAX_WRITE_ATTEMPTS: Final = 200
_KNOWN_LIMIT: Final = 50_000
_VECTOR_PAGE: Final = 2000
"""Vec hash entries one nearest() HSCAN asks for: bounds each reply and server pause."""
_EVICTING: Final = ("allkeys-lru", "allkeys-lfu", "allkeys-random")


_VSIM_EF: Final = 1000
"""The least exploration factor (EF) a VSIM search is given: recall over speed."""
_TIE: Final = 1e-6
"""Scores closer than this count as equal (VSIM scores are float32)."""


def _similarities(reply: Any) -> list[tuple[bytes, float]]:
    """A ``VSIM ... WITHSCORES`` reply (redis-py's dict, or a flat RESP list) as
    (id, similarity in [0, 1]) pairs, best first."""
    if isinstance(reply, dict):
        return [(bytes(k), float(v)) for k, v in reply.items()]
    items = list(reply)
    return [(bytes(items[i]), float(items[i + 1])) for i in range(0, len(items), 2)]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _decode_str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _entry_order(fields: Any) -> tuple[int, int]:
    """(at_us, seq) of a change-stream entry; foreign entries sort first."""
    try:
        if isinstance(fields, dict):
            return int(fields.get(b"at", 0)), int(fields.get(b"q", 0))
        items = list(fields)
        data = {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}
        return int(data.get(b"at", 0)), int(data.get(b"q", 0))
    except (TypeError, ValueError):
        return 0, 0


class RedisStore(StoreBase):
    """A store in Redis (``redis://``, ``rediss://``, ``unix://``) or Redis Cluster
    (``redis+cluster://host:port,host:port``). Open it with :func:`open_redis_store` or
    :func:`agentmem.open_store`."""

    def __init__(
        self,
        link: RedisLink,
        layout: KeyLayout,
        *,
        origin: str | None = None,
        clock: Clock | None = None,
        codec: Codec | None = None,
    ) -> None:
        super().__init__(origin=origin, clock=clock)
        self._link = link
        self._options: RedisOptions = link.options
        self._layout = layout
        self._codec = codec or Codec()
        # What this client last saw of a record: (version, created_us). A put guesses the
        # current state from it so the encoded record can carry its final version; the
        # write script checks the guess atomically and a wrong guess is simply retried.
        self._known: dict[Ref, tuple[int, int]] = {}
        # Numbers this store's changes so a cluster's per-bucket streams merge in write order.
        self._seq = 0
        self._increment_locks: weakref.WeakValueDictionary[Ref, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # This client's copies of the collections it searched by vector (vector_cache).
        self._vectors: dict[tuple[str, str], CachedVectors] = {}
        # Whether nearest() asks the server's vector sets (Redis 8; set at open).
        self._vector_sets = False
        # One node, one stream: block in XREAD on a feed connection; a cluster polls.
        self._blocking_feed = layout.buckets == 1 and not link.cluster

    # -- properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._options.masked_url()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(cross_process=True, durable=True, increment=True, vector_search=True)

    def refs_per_bucket(self, kind: str, namespace: str, stem: str) -> list[Ref]:
        """One ref per bucket (``<stem>-<n>``, the smallest n landing in it), so a caller
        can keep a marker on every node a cluster spreads records over."""
        refs: list[Ref] = []
        if self._layout.buckets == 1:
            return refs  # one node, one unit: any record there tells its fate
        for bucket in range(self._layout.buckets):
            n = 0
            while self._layout.bucket_of(Ref(kind, namespace, f"{stem}-{n}")) != bucket:
                n += 1
            refs.append(Ref(kind, namespace, f"{stem}-{n}"))
        return refs

    @property
    def layout(self) -> KeyLayout:
        """The key layout (prefix and bucket count) this store writes."""
        return self._layout

    @property
    def vector_sets(self) -> bool:
        """Whether :meth:`nearest` asks the server's vector sets: opened with
        ``vector_sets=true`` on a server that has them (Redis 8 and later; detected at
        open). Searches with tags use the exact paths."""
        return self._vector_sets

    @property
    def redis(self) -> Any:
        """The underlying redis-py client (``Redis`` or ``RedisCluster``)."""
        return self._link.client

    # -- helpers ------------------------------------------------------------------------

    def _remember(self, ref: Ref, version: int, created_us: int) -> None:
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()
        self._known[ref] = (version, created_us)

    def _decode_or_skip(self, blob: bytes, ref: Ref, now: datetime) -> Record | None:
        """For reads of many records: a corrupt one is reported and skipped (None)."""
        try:
            return self._decode(blob, ref, now)
        except CorruptRecord as exc:
            self.corruption.report(ref, exc)
            return None

    def _decode(self, blob: bytes, ref: Ref, now: datetime) -> Record | None:
        record = self._codec.decode(blob, expect=ref)
        if record.is_expired(now):
            return None
        if record.created_at is not None:
            self._remember(ref, record.version, to_us(record.created_at))
        return record

    def _coll_args(self, bucket: int, kind: str, namespace: str) -> list[Any]:
        return [self._layout.base(bucket), KeyLayout.collection(kind, namespace)]

    def _ref_args(self, ref: Ref) -> tuple[str, list[Any]]:
        bucket = self._layout.bucket_of(ref)
        return self._layout.record_key(ref), [
            *self._coll_args(bucket, ref.kind, ref.namespace),
            ref.id,
        ]

    def _meta(self, record: Record, created_us: int, updated_us: int) -> bytes:
        """The index metadata the scripts keep beside a record (see common.lua)."""
        terms = textmod.document_terms(record.text, record.tags)
        flat: list[Any] = []
        for term, tf in terms.items():
            flat += [term, tf]
        expires = to_us(record.expires_at) if record.expires_at is not None else False
        return _packb(
            [
                record.version,
                created_us,
                updated_us,
                expires,
                sum(terms.values()),
                sorted(record.tags),
                flat,
            ],
            use_bin_type=True,
        )

    def _feed_args(self, ref: Ref, now: datetime) -> list[Any]:
        return [
            ref.kind,
            ref.namespace,
            self.origin,
            now.isoformat(),
            self._options.retention,
            self._layout.channel,
        ]

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _write_calls(
        self,
        items: Sequence[tuple[int, Record, int, int, int]],
        mode: str,
        now: datetime,
        tail: Sequence[Any] = (),
    ) -> tuple[list[ScriptCall], list[list[int]]]:
        """One write script per bucket for (index, stored, given, guess_c, seq) items;
        also returns which item indices each call carries, in order."""
        groups: dict[int, tuple[list[int], list[str], list[Any]]] = {}
        for index, stored, given, guess_c, seq in items:
            ref = stored.ref
            assert stored.created_at is not None
            assert stored.updated_at is not None
            bucket = self._layout.bucket_of(ref)
            indices, keys, args = groups.setdefault(bucket, ([], [], []))
            indices.append(index)
            keys.append(self._layout.record_key(ref))
            meta = self._meta(stored, to_us(stored.created_at), to_us(stored.updated_at))
            args += [
                KeyLayout.collection(ref.kind, ref.namespace),
                ref.id,
                ref.kind,
                ref.namespace,
                given,
                guess_c,
                self._codec.encode(stored),
                meta,
                seq,
                b"" if stored.embedding is None else stored.embedding.codes,
            ]
        calls: list[ScriptCall] = []
        order: list[list[int]] = []
        for bucket, (indices, keys, args) in groups.items():
            header = [
                self._layout.base(bucket),
                "",
                to_us(now),
                mode,
                self._options.cleanup_budget,
                self.origin,
                now.isoformat(),
                self._options.retention,
                self._layout.channel,
            ]
            calls.append(("write", keys, header + args + list(tail)))
            order.append(indices)
        return calls, order

    # -- writes -------------------------------------------------------------------------

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        self._check_open()
        expected = check_expected_version(expected_version)
        (stored,) = await self._put_batch([record], expected)
        return stored

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        self._check_open()
        return await self._put_batch(list(records), None)

    def _guess(self, ref: Ref, expected: int | None, now_us: int) -> tuple[int, int]:
        known = self._known.get(ref)
        if expected is not None:
            return expected, known[1] if known and known[0] == expected else now_us
        return known if known else (0, now_us)

    async def _put_batch(self, records: list[Record], expected: int | None) -> list[Record]:
        for record in records:
            if not isinstance(record, Record):
                raise InvalidInput(f"expected a Record, got {type(record).__name__}")
        if not records:
            return []
        now = self.now()
        now_us = to_us(now)
        seqs = [self._next_seq() for _ in records]
        results: list[Record | None] = [None] * len(records)
        pending = list(range(len(records)))
        for attempt in range(_MAX_WRITE_ATTEMPTS):
            chain: dict[Ref, tuple[int, int]] = {}
            items: list[tuple[int, Record, int, int, int]] = []
            staged: dict[int, Record] = {}
            for index in pending:
                ref = records[index].ref
                version, created_us = chain.get(ref) or self._guess(ref, expected, now_us)
                if version == 0:
                    created_us = now_us
                stored = records[index].stored(
                    version=version + 1, created_at=from_us(created_us), updated_at=now
                )
                chain[ref] = (version + 1, created_us)
                staged[index] = stored
                items.append((index, stored, version, created_us, seqs[index]))
            calls, order = self._write_calls(items, "put", now)
            retry: list[int] = []
            for indices, reply in zip(
                order, await self._link.run_scripts("put", calls), strict=True
            ):
                if isinstance(reply, BaseException):
                    raise reply
                if int(reply[0]) == 1:
                    for index in indices:
                        stored = staged[index]
                        results[index] = stored
                        assert stored.created_at is not None
                        self._remember(stored.ref, stored.version, to_us(stored.created_at))
                    continue
                corrected: set[Ref] = set()
                for i in range(1, len(reply) - 2, 3):
                    ref = records[indices[int(reply[i]) - 1]].ref
                    actual, actual_c = int(reply[i + 1]), int(reply[i + 2])
                    if ref in corrected:
                        continue
                    corrected.add(ref)
                    self._remember(ref, actual, actual_c)
                    check_version(ref, expected, actual)
                retry += indices
            if not retry:
                return [r for r in results if r is not None]
            pending = sorted(retry)
            if attempt >= 2:
                # Contention on one record: step aside briefly so writers interleave.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
        raise ConflictError(
            f"gave up writing {records[pending[0]].ref} after {_MAX_WRITE_ATTEMPTS} attempts "
            "under contention"
        )

    async def import_many(self, records: Sequence[Record]) -> int:
        self._check_open()
        now = self.now()
        items: list[tuple[int, Record, int, int, int]] = []
        for index, record in enumerate(records):
            if not isinstance(record, Record) or record.version < 1:
                raise InvalidInput("import_many needs records that carry a version >= 1")
            stored = record.stored(
                version=record.version,
                created_at=record.created_at or now,
                updated_at=record.updated_at or now,
            )
            items.append((index, stored, record.version, 0, self._next_seq()))
        calls, order = self._write_calls(items, "import", now)
        written = 0
        for indices, reply in zip(
            order, await self._link.run_scripts("import_many", calls), strict=True
        ):
            if isinstance(reply, BaseException):
                raise reply
            for index, flag in zip(indices, reply[1:], strict=True):
                if int(flag):
                    written += 1
                    stored = items[index][1]
                    assert stored.created_at is not None
                    self._remember(stored.ref, stored.version, to_us(stored.created_at))
        return written

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
        """Read, apply the delta here, write back with the write script's version check.

        The record is encoded (and maybe compressed) by the codec on this side, so the
        script cannot add to it itself; instead it refuses the write unless the record is
        still at the version read, and the read-apply-write is retried. Every increment
        that returns was applied exactly once on top of the state it read: atomic as a
        server-side update, and the op-id check happens in the same script.
        """
        self._check_open()
        check_refs([ref])
        delta = make_increment(add=add, append=append, maximum=maximum, ttl=ttl, op_id=op_id)
        lock = self._increment_locks.get(ref)
        if lock is None:
            lock = self._increment_locks[ref] = asyncio.Lock()
        # This client's increments of one record take turns, so the version check races
        # only other clients and never gives up under this process's own concurrency.
        async with lock:
            return await self._increment(ref, delta)

    async def _increment(self, ref: Ref, delta: Increment) -> Record:
        op_id = delta.op_id
        key = self._layout.record_key(ref)
        seq = self._next_seq()
        tail = [op_id or "", OP_MEMORY, OP_TTL_SECONDS * 1000]
        for attempt in range(_MAX_WRITE_ATTEMPTS):
            blob = await self._link.command("increment", "GET", key)
            now = self.now()
            current = None if blob is None else self._decode(blob, ref, now)
            version = current.version if current is not None else 0
            created = current.created_at if current is not None else None
            stored = delta.apply(ref, current, now).stored(
                version=version + 1, created_at=created or now, updated_at=now
            )
            item = (0, stored, version, to_us(created or now), seq)
            calls, _ = self._write_calls([item], "incr", now, tail)
            (reply,) = await self._link.run_scripts("increment", calls)
            if isinstance(reply, BaseException):
                raise reply
            if int(reply[0]) == 1:
                self._remember(ref, stored.version, to_us(created or now))
                return stored
            if int(reply[0]) == 2 and current is not None:
                return current  # this op id was applied before: nothing to do
            if attempt >= 2:
                # Contention on one record: step aside briefly so writers interleave.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
        raise ConflictError(
            f"gave up incrementing {ref} after {_MAX_WRITE_ATTEMPTS} attempts under contention"
        )

    def _delete_call(self, ref: Ref, expected: int | None, now: datetime) -> ScriptCall:
        key, args = self._ref_args(ref)
        return (
            "delete",
            [key],
            [
                *args,
                to_us(now),
                -1 if expected is None else expected,
                self._options.cleanup_budget,
                *self._feed_args(ref, now),
                self._next_seq(),
            ],
        )

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        self._check_open()
        check_refs([ref])
        expected = check_expected_version(expected_version)
        reply = await self._link.run_script("delete", *self._delete_call(ref, expected, self.now()))
        self._known.pop(ref, None)
        if int(reply[0]) == 0:
            # The script refused: the version it found differs from the expected one.
            check_version(ref, expected, int(reply[1]))
        return int(reply[1]) > 0

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        self._check_open()
        check_refs(refs)
        now = self.now()
        replies = await self._link.run_scripts(
            "delete_many", [self._delete_call(ref, None, now) for ref in refs]
        )
        removed = 0
        for ref, reply in zip(refs, replies, strict=True):
            self._known.pop(ref, None)
            if isinstance(reply, BaseException):
                raise reply
            removed += int(reply[1]) > 0
        return removed

    # -- reads --------------------------------------------------------------------------

    async def get(self, ref: Ref) -> Record | None:
        self._check_open()
        check_refs([ref])
        blob = await self._link.command("get", "GET", self._layout.record_key(ref))
        return None if blob is None else self._decode(blob, ref, self.now())

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        self._check_open()
        check_refs(refs)
        if not refs:
            return []
        # One MGET per bucket (all its keys share one slot), all in one pipeline.
        groups: dict[int, list[int]] = {}
        for index, ref in enumerate(refs):
            groups.setdefault(self._layout.bucket_of(ref), []).append(index)
        order = list(groups.values())
        commands = [["MGET", *(self._layout.record_key(refs[i]) for i in idx)] for idx in order]
        replies = await self._link.pipeline("get_many", commands)
        now = self.now()
        out: list[Record | None] = [None] * len(refs)
        for idx, reply in zip(order, replies, strict=True):
            if isinstance(reply, BaseException):
                raise translate(reply, "get_many")
            for i, blob in zip(idx, reply, strict=True):
                out[i] = None if blob is None else self._decode_or_skip(blob, refs[i], now)
        return out

    def _buckets(self) -> range:
        return range(self._layout.buckets)

    async def collections(self) -> list[tuple[str, str]]:
        """Every (kind, namespace) that holds records, sorted: one SCAN over the id
        indexes of this prefix (every primary of a cluster). Used by
        :func:`agentmem.corruption.find_corrupt` to check a whole store."""
        self._check_open()
        prefix = self._layout.prefix
        # Braces are not glob syntax; the prefix is [A-Za-z0-9_.-] only (KeyLayout).
        pattern = f"{prefix}:{{{prefix}:*}}:ids:*"
        found: set[tuple[str, str]] = set()
        async with self._link.slot():
            with translating("listing collections"):
                async for key in self._link.client.scan_iter(match=pattern, count=1000):
                    _, _, collection = _decode_str(key).partition("}:ids:")
                    kind, sep, namespace = collection.partition(":")
                    if sep:
                        found.add((kind, unquote(namespace)))
        return sorted(found)

    async def count(self, kind: str, namespace: str) -> int:
        self._check_open()
        check_kind_namespace(kind, namespace)
        now_us = to_us(self.now())
        calls: list[ScriptCall] = [
            (
                "count",
                [self._layout.ids_key(b, kind, namespace)],
                [*self._coll_args(b, kind, namespace), now_us, self._options.cleanup_budget],
            )
            for b in self._buckets()
        ]
        total = 0
        for reply in await self._link.run_scripts("count", calls):
            if isinstance(reply, BaseException):
                raise reply
            total += int(reply)
        return total

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
        wanted = sorted(check_tags(tags))
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidInput(f"cursor must be a str or None, got {cursor!r}")
        since = check_aware("since", since)
        until = check_aware("until", until)
        now = self.now()
        now_us = to_us(now)
        since_arg = "" if since is None else to_us(since)
        until_arg = "" if until is None else to_us(until)
        max_examine = max(1000, 4 * limit)
        # Each bucket is walked in id order from its own position; matches up to the
        # lowest position of a bucket that is not exhausted are final.
        position = {b: cursor or "" for b in self._buckets()}
        exhausted: set[int] = set()
        matches: dict[str, bytes] = {}
        while True:
            active = [b for b in self._buckets() if b not in exhausted]
            calls: list[ScriptCall] = [
                (
                    "scan",
                    [self._layout.ids_key(b, kind, namespace)],
                    [
                        *self._coll_args(b, kind, namespace),
                        now_us,
                        self._options.cleanup_budget,
                        position[b],
                        limit + 1,
                        max_examine,
                        since_arg,
                        until_arg,
                        *wanted,
                    ],
                )
                for b in active
            ]
            replies = await self._link.run_scripts("scan", calls)
            for b, reply in zip(active, replies, strict=True):
                if isinstance(reply, BaseException):
                    raise reply
                if int(reply[0]) == 1:
                    exhausted.add(b)
                position[b] = _decode_str(reply[1])
                for i in range(2, len(reply) - 1, 2):
                    matches[_decode_str(reply[i])] = reply[i + 1]
            open_positions = [position[b] for b in self._buckets() if b not in exhausted]
            frontier = min(open_positions) if open_positions else None
            final = sorted(i for i in matches if frontier is None or i <= frontier)
            if len(final) > limit or frontier is None:
                break
        records: list[Record] = []
        for rid in final[:limit]:
            record = self._decode_or_skip(matches[rid], Ref(kind, namespace, rid), now)
            if record is not None:
                records.append(record)
        more = len(final) > limit
        # The cursor is the last id examined, so a page whose records were all skipped
        # (corrupt or just expired) still moves the scan on.
        return Page(records, final[limit - 1] if more else None)

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
        wanted = sorted(check_tags(tags))
        if not isinstance(text, str):
            raise InvalidInput(f"search text must be a str, got {type(text).__name__}")
        terms = textmod.query_terms(text)
        if not terms:
            return []
        now = self.now()
        now_us = to_us(now)
        budget = self._options.cleanup_budget
        if self._layout.buckets == 1:
            mode, n_docs, total_len, dfs = "local", 0, 0, [0] * len(terms)
        else:
            # Fan out twice: collection statistics first, so every bucket scores with the
            # same N, average length and document frequencies; then the top hits.
            stats_calls: list[ScriptCall] = [
                (
                    "stats",
                    [self._layout.ids_key(b, kind, namespace)],
                    [*self._coll_args(b, kind, namespace), now_us, budget, *terms],
                )
                for b in self._buckets()
            ]
            mode, n_docs, total_len, dfs = "global", 0, 0, [0] * len(terms)
            for reply in await self._link.run_scripts("search", stats_calls):
                if isinstance(reply, BaseException):
                    raise reply
                n_docs += int(reply[0])
                total_len += int(reply[1])
                for i in range(len(terms)):
                    dfs[i] += int(reply[2 + i])
            if n_docs == 0:
                return []
        pairs: list[Any] = []
        for term, df in zip(terms, dfs, strict=True):
            pairs += [term, df]
        calls: list[ScriptCall] = [
            (
                "search",
                [self._layout.ids_key(b, kind, namespace)],
                [
                    *self._coll_args(b, kind, namespace),
                    now_us,
                    budget,
                    limit,
                    self._options.search_budget,
                    mode,
                    n_docs,
                    total_len,
                    len(wanted),
                    *wanted,
                    len(terms),
                    *pairs,
                ],
            )
            for b in self._buckets()
        ]
        scored: list[tuple[float, str, bytes]] = []
        for reply in await self._link.run_scripts("search", calls):
            if isinstance(reply, BaseException):
                raise reply
            if int(reply[1]):
                log.info(
                    "search %r in %s/%s stopped after %s postings (search_budget); "
                    "the hits are the best found so far",
                    text[:80],
                    kind,
                    namespace,
                    reply[0],
                )
            for i in range(2, len(reply) - 2, 3):
                scored.append((-float(reply[i + 1]), _decode_str(reply[i]), reply[i + 2]))
        scored.sort(key=lambda item: (item[0], item[1]))
        hits: list[Hit] = []
        for neg, rid, blob in scored:
            record = self._decode_or_skip(blob, Ref(kind, namespace, rid), now)
            if record is not None:
                hits.append(Hit(record, -neg))
            if len(hits) == limit:
                break
        return hits

    async def backfill_vectors(self) -> int:
        """Give records written before vec hashes existed their entry, once per prefix.

        Runs at open until the prefix's marker key is set: walks every collection with
        ``scan`` and writes the codes of records that have an embedding (only while the
        record is still at the version read). Returns how many entries were written.
        """
        marker = self._layout.vectors_marker_key
        if await self._link.command("backfill", "GET", marker) is not None:
            return 0
        written = 0
        for kind, namespace in await self.collections():
            cursor: str | None = None
            while True:
                page = await self.scan(kind, namespace, limit=500, cursor=cursor)
                groups: dict[int, list[Any]] = {}
                for record in page.records:
                    if record.embedding is not None:
                        args = groups.setdefault(self._layout.bucket_of(record.ref), [])
                        args += [record.ref.id, record.version, record.embedding.codes]
                calls: list[ScriptCall] = [
                    (
                        "vecfill",
                        [self._layout.vectors_key(b, kind, namespace)],
                        [*self._coll_args(b, kind, namespace), *args],
                    )
                    for b, args in groups.items()
                ]
                for reply in await self._link.run_scripts("backfill", calls):
                    if isinstance(reply, BaseException):
                        raise reply
                    written += int(reply)
                cursor = page.cursor
                if cursor is None:
                    break
        await self._link.command("backfill", "SET", marker, "1")
        if written:
            log.info("backfilled %d vector entries under prefix %s", written, self._layout.prefix)
        return written

    async def turn_on_vector_sets(self) -> bool:
        """Have every write of this prefix mirror its vector into Redis 8 vector sets, mirror
        what is there already, and return True; on a server without vector sets, log a
        warning and return False (searches read the vec hashes). Runs at open with
        ``vector_sets=true``; once on, a prefix stays on for every client."""
        if not await _has_vector_sets(self._link, self._layout):
            log.warning(
                "vector_sets=true but the server has no vector sets (VADD/VSIM: Redis 8 and "
                "later): nearest() searches the vec hashes"
            )
            return False
        replies = await self._link.pipeline(
            "open", [["SET", self._layout.vector_sets_flag_key(b), "1"] for b in self._buckets()]
        )
        for reply in replies:
            if isinstance(reply, BaseException):
                raise translate(reply, "open")
        await self.backfill_vector_sets()
        return True

    async def backfill_vector_sets(self) -> int:
        """Mirror every vec hash entry into its Redis 8 vector set, once per prefix.

        Runs at open on a server with vector sets until the prefix's marker is set:
        entries written before the server had vector sets (an upgrade from Redis 7) would
        otherwise be missing from accelerated searches. Every write on such a server
        mirrors itself. Returns how many entries were mirrored.
        """
        marker = self._layout.vector_sets_marker_key
        if await self._link.command("backfill", "GET", marker) is not None:
            return 0
        mirrored = 0
        for kind, namespace in await self.collections():
            for bucket in self._buckets():
                key = self._layout.vectors_key(bucket, kind, namespace)
                cursor: Any = 0
                while True:
                    cursor, entries = await self._link.command(
                        "backfill", "HSCAN", key, cursor, "COUNT", _VECTOR_PAGE
                    )
                    pairs = [item for pair in entries.items() for item in pair]
                    if pairs:
                        call: ScriptCall = (
                            "vsetfill",
                            [key],
                            [*self._coll_args(bucket, kind, namespace), *pairs],
                        )
                        (reply,) = await self._link.run_scripts("backfill", [call])
                        if isinstance(reply, BaseException):
                            raise reply
                        mirrored += int(reply)
                    if int(cursor) == 0:
                        break
        await self._link.command("backfill", "SET", marker, "1")
        if mirrored:
            log.info("mirrored %d vectors into vector sets under %s", mirrored, self._layout.prefix)
        return mirrored

    # -- change feed --------------------------------------------------------------------

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Exact cosine k-nearest-neighbour search over the collection's vec hashes.

        One pipelined round trip over every bucket reads the expired ids not yet reclaimed
        (a ZRANGEBYSCORE, usually empty), the tag sets' intersection when tags are given,
        and the buckets' vector change numbers. With numpy and ``vector_cache`` (the
        default), this client's copy of the vectors (:mod:`agentmem_redis.vector_cache`)
        catches up on what changed and is scored in one matrix product; otherwise the vec
        hashes are read in HSCAN pages (or HMGET of the tagged ids) and scored here.
        Entries of another length are left out; only the winners are fetched and decoded,
        and a winner that is gone or corrupt is skipped for the next best.
        """
        self._check_open()
        check_kind_namespace(kind, namespace)
        limit = check_limit(limit)
        wanted = sorted(check_tags(tags))
        unit = check_query(vector)
        now_us = to_us(self.now())
        if self._vector_sets and not wanted:
            accelerated = await self._nearest_in_vector_sets(unit, kind, namespace, limit, now_us)
            if accelerated is not None:
                return accelerated
        coll = KeyLayout.collection(kind, namespace)
        buckets = list(self._buckets())
        cached = self._options.vector_cache and vector_index.available()
        first: list[list[Any]] = [
            ["ZRANGEBYSCORE", f"{self._layout.base(b)}:exp:{coll}", "-inf", now_us] for b in buckets
        ]
        if wanted:
            first += [
                ["SINTER", *(f"{self._layout.base(b)}:g:{coll}:{escape(t)}" for t in wanted)]
                for b in buckets
            ]
        if cached:
            first += [
                ["HMGET", self._layout.vector_versions_key(b, kind, namespace), *VERSION_FIELDS]
                for b in buckets
            ]
        replies = await self._link.pipeline("nearest", first)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise translate(reply, "nearest")
        expired = {bytes(i).decode("utf-8") for reply in replies[: len(buckets)] for i in reply}
        tagged: dict[int, list[str]] | None = None
        members: set[str] | None = None
        if wanted:
            tagged = {
                b: sorted(bytes(m).decode("utf-8") for m in reply)
                for b, reply in zip(buckets, replies[len(buckets) : 2 * len(buckets)], strict=True)
            }
            members = {m for ids in tagged.values() for m in ids}
        if cached:
            versions = {
                b: parse_versions(reply)
                for b, reply in zip(buckets, replies[-len(buckets) :], strict=True)
            }
            index = await self._cached_vectors(kind, namespace, versions)

            def rank(want: int) -> list[tuple[str, float]]:
                return index.search(unit, want, allowed=members, excluded=expired)
        else:
            ids, codes = await self._stored_vectors(
                kind, namespace, buckets, tagged, expired, len(unit)
            )

            def rank(want: int) -> list[tuple[str, float]]:
                return rank_codes(unit, ids, codes, want)

        return await fetch_winners(self, kind, namespace, rank, limit)

    async def _nearest_in_vector_sets(
        self, unit: list[float], kind: str, namespace: str, limit: int, now_us: int
    ) -> list[Hit] | None:
        """``nearest`` answered by the server's vector sets (VSIM in every bucket, one
        pipelined round trip with the expired ids), or None when the exact paths must
        answer: the cut between the top ``limit`` and the rest falls inside a run of equal
        scores, where only the exact paths know every id of the run (ties go by id)."""
        coll = KeyLayout.collection(kind, namespace)
        buckets = list(self._buckets())
        dim = len(unit)
        values = [repr(v) for v in unit]
        want = limit
        while True:
            count = 2 * want + 10
            commands: list[list[Any]] = [
                ["ZRANGEBYSCORE", f"{self._layout.base(b)}:exp:{coll}", "-inf", now_us]
                for b in buckets
            ]
            commands += [
                [
                    "VSIM",
                    self._layout.vector_set_key(b, kind, namespace, dim),
                    "VALUES",
                    dim,
                    *values,
                    "WITHSCORES",
                    "COUNT",
                    count,
                    "EF",
                    max(count, _VSIM_EF),
                ]
                for b in buckets
            ]
            replies = await self._link.pipeline("nearest", commands)
            for reply in replies:
                if isinstance(reply, BaseException):
                    raise translate(reply, "nearest")
            expired = {bytes(i) for reply in replies[: len(buckets)] for i in reply}
            candidates: list[tuple[float, str]] = []
            edges: list[float] = []
            for reply in replies[len(buckets) :]:
                pairs = _similarities(reply)
                if len(pairs) >= count:
                    edges.append(pairs[-1][1])  # this bucket has more past its last score
                candidates += [
                    (2.0 * similarity - 1.0, rid.decode("utf-8"))
                    for rid, similarity in pairs
                    if rid not in expired
                ]
            candidates.sort(key=lambda item: (-item[0], item[1]))
            ranked = candidates[:want]
            if len(candidates) > want and candidates[want][0] > ranked[-1][0] - _TIE:
                return None  # the cut falls inside a run of equal scores
            edge = 2.0 * max(edges) - 1.0 if edges else None
            if ranked and edge is not None and ranked[-1][0] - edge < _TIE:
                return None  # the run may go on past what a bucket returned
            found = await self.get_many([Ref(kind, namespace, rid) for _, rid in ranked])
            hits = [
                Hit(record, score)
                for record, (score, _) in zip(found, ranked, strict=True)
                if record is not None
            ]
            if len(hits) >= limit or not edges:
                return hits[:limit]
            want *= 2

    async def _cached_vectors(
        self, kind: str, namespace: str, versions: dict[int, tuple[Seen, int]]
    ) -> VectorIndex[str]:
        """This client's copy of the collection's vectors, caught up to ``versions``."""
        cache = self._vectors.get((kind, namespace))
        if cache is None:
            cache = self._vectors[(kind, namespace)] = CachedVectors()
        keys = {
            b: BucketKeys(
                self._layout.vectors_key(b, kind, namespace),
                self._layout.vector_log_key(b, kind, namespace),
            )
            for b in versions
        }
        async with cache.lock:
            await cache.catch_up(self._link, keys, versions)
        return cache.index

    async def _stored_vectors(
        self,
        kind: str,
        namespace: str,
        buckets: list[int],
        tagged: dict[int, list[str]] | None,
        expired: set[str],
        dim: int,
    ) -> tuple[list[str], bytes]:
        """The ids and concatenated codes of the collection's live vectors of ``dim``
        bytes, read from the vec hashes (HSCAN pages, or HMGET of the tagged ids)."""
        vec = {b: self._layout.vectors_key(b, kind, namespace) for b in buckets}
        pairs: list[tuple[str, Any]] = []
        if tagged is not None:
            fetch = [
                (b, chunk)
                for b in buckets
                for chunk in _chunks([m for m in tagged[b] if m not in expired], 1000)
            ]
            values = await self._link.pipeline(
                "nearest", [["HMGET", vec[b], *chunk] for b, chunk in fetch]
            )
            for (_, chunk), got in zip(fetch, values, strict=True):
                if isinstance(got, BaseException):
                    raise translate(got, "nearest")
                pairs += zip(chunk, got, strict=True)
        else:
            for entries in (await scan_hashes(self._link, vec, _VECTOR_PAGE)).values():
                pairs += entries.items()
        kept = {
            rid: bytes(code)
            for rid, code in pairs
            if code is not None and len(code) == dim and rid not in expired
        }
        return list(kept), b"".join(kept.values())

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
        if since is not None:
            split_cursor(since, self._layout.buckets)
        return ChangeStream(self, kind=kind, namespace=namespace, since=since)

    async def change_head(self) -> str:
        commands = [
            ["XREVRANGE", self._layout.stream_key(b), "+", "-", "COUNT", 1] for b in self._buckets()
        ]
        ids = []
        for reply in await self._link.pipeline("change_head", commands):
            if isinstance(reply, BaseException):
                raise translate(reply, "change_head")
            ids.append(_decode_str(reply[0][0]) if reply else "0-0")
        return join_cursor(ids)

    # ChangeSource fixes this signature, timeout parameter included.
    async def read_changes(
        self,
        after: str,
        *,
        limit: int,
        timeout: float,
    ) -> list[Change]:
        positions = split_cursor(after, self._layout.buckets)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        task = asyncio.current_task()
        cancelling = task.cancelling() if task is not None else 0
        while True:
            remaining = deadline - loop.time()
            if self._blocking_feed and remaining > 0 and not self._closed:
                batches = [await self._xread_blocking(positions[0], limit, remaining)]
            else:
                batches = await self._xrange_all(positions, limit)
            if task is not None and task.cancelling() > cancelling:
                # Cancelled, but a client library's asyncio.wait_for dropped the
                # cancellation (Python 3.11, gh-86296): deliver it now.
                raise asyncio.CancelledError
            changes, positions = self._merge_batches(batches, positions, limit)
            if changes or remaining <= 0 or self._closed:
                return changes
            if self._layout.buckets > 1:
                await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))

    async def _xread_blocking(self, position: str, limit: int, wait: float) -> list[Any]:
        # On a feed connection of its own, bounded by asyncio.timeout (see RedisLink).
        block_ms = max(1, int(wait * 1000))
        reply = await self._link.blocking_read(
            "watch",
            block_ms / 1000,
            "XREAD",
            "COUNT",
            limit,
            "BLOCK",
            block_ms,
            "STREAMS",
            self._layout.stream_key(0),
            position,
        )
        if not reply:
            return []
        if isinstance(reply, dict):
            return [tuple(entry) for entry in next(iter(reply.values()))]
        return [tuple(entry) for entry in reply[0][1]]

    async def _xrange_all(self, positions: list[str], limit: int) -> list[list[Any]]:
        commands = [
            [
                "XRANGE",
                self._layout.stream_key(b),
                "-" if positions[b] in ("0", "0-0") else f"({positions[b]}",
                "+",
                "COUNT",
                limit,
            ]
            for b in self._buckets()
        ]
        out = []
        for reply in await self._link.pipeline("watch", commands):
            if isinstance(reply, BaseException):
                raise translate(reply, "watch")
            out.append(list(reply or []))
        return out

    def _merge_batches(
        self, batches: list[list[Any]], positions: list[str], limit: int
    ) -> tuple[list[Change], list[str]]:
        """Merge per-bucket entries in writer order (time, then the writer's sequence
        number), never reordering one bucket's own entries; a bucket whose read was cut at
        ``limit`` stops the merge when its entries run out, as later ones may sort first."""
        heads = [0] * len(batches)
        parsed: list[list[tuple[tuple[int, int], str, Any]]] = []
        for batch in batches:
            rows = []
            for entry_id, fields in batch:
                rows.append((_entry_order(fields), _decode_str(entry_id), fields))
            parsed.append(rows)
        current = list(positions)
        changes: list[Change] = []
        while len(changes) < limit:
            best: int | None = None
            for bucket, rows in enumerate(parsed):
                if heads[bucket] < len(rows) and (
                    best is None or rows[heads[bucket]][0] < parsed[best][heads[best]][0]
                ):
                    best = bucket
            if best is None:
                break
            _, sid, fields = parsed[best][heads[best]]
            heads[best] += 1
            current[best] = sid
            change = parse_entry(fields)
            if change is not None:
                changes.append(make_change(change, join_cursor(current)))
            if heads[best] == len(parsed[best]) and len(parsed[best]) >= limit:
                break
        return changes, current

    # -- lifecycle ----------------------------------------------------------------------

    async def ping(self) -> None:
        self._check_open()
        await self._link.command("ping", "PING")

    async def _close(self) -> None:
        try:
            await self._link.close()
        except BackendUnavailable as exc:
            log.info("closing the Redis connection failed (ignored on close): %s", exc)


# -- opening ------------------------------------------------------------------------------


async def _resolve_layout(link: RedisLink, options: RedisOptions) -> KeyLayout:
    """Agree with earlier clients of this prefix on the bucket count (stored in Redis)."""
    probe = KeyLayout(options.prefix, 1)
    key = probe.config_key
    raw = await link.command("reading the layout", "GET", key)
    if raw is None:
        buckets = options.buckets or (_CLUSTER_BUCKETS if options.cluster else 1)
        KeyLayout(options.prefix, buckets)  # validate before writing
        value = json.dumps({"format": LAYOUT_FORMAT, "buckets": buckets})
        await link.command("writing the layout", "SET", key, value, "NX")
        raw = await link.command("reading the layout", "GET", key)
    try:
        stored = json.loads(raw)
        fmt, buckets = int(stored["format"]), int(stored["buckets"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(
            f"{key} in Redis does not hold an agentmem layout ({raw!r}); "
            "use another prefix or delete that key"
        ) from exc
    if fmt != LAYOUT_FORMAT:
        raise ConfigurationError(
            f"{key} says key layout format {fmt}; this agentmem-redis writes {LAYOUT_FORMAT}"
        )
    if options.buckets is not None and options.buckets != buckets:
        raise ConfigurationError(
            f"prefix {options.prefix!r} was created with buckets={buckets}, not "
            f"{options.buckets}; every client of a prefix must use the same bucket count"
        )
    return KeyLayout(options.prefix, buckets)


async def _check_persistence(link: RedisLink) -> None:
    """Warn when the server would lose our data on restart or evict our keys."""
    try:
        configs = await link.primaries_config("appendonly", "save", "maxmemory-policy", "maxmemory")
    except (ConfigurationError, AgentMemError) as exc:
        log.info("cannot check Redis persistence settings (CONFIG GET refused): %s", exc)
        return
    unpersisted = [
        c for c in configs if c.get("appendonly", "no") == "no" and not c.get("save", "").strip()
    ]
    snapshots_only = [
        c for c in configs if c.get("appendonly", "no") == "no" and c.get("save", "").strip()
    ]
    if snapshots_only:
        log.warning(
            "Redis at %s persists by RDB snapshots only (appendonly no) on %d of %d "
            "server(s): a crash loses the writes since the last snapshot and the server "
            "comes back in the past; use appendonly yes",
            link.options.masked_url(),
            len(snapshots_only),
            len(configs),
        )
    if unpersisted:
        log.warning(
            "Redis at %s has no persistence (appendonly no, no RDB save) on %d of %d "
            "server(s): agentmem data is lost when a server restarts",
            link.options.masked_url(),
            len(unpersisted),
            len(configs),
        )
    policies = {
        c.get("maxmemory-policy", "noeviction")
        for c in configs
        if c.get("maxmemory", "0") != "0" and c.get("maxmemory-policy") != "noeviction"
    }
    for policy in sorted(policies):
        log.warning(
            "Redis at %s evicts keys under memory pressure (maxmemory-policy %s): "
            "agentmem records%s may be dropped; use noeviction",
            link.options.masked_url(),
            policy,
            "" if policy in _EVICTING else " with a TTL",
        )


async def open_redis_store(
    url: str,
    *,
    origin: str | None = None,
    clock: Clock | None = None,
    codec: Codec | None = None,
    max_record_size: int | None = None,
    **options: Any,
) -> RedisStore:
    """Open a Redis store. ``options`` are those of the URL's query string (prefix,
    max_connections, pool_timeout, socket_timeout, connect_timeout, buckets, retention,
    search_budget, TLS settings, ...); keyword arguments win over the URL.

    Raises :class:`ConfigurationError` for a bad URL or refused credentials and
    :class:`BackendUnavailable` when the server cannot be reached.
    """
    parsed = parse_url(url, **options)
    if codec is not None and max_record_size is not None:
        raise ConfigurationError("pass either codec or max_record_size, not both")
    if max_record_size is not None:
        codec = Codec(max_record_size=max_record_size)
    link = RedisLink(parsed)
    try:
        await link.command("connecting", "PING")
        await link.load_scripts()
        layout = await _resolve_layout(link, parsed)
        if parsed.warn_persistence:
            await _check_persistence(link)
    except BaseException:
        try:
            await link.close()
        except AgentMemError as exc:
            log.debug("closing after a failed open: %s", exc)
        raise
    store = RedisStore(link, layout, origin=origin, clock=clock, codec=codec)
    try:
        await store.backfill_vectors()
        if parsed.vector_sets:
            store._vector_sets = await store.turn_on_vector_sets()
    except BaseException:
        await store.close()
        raise
    return store


async def _has_vector_sets(link: RedisLink, layout: KeyLayout) -> bool:
    """Whether the server has vector sets (VADD/VSIM: Redis 8 and later)."""
    try:
        await link.client.execute_command("VCARD", f"{layout.prefix}:probe")
    except rx.RedisError as exc:
        text = str(exc).lower()
        # A node answers "unknown command" (or NOPERM where the user may not use it); the
        # cluster client refuses itself a command the nodes' COMMAND table lacks.
        if any(part in text for part in ("unknown command", "noperm", "doesn't exist")):
            log.info("the server has no vector sets for this user (%s): searching vec hashes", exc)
            return False
        raise translate(exc, "open") from exc
    except (TimeoutError, OSError) as exc:
        raise translate(exc, "open") from exc
    return True
