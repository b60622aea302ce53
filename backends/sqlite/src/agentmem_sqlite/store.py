"""The ``sqlite://`` store: one file shared by every process that opens it.

Each store holds two aiosqlite connections: a writer, used under an asyncio lock for
``BEGIN IMMEDIATE`` transactions (so writes from this process are serialized and other
processes' writers wait on SQLite's lock), and a reader in WAL mode that never waits for
writers, so reads are not starved. Every write and its change-log entry commit together;
the change log is what :meth:`SQLiteStore.watch` polls, across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar

import aiosqlite

from agentmem import (
    BackendUnavailable,
    Capabilities,
    Change,
    ChangeStream,
    Codec,
    ConfigurationError,
    CorruptRecord,
    Hit,
    InvalidInput,
    Page,
    Record,
    Ref,
    StoreBase,
    StoreClosed,
    vector_index,
)
from agentmem import text as textmod
from agentmem.increments import OP_MEMORY, OP_TTL_SECONDS, make_increment
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
from agentmem_sqlite.columns import (
    document_tokens,
    from_micros,
    query_tokens,
    tags_json,
    to_micros,
)
from agentmem_sqlite.connection import abandon, connect, create_private_file, is_busy, retrying
from agentmem_sqlite.options import SQLiteOptions, parse_url
from agentmem_sqlite.schema import check_ownership, migrate
from agentmem_sqlite.vector_cache import CachedVectors

__all__ = ["SQLiteStore", "open_sqlite_store"]

log = logging.getLogger("agentmem.sqlite.store")

T = TypeVar("T")
Conn = aiosqlite.Connection

_LIVE: Final = "(expires_at IS NULL OR expires_at > ?)"
_SWEEP_BATCH: Final = 500
_PRUNE_EVERY: Final = 64
_UPSERT: Final = """
INSERT INTO records (kind, namespace, id, version, created_at, updated_at, expires_at,
                     tags, blob, terms, doc_len)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, namespace, id) DO UPDATE SET
    version = excluded.version, created_at = excluded.created_at,
    updated_at = excluded.updated_at, expires_at = excluded.expires_at,
    tags = excluded.tags, blob = excluded.blob, terms = excluded.terms,
    doc_len = excluded.doc_len
"""
# A record's vector row follows its upsert in the same transaction (rid looked up by the
# unique address); a record written without an embedding loses its vector row.
_VECTOR_PUT: Final = (
    "INSERT OR REPLACE INTO vectors (rid, scope, dim, scale, codes) "
    "SELECT rid, ?, ?, ?, ? FROM records WHERE kind = ? AND namespace = ? AND id = ?"
)
_VECTOR_DROP: Final = (
    "DELETE FROM vectors WHERE rid = "
    "(SELECT rid FROM records WHERE kind = ? AND namespace = ? AND id = ?)"
)
_OPS_PRUNE_EVERY: Final = 64
"""Increments with an op id between two prunes of the applied_ops table."""

_INSERT_CHANGE: Final = (
    "INSERT INTO changes (op, kind, namespace, id, version, origin, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _sound(t: str = "") -> str:
    """SQL that is 1 when a row's derived columns have the types this store writes.

    A row edited by hand or damaged on disk (text in ``version`` or ``expires_at``,
    ``tags`` that are not a JSON array of strings) would otherwise make SQL comparisons
    and Python arithmetic fail for every query that meets it; such a row is corrupt.
    CASE, unlike AND, is guaranteed to evaluate lazily: JSON functions raise on bad JSON.
    """
    # Only fixed fragments: ``t`` is "" or "r." (a table alias), never data.
    return (
        f"(typeof({t}version) = 'integer' AND typeof({t}created_at) = 'integer' "  # noqa: S608
        f"AND typeof({t}updated_at) = 'integer' AND typeof({t}expires_at) IN ('integer', 'null') "
        f"AND typeof({t}doc_len) = 'integer' AND typeof({t}terms) = 'text' "
        f"AND CASE WHEN NOT json_valid({t}tags) THEN 0 "
        f"WHEN json_type({t}tags) != 'array' THEN 0 "
        f"ELSE NOT EXISTS (SELECT 1 FROM json_each({t}tags) WHERE type != 'text') END)"
    )


_SOUND: Final = _sound()
_SOUND_R: Final = _sound("r.")

# One query for a batch of refs: json_each feeds (kind, namespace, id) triples to an
# index lookup, with no limit on the number of SQL variables.
_CURRENT_MANY: Final = (
    "SELECT r.kind, r.namespace, r.id, r.version, r.created_at, r.expires_at, "  # noqa: S608
    f"{_SOUND_R} FROM json_each(?) AS w "
    "JOIN records AS r ON r.kind = json_extract(w.value, '$[0]') "
    "AND r.namespace = json_extract(w.value, '$[1]') AND r.id = json_extract(w.value, '$[2]')"
)


class _Current:
    """What a write transaction needs to know about the row it replaces.

    A corrupt row (see :func:`_sound`) counts as absent: a put replaces it, a delete
    removes it silently, like an expired row.
    """

    __slots__ = ("created_at", "expires_at", "version")

    def __init__(self, version: int, created_at: int, expires_at: int | None) -> None:
        self.version = version
        self.created_at = created_at
        self.expires_at = expires_at

    @classmethod
    def of(cls, version: Any, created_at: Any, expires_at: Any, sound: Any) -> _Current:
        if not sound:
            return cls(0, 0, -1)  # expired at the epoch: not live
        return cls(version, created_at, expires_at)

    def live(self, now: int) -> bool:
        return self.expires_at is None or self.expires_at > now


def _refs_json(refs: Iterable[Ref]) -> str:
    return json.dumps([[r.kind, r.namespace, r.id] for r in refs], ensure_ascii=False)


class SQLiteStore(StoreBase):
    """A :class:`~agentmem.MemoryStore` in one SQLite file (WAL, FTS5, change log).

    Open it with ``await open_store("sqlite:///path/to/file.db")`` or
    ``await SQLiteStore.open(url)``. See docs/backends/sqlite.md.
    """

    def __init__(
        self,
        url: str,
        path: str,
        options: SQLiteOptions,
        writer: Conn,
        reader: Conn,
        *,
        origin: str | None,
        clock: Clock | None,
        codec: Codec,
    ) -> None:
        super().__init__(origin=origin, clock=clock)
        self._url = url
        self._path = path
        self._options = options
        self._writer = writer
        self._reader = reader
        self._codec = codec
        self._write_lock = asyncio.Lock()
        self._scopes: dict[tuple[str, str], int] = {}
        # This process's copies of the collections it searched by vector (vector_cache).
        self._vectors: dict[int, CachedVectors] = {}
        self._writes_since_prune = 0
        self._ops_since_prune = 0
        self._capabilities = Capabilities(
            cross_process=True, durable=True, increment=True, vector_search=True
        )
        self._cleanup: asyncio.Future[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        if options.sweep_interval > 0:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_forever(), name=f"agentmem-sqlite-sweep:{path}"
            )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        origin: str | None = None,
        clock: Clock | None = None,
        codec: Codec | None = None,
        **options: Any,
    ) -> SQLiteStore:
        """Open (creating and migrating if needed) the file a ``sqlite://`` URL names."""
        path, parsed = parse_url(url, options)
        codec = codec or Codec()
        create_private_file(path)
        writer = await connect(path, parsed, reader=False)
        reader: Conn | None = None
        try:
            await _prepare_file(writer, codec, path, parsed)
            reader = await connect(path, parsed, reader=True)
            return cls(url, path, parsed, writer, reader, origin=origin, clock=clock, codec=codec)
        except BaseException:
            await writer.close()
            if reader is not None:
                await reader.close()
            raise

    # -- properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return self._path

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- plumbing -----------------------------------------------------------------------

    def _now(self) -> tuple[datetime, int]:
        now = self.now()
        return now, to_micros(now)

    async def _read(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        self._check_open()
        reader = self._reader
        try:
            return await retrying(
                lambda: op(reader), bound=self._options.busy_timeout, path=self._path
            )
        except ValueError as exc:
            # aiosqlite's "Connection closed": the store was closed while this call waited.
            if self._closed:
                raise StoreClosed(f"{self._path} was closed during the call") from exc
            raise

    async def _write(self, body: Callable[[Conn, dict[tuple[str, str], int]], Awaitable[T]]) -> T:
        """Run ``body`` in a ``BEGIN IMMEDIATE`` transaction, retried while locked.

        ``body`` gets the writer and a dict where it records scopes it created; they are
        cached only once the transaction commits.
        """
        self._check_open()
        async with self._write_lock:
            new_scopes: dict[tuple[str, str], int] = {}

            async def attempt() -> T:
                new_scopes.clear()
                return await self._transaction(body, new_scopes)

            try:
                result = await retrying(attempt, bound=self._options.busy_timeout, path=self._path)
            except ValueError as exc:
                if self._closed:
                    raise StoreClosed(f"{self._path} was closed during the call") from exc
                raise
            self._scopes.update(new_scopes)
            return result

    async def _transaction(
        self,
        body: Callable[[Conn, dict[tuple[str, str], int]], Awaitable[T]],
        new_scopes: dict[tuple[str, str], int],
    ) -> T:
        conn = self._writer
        if self._cleanup is not None:
            # A cancelled writer's rollback must run before our BEGIN; shielded so that
            # cancelling us does not cancel it.
            await asyncio.shield(self._cleanup)
            self._cleanup = None
        try:
            await conn.execute("BEGIN IMMEDIATE")
            result = await body(conn, new_scopes)
            self._writes_since_prune += 1
            if self._writes_since_prune >= _PRUNE_EVERY:
                await self._prune_changes(conn)
            await conn.execute("COMMIT")
        except asyncio.CancelledError:
            # The statement we were awaiting (BEGIN waiting for another process's lock,
            # say) still runs on the connection's thread. Queue the rollback behind it in
            # a task, so the caller's cancellation takes effect now, not after the lock.
            self._cleanup = asyncio.ensure_future(self._rollback(conn))
            raise
        except BaseException:
            await self._rollback(conn)
            raise
        return result

    async def _rollback(self, conn: Conn) -> None:
        # Unconditional: sqlite3's rollback() is a no-op outside a transaction.
        try:
            await conn.rollback()
        except sqlite3.Error:
            log.exception("rollback failed on %s", self._path)

    async def _prune_changes(self, conn: Conn) -> None:
        self._writes_since_prune = 0
        await conn.execute(
            "DELETE FROM changes WHERE seq <= "
            "(SELECT seq FROM sqlite_sequence WHERE name = 'changes') - ?",
            (self._options.retention,),
        )

    async def _scope(
        self, conn: Conn, kind: str, namespace: str, new: dict[tuple[str, str], int]
    ) -> int:
        key = (kind, namespace)
        scope = self._scopes.get(key) or new.get(key)
        if scope is None:
            rows = await conn.execute_fetchall(
                "INSERT INTO scopes (kind, namespace) VALUES (?, ?) "
                "ON CONFLICT (kind, namespace) DO UPDATE SET kind = excluded.kind "
                "RETURNING scope",
                (kind, namespace),
            )
            ((scope,),) = rows
            new[key] = scope
        return int(scope)

    async def _current(self, conn: Conn, refs: Sequence[Ref]) -> dict[Ref, _Current]:
        if len(refs) == 1:
            (ref,) = refs
            rows = await conn.execute_fetchall(
                "SELECT kind, namespace, id, version, created_at, expires_at, "  # noqa: S608
                f"{_SOUND} FROM records WHERE kind = ? AND namespace = ? AND id = ?",
                (ref.kind, ref.namespace, ref.id),
            )
        else:
            rows = await conn.execute_fetchall(_CURRENT_MANY, (_refs_json(set(refs)),))
        return {Ref(k, n, i): _Current.of(v, c, e, ok) for k, n, i, v, c, e, ok in rows}

    def _row(self, stored: Record, scope: int) -> tuple[object, ...]:
        ref = stored.ref
        assert stored.created_at is not None
        assert stored.updated_at is not None
        terms, doc_len = document_tokens(scope, stored.text, stored.tags)
        return (
            ref.kind,
            ref.namespace,
            ref.id,
            stored.version,
            to_micros(stored.created_at),
            to_micros(stored.updated_at),
            None if stored.expires_at is None else to_micros(stored.expires_at),
            tags_json(stored.tags),
            self._codec.encode(stored),
            terms,
            doc_len,
        )

    def _change(
        self, op: Literal["put", "delete"], ref: Ref, version: int, now: int
    ) -> tuple[object, ...]:
        return (op, ref.kind, ref.namespace, ref.id, version, self.origin, now)

    def _decode(self, blob: bytes, ref: Ref) -> Record:
        return self._codec.decode(blob, expect=ref)

    def _decode_or_skip(self, blob: Any, ref: Ref, sound: Any) -> Record | None:
        """For reads of many records: a corrupt row is reported and skipped (None)."""
        try:
            if not sound:
                raise CorruptRecord(f"damaged index columns in {self._path}")
            return self._decode(blob, ref)
        except CorruptRecord as exc:
            self.corruption.report(ref, exc)
            return None

    # -- writes -------------------------------------------------------------------------

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        self._check_open()
        expected = check_expected_version(expected_version)
        if not isinstance(record, Record):
            raise InvalidInput(f"expected a Record, got {type(record).__name__}")
        now, now_us = self._now()
        ref = record.ref

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> Record:
            scope = await self._scope(conn, ref.kind, ref.namespace, new)
            current = (await self._current(conn, [ref])).get(ref)
            live = current is not None and current.live(now_us)
            actual = current.version if current is not None and live else 0
            check_version(ref, expected, actual)
            created = from_micros(current.created_at) if current is not None and live else now
            stored = record.stored(version=actual + 1, created_at=created, updated_at=now)
            await conn.execute(_UPSERT, self._row(stored, scope))
            await _write_vectors(conn, [(stored, scope)])
            await conn.execute(_INSERT_CHANGE, self._change("put", ref, stored.version, now_us))
            return stored

        return await self._write(body)

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        self._check_open()
        records = list(records)
        for record in records:
            if not isinstance(record, Record):
                raise InvalidInput(f"expected a Record, got {type(record).__name__}")
        if not records:
            return []
        now, now_us = self._now()

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> list[Record]:
            current = await self._current(conn, [r.ref for r in records])
            latest: dict[Ref, Record] = {}
            staged: list[Record] = []
            rows: list[tuple[object, ...]] = []
            scoped: list[tuple[Record, int]] = []
            for record in records:
                ref = record.ref
                prior = latest.get(ref)
                if prior is not None:
                    stored = record.stored(
                        version=prior.version + 1,
                        created_at=prior.created_at or now,
                        updated_at=now,
                    )
                else:
                    row = current.get(ref)
                    live = row is not None and row.live(now_us)
                    stored = record.stored(
                        version=row.version + 1 if row is not None and live else 1,
                        created_at=from_micros(row.created_at) if row is not None and live else now,
                        updated_at=now,
                    )
                latest[ref] = stored
                staged.append(stored)
                scope = await self._scope(conn, ref.kind, ref.namespace, new)
                rows.append(self._row(stored, scope))
                scoped.append((stored, scope))
            await conn.executemany(_UPSERT, rows)
            await _write_vectors(conn, scoped)
            await conn.executemany(
                _INSERT_CHANGE, [self._change("put", s.ref, s.version, now_us) for s in staged]
            )
            return staged

        return await self._write(body)

    async def import_many(self, records: Sequence[Record]) -> int:
        self._check_open()
        records = list(records)
        for record in records:
            if not isinstance(record, Record) or record.version < 1:
                raise InvalidInput("import_many needs records that carry a version >= 1")
        if not records:
            return 0
        now, now_us = self._now()

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> int:
            # Like the reference store: each record is compared with what was stored
            # before the batch, and the batch is applied in order.
            current = await self._current(conn, [r.ref for r in records])
            rows: list[tuple[object, ...]] = []
            scoped: list[tuple[Record, int]] = []
            changes: list[tuple[object, ...]] = []
            for record in records:
                ref = record.ref
                row = current.get(ref)
                if row is not None and row.live(now_us) and row.version >= record.version:
                    continue
                stored = record.stored(
                    version=record.version,
                    created_at=record.created_at or now,
                    updated_at=record.updated_at or now,
                )
                scope = await self._scope(conn, ref.kind, ref.namespace, new)
                rows.append(self._row(stored, scope))
                scoped.append((stored, scope))
                changes.append(self._change("put", ref, stored.version, now_us))
            await conn.executemany(_UPSERT, rows)
            await _write_vectors(conn, scoped)
            await conn.executemany(_INSERT_CHANGE, changes)
            return len(rows)

        return await self._write(body)

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
        now, now_us = self._now()
        key = (ref.kind, ref.namespace, ref.id)

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> Record:
            # One IMMEDIATE transaction: read, op-id check, write and op-id note together.
            rows = list(
                await conn.execute_fetchall(
                    "SELECT blob, expires_at FROM records "
                    "WHERE kind = ? AND namespace = ? AND id = ?",
                    key,
                )
            )
            current: Record | None = None
            if rows and (rows[0][1] is None or rows[0][1] > now_us):
                current = self._decode(rows[0][0], ref)
            if current is not None and op_id is not None:
                seen = await conn.execute_fetchall(
                    "SELECT 1 FROM applied_ops WHERE kind = ? AND namespace = ? AND id = ? "
                    "AND op_id = ?",
                    (*key, op_id),
                )
                if seen:
                    return current
            scope = await self._scope(conn, ref.kind, ref.namespace, new)
            stored = delta.apply(ref, current, now).stored(
                version=current.version + 1 if current else 1,
                created_at=current.created_at or now if current else now,
                updated_at=now,
            )
            await conn.execute(_UPSERT, self._row(stored, scope))
            await _write_vectors(conn, [(stored, scope)])
            await conn.execute(_INSERT_CHANGE, self._change("put", ref, stored.version, now_us))
            if op_id is not None:
                await conn.execute(
                    "INSERT OR REPLACE INTO applied_ops (kind, namespace, id, op_id, at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (*key, op_id, now_us),
                )
                self._ops_since_prune += 1
                if self._ops_since_prune >= _OPS_PRUNE_EVERY:
                    self._ops_since_prune = 0
                    await self._prune_ops(conn, key, now_us)
            return stored

        return await self._write(body)

    async def _prune_ops(self, conn: Conn, key: tuple[str, str, str], now_us: int) -> None:
        """Bounded memory: the newest OP_MEMORY op ids per record, none past OP_TTL."""
        await conn.execute(
            "DELETE FROM applied_ops WHERE at < ?", (now_us - OP_TTL_SECONDS * 10**6,)
        )
        await conn.execute(
            "DELETE FROM applied_ops WHERE kind = ? AND namespace = ? AND id = ? AND "
            "op_id NOT IN (SELECT op_id FROM applied_ops WHERE kind = ? AND "
            "namespace = ? AND id = ? ORDER BY at DESC LIMIT ?)",
            (*key, *key, OP_MEMORY),
        )

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        self._check_open()
        check_refs([ref])
        expected = check_expected_version(expected_version)
        _, now_us = self._now()

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> bool:
            current = (await self._current(conn, [ref])).get(ref)
            live = current is not None and current.live(now_us)
            actual = current.version if current is not None and live else 0
            check_version(ref, expected, actual)
            if current is None:
                return False
            # An expired row is reclaimed here too, silently: expiry emits no change.
            await conn.execute(
                "DELETE FROM records WHERE kind = ? AND namespace = ? AND id = ?",
                (ref.kind, ref.namespace, ref.id),
            )
            if live:
                await conn.execute(_INSERT_CHANGE, self._change("delete", ref, actual, now_us))
            return live

        return await self._write(body)

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        self._check_open()
        refs = list(check_refs(refs))
        if not refs:
            return 0
        _, now_us = self._now()

        async def body(conn: Conn, new: dict[tuple[str, str], int]) -> int:
            current = await self._current(conn, refs)
            doomed = list(dict.fromkeys(ref for ref in refs if ref in current))
            live = [ref for ref in doomed if current[ref].live(now_us)]
            await conn.executemany(
                "DELETE FROM records WHERE kind = ? AND namespace = ? AND id = ?",
                [(ref.kind, ref.namespace, ref.id) for ref in doomed],
            )
            await conn.executemany(
                _INSERT_CHANGE,
                [self._change("delete", ref, current[ref].version, now_us) for ref in live],
            )
            return len(live)

        return await self._write(body)

    # -- reads --------------------------------------------------------------------------

    async def get(self, ref: Ref) -> Record | None:
        self._check_open()
        check_refs([ref])
        _, now_us = self._now()
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                f"SELECT blob, {_SOUND} FROM records "  # noqa: S608
                "WHERE kind = ? AND namespace = ? AND id = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (ref.kind, ref.namespace, ref.id, now_us),
            )
        )
        for blob, sound in rows:
            if not sound:
                raise CorruptRecord(
                    f"{ref} has damaged index columns in {self._path} (a wrong type in "
                    "version, times, tags or terms); delete it (agentmem doctor)"
                )
            return self._decode(blob, ref)
        return None

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        self._check_open()
        refs = list(check_refs(refs))
        if not refs:
            return []
        _, now_us = self._now()
        payload = _refs_json(dict.fromkeys(refs))
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                f"SELECT r.kind, r.namespace, r.id, r.blob, {_SOUND_R} "  # noqa: S608
                "FROM json_each(?) AS w "
                "JOIN records AS r ON r.kind = json_extract(w.value, '$[0]') "
                "AND r.namespace = json_extract(w.value, '$[1]') "
                "AND r.id = json_extract(w.value, '$[2]') "
                "WHERE r.expires_at IS NULL OR r.expires_at > ?",
                (payload, now_us),
            )
        )
        found: dict[Ref, Record] = {}
        for kind, namespace, rid, blob, sound in rows:
            ref = Ref(kind, namespace, rid)
            record = self._decode_or_skip(blob, ref, sound)
            if record is not None:
                found[ref] = record
        return [found.get(ref) for ref in refs]

    async def collections(self) -> list[tuple[str, str]]:
        """Every (kind, namespace) that holds records, sorted (the unique index answers it).
        Used by :func:`agentmem.corruption.find_corrupt` to check a whole store."""
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                "SELECT DISTINCT kind, namespace FROM records ORDER BY kind, namespace"
            )
        )
        return [(str(kind), str(namespace)) for kind, namespace in rows]

    async def count(self, kind: str, namespace: str) -> int:
        self._check_open()
        check_kind_namespace(kind, namespace)
        _, now_us = self._now()
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                "SELECT count(*) FROM records WHERE kind = ? AND namespace = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (kind, namespace, now_us),
            )
        )
        ((n,),) = rows
        return int(n)

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
        since = check_aware("since", since)
        until = check_aware("until", until)
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidInput(f"cursor must be a str or None, got {cursor!r}")
        _, now_us = self._now()
        # Only fixed SQL fragments are joined; every value is a parameter.
        clauses = ["kind = ?", "namespace = ?", _LIVE]
        params: list[object] = [kind, namespace, now_us]
        if cursor is not None:
            clauses.append("id > ?")
            params.append(cursor)
        if since is not None:
            clauses.append("updated_at >= ?")
            params.append(to_micros(since))
        if until is not None:
            clauses.append("updated_at < ?")
            params.append(to_micros(until))
        if wanted:
            # A corrupt row passes the tag filter, so it is reported rather than hidden;
            # json_each is only reached for rows whose tags are a JSON array.
            clauses.append(
                f"CASE WHEN {_SOUND} THEN NOT EXISTS (SELECT 1 FROM json_each(?) AS w "  # noqa: S608
                "WHERE w.value NOT IN (SELECT value FROM json_each(records.tags))) ELSE 1 END"
            )
            params.append(tags_json(wanted))
        params.append(limit + 1)
        where = " AND ".join(clauses)
        sql = (
            f"SELECT id, blob, {_SOUND} FROM records WHERE {where} "  # noqa: S608
            "ORDER BY id LIMIT ?"
        )
        rows = list(await self._read(lambda conn: conn.execute_fetchall(sql, params)))
        records = []
        for rid, blob, sound in rows[:limit]:
            record = self._decode_or_skip(blob, Ref(kind, namespace, rid), sound)
            if record is not None:
                records.append(record)
        more = len(rows) > limit
        # The last id examined, so a page of skipped (corrupt) rows still moves on.
        return Page(records, rows[limit - 1][0] if more else None)

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
        terms = textmod.query_terms(text)
        if not terms:
            return []
        _, now_us = self._now()
        stats = list(
            await self._read(
                lambda conn: conn.execute_fetchall(
                    "SELECT scope, n_docs, total_len FROM scopes WHERE kind = ? AND namespace = ?",
                    (kind, namespace),
                )
            )
        )
        if not stats:
            return []
        ((scope, n_docs, total_len),) = stats
        tokens = query_tokens(scope, text)
        # Tokens are [a-z0-9]+ by construction; quoting them is belt and braces.
        match = " OR ".join(f'"{token}"' for token in tokens)
        candidates = await self._read(
            lambda conn: conn.execute_fetchall(
                f"SELECT r.id, r.terms, r.doc_len, r.tags, r.expires_at, {_SOUND_R} "  # noqa: S608
                "FROM records_fts JOIN records AS r ON r.rid = records_fts.rowid "
                "WHERE records_fts MATCH ?",
                (match,),
            )
        )
        # Score exactly as agentmem.text does; statistics cover the collection, expired
        # records not yet swept included, just as the reference store's index does.
        docs: list[tuple[str, Counter[str], int]] = []
        doc_freqs: Counter[str] = Counter()
        for rid, doc_terms, doc_len, tag_list, expires_at, sound in candidates:
            if not sound:
                self.corruption.report(
                    Ref(kind, namespace, rid),
                    CorruptRecord(f"damaged index columns in {self._path}"),
                )
                continue
            counts = Counter(tokens[t] for t in doc_terms.split() if t in tokens)
            doc_freqs.update(counts.keys())
            if expires_at is not None and expires_at <= now_us:
                continue
            if wanted and not wanted.issubset(json.loads(tag_list)):
                continue
            docs.append((rid, counts, doc_len))
        avg_len = total_len / n_docs if n_docs else 0.0
        scored = [
            (
                -textmod.bm25(
                    terms,
                    counts,
                    doc_len=doc_len,
                    avg_len=avg_len,
                    n_docs=n_docs,
                    doc_freqs=doc_freqs,
                ),
                rid,
            )
            for rid, counts, doc_len in docs
        ]
        best = heapq.nsmallest(limit, scored)
        if not best:
            return []
        ids = json.dumps([rid for _, rid in best], ensure_ascii=False)
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                "SELECT id, blob FROM records WHERE kind = ? AND namespace = ? "
                "AND id IN (SELECT value FROM json_each(?)) "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (kind, namespace, ids, now_us),
            )
        )
        blobs = {rid: blob for rid, blob in rows}
        # A hit deleted between the two queries (by another connection) is left out, and
        # so is one whose bytes cannot be decoded (reported).
        hits = []
        for neg, rid in best:
            if rid not in blobs:
                continue
            record = self._decode_or_skip(blobs[rid], Ref(kind, namespace, rid), True)
            if record is not None:
                hits.append(Hit(record, -neg))
        return hits

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
        """Exact cosine k-nearest-neighbour search over the ``vectors`` table.

        Reads only the collection's codes (live, tag-filtered, of the query's length),
        scores them in one pass and decodes just the winners. A winner that turns out
        corrupt (or was deleted meanwhile) is skipped and the next best takes its place.
        """
        self._check_open()
        check_kind_namespace(kind, namespace)
        limit = check_limit(limit)
        wanted = check_tags(tags)
        unit = check_query(vector)
        scope = await self._scope_of(kind, namespace)
        if scope is None:
            return []
        if not wanted and self._options.vector_cache and vector_index.available():
            return await self._nearest_cached(unit, kind, namespace, scope, limit)
        _, now_us = self._now()
        clauses = ["v.scope = ?", "v.dim = ?", "typeof(v.codes) = 'blob'", "length(v.codes) = ?"]
        params: list[object] = [scope, len(unit), len(unit)]
        clauses.append("(r.expires_at IS NULL OR r.expires_at > ?)")
        params.append(now_us)
        if wanted:
            # As in scan(): a corrupt row passes, so fetching it reports it.
            clauses.append(
                f"CASE WHEN {_SOUND_R} THEN NOT EXISTS (SELECT 1 FROM json_each(?) AS w "  # noqa: S608
                "WHERE w.value NOT IN (SELECT value FROM json_each(r.tags))) ELSE 1 END"
            )
            params.append(tags_json(wanted))
        sql = (
            "SELECT r.id, v.codes FROM vectors AS v JOIN records AS r ON r.rid = v.rid "  # noqa: S608
            f"WHERE {' AND '.join(clauses)}"
        )
        rows = await self._read(lambda conn: conn.execute_fetchall(sql, params))
        ids = [str(row[0]) for row in rows]
        codes = [bytes(row[1]) for row in rows]
        return await fetch_winners(
            self, kind, namespace, lambda want: rank_codes(unit, ids, codes, want), limit
        )

    async def _nearest_cached(
        self, unit: list[float], kind: str, namespace: str, scope: int, limit: int
    ) -> list[Hit]:
        """``nearest`` over this process's copy of the collection's vectors (see
        :mod:`agentmem_sqlite.vector_cache`); expired records fall out when fetched."""
        cache = self._vectors.get(scope)
        if cache is None:
            cache = self._vectors[scope] = CachedVectors()
        async with cache.lock:
            await self._read(lambda conn: cache.catch_up(conn, scope))
        ids = cache.ids

        def rank(want: int) -> list[tuple[str, float]]:
            ranked = cache.index.search(unit, want, order=ids.__getitem__)
            return [(ids[rid], score) for rid, score in ranked]

        return await fetch_winners(self, kind, namespace, rank, limit)

    async def _scope_of(self, kind: str, namespace: str) -> int | None:
        scope = self._scopes.get((kind, namespace))
        if scope is not None:
            return scope
        rows = list(
            await self._read(
                lambda conn: conn.execute_fetchall(
                    "SELECT scope FROM scopes WHERE kind = ? AND namespace = ?",
                    (kind, namespace),
                )
            )
        )
        return int(rows[0][0]) if rows else None

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
        """The sequence number of the newest change ever logged in this file."""
        rows = await self._read(
            lambda conn: conn.execute_fetchall(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"
            )
        )
        ((seq,),) = rows
        return str(seq)

    async def read_changes(
        self,
        after: str,
        *,
        limit: int,
        timeout: float,
    ) -> list[Change]:
        """Changes after ``after`` (a sequence number), polling the table until ``timeout``."""
        try:
            position = int(after)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"not a sqlite:// change cursor: {after!r}") from exc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._closed:
            try:
                rows = await self._read(
                    lambda conn: conn.execute_fetchall(
                        "SELECT seq, op, kind, namespace, id, version, origin, at FROM changes "
                        "WHERE seq > ? ORDER BY seq LIMIT ?",
                        (position, limit),
                    )
                )
            except (ValueError, StoreClosed):
                if self.closed:  # the store closed while this poll was queued
                    return []
                raise
            if rows:
                return [_change_from_row(row) for row in rows]
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(self._options.poll_interval, remaining))
        return []

    # -- expiry -------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Delete expired records (and their index entries) now; returns how many.

        Runs in batches so other writers are never locked out for long. Also prunes the
        change log to its retention bound. The background task calls this periodically.
        """
        removed = 0
        while True:
            _, now_us = self._now()

            async def body(
                conn: Conn, new: dict[tuple[str, str], int], now_us: int = now_us
            ) -> int:
                cur = await conn.execute(
                    "DELETE FROM records WHERE rid IN (SELECT rid FROM records "
                    "WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
                    (now_us, _SWEEP_BATCH),
                )
                if cur.rowcount < _SWEEP_BATCH:
                    await self._prune_changes(conn)
                return int(cur.rowcount)

            batch = await self._write(body)
            removed += batch
            if batch < _SWEEP_BATCH:
                break
        if removed:
            log.debug("swept %d expired records from %s", removed, self._path)
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._options.sweep_interval)
            if self._closed:
                return
            try:
                await self.sweep()
            except BackendUnavailable as exc:
                log.warning("expiry sweep of %s skipped, will retry: %s", self._path, exc)
            except Exception:
                log.exception("expiry sweep of %s failed, will retry", self._path)

    # -- lifecycle ----------------------------------------------------------------------

    async def ping(self) -> None:
        self._check_open()
        await self._read(lambda conn: conn.execute_fetchall("SELECT 1"))

    def _abandon(self) -> None:
        # Interpreter exit with the store never closed: the loop is gone, so close both
        # connections on their own threads (committed writes are already durable).
        abandon(self._writer)
        abandon(self._reader)

    async def _close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        # Let a write in flight finish before the connection goes away.
        async with self._write_lock:
            if self._cleanup is not None:
                await self._cleanup
            await self._writer.close()
        await self._reader.close()


async def _write_vectors(conn: Conn, scoped: Sequence[tuple[Record, int]]) -> None:
    """Bring the vector rows of just-upserted records in line (the last write of a ref
    in the batch wins, as it does for the record)."""
    last: dict[Ref, tuple[Record, int]] = {}
    for stored, scope in scoped:
        last.pop(stored.ref, None)
        last[stored.ref] = (stored, scope)
    puts: list[tuple[object, ...]] = []
    drops: list[tuple[object, ...]] = []
    for stored, scope in last.values():
        ref, e = stored.ref, stored.embedding
        if e is None:
            drops.append((ref.kind, ref.namespace, ref.id))
        else:
            puts.append((scope, e.dimensions, e.scale, e.codes, ref.kind, ref.namespace, ref.id))
    if drops:
        await conn.executemany(_VECTOR_DROP, drops)
    if puts:
        await conn.executemany(_VECTOR_PUT, puts)


def _change_from_row(row: Any) -> Change:
    seq, op, kind, namespace, rid, version, origin, at = row
    try:
        ref = Ref(kind, namespace, rid)
    except InvalidInput as exc:
        raise CorruptRecord(f"change log entry {seq} names an invalid ref: {exc}") from exc
    if op not in ("put", "delete"):
        raise CorruptRecord(f"change log entry {seq} has unknown op {op!r}")
    return Change(op, ref, int(version), str(origin), from_micros(at), str(seq))


async def _prepare_file(writer: Conn, codec: Codec, path: str, options: SQLiteOptions) -> None:
    """Switch the file to WAL and bring its schema up to date, once per open."""

    async def set_wal() -> None:
        ((mode,),) = await writer.execute_fetchall("PRAGMA journal_mode = WAL")
        if str(mode).lower() != "wal":
            log.warning(
                "%s could not switch to WAL (journal_mode=%s); readers may wait", path, mode
            )

    async def migrate_once() -> None:
        if writer.in_transaction:
            await writer.rollback()
        try:
            await writer.execute("BEGIN IMMEDIATE")
            await migrate(writer, codec, path)
            await writer.execute("COMMIT")
        except BaseException:
            await writer.rollback()  # queued behind a BEGIN a cancellation left pending
            raise

    try:
        # Refuse another application's file before touching it, journal mode included.
        await retrying(lambda: check_ownership(writer, path), bound=options.busy_timeout, path=path)
        await retrying(set_wal, bound=options.busy_timeout, path=path)
        await retrying(migrate_once, bound=options.busy_timeout, path=path)
    except BackendUnavailable as exc:
        if is_busy(exc.__cause__ or exc):
            raise  # locked for longer than busy_timeout: transient
        raise ConfigurationError(f"cannot open SQLite file {path}: {exc}") from exc
    except (CorruptRecord, sqlite3.Error) as exc:
        raise ConfigurationError(f"cannot open SQLite file {path}: {exc}") from exc


async def open_sqlite_store(url: str, **options: Any) -> SQLiteStore:
    """Opener for ``sqlite://`` URLs (registered by :mod:`agentmem_sqlite.plugin`)."""
    return await SQLiteStore.open(url, **options)
