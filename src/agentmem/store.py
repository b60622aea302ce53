"""The store contract: value types, capabilities and the :class:`MemoryStore` protocol.

Every backend (ours and third parties') implements :class:`MemoryStore`; the contract
suite in :mod:`agentmem.testing` checks that it keeps the rules written here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, runtime_checkable

from agentmem.errors import ConflictError, InvalidInput
from agentmem.vectors import Embedding

if TYPE_CHECKING:
    from types import TracebackType

    from agentmem.changes import ChangeStream

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_NAMESPACE_LENGTH",
    "MAX_TAG_LENGTH",
    "WATCH_FROM_START",
    "Body",
    "Capabilities",
    "Change",
    "Clock",
    "Hit",
    "MemoryStore",
    "Page",
    "Record",
    "Ref",
    "utcnow",
]

Body = dict[str, Any]
"""A record's payload: plain data that msgpack carries (str, bytes, int, float, bool,
None, lists, str-keyed dicts) plus timezone-aware datetimes."""

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware UTC datetime; injectable for tests."""

WATCH_FROM_START = "0"
"""Pass as ``since=`` to :meth:`MemoryStore.watch` to replay every retained change."""

MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 256
MAX_TAG_LENGTH = 128
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def utcnow() -> datetime:
    """The default clock: the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _check_name(what: str, value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is {len(value)} characters long; the maximum is {max_length}")
    for ch in value:
        category = unicodedata.category(ch)
        # Control characters and lone surrogates cannot travel safely through keys, SQL
        # identifiers' neighbours or UTF-8; refuse them rather than guess an escape.
        if category in ("Cc", "Cs"):
            raise InvalidInput(f"{what} contains the control character {ch!r}")
    return value


def check_aware(what: str, value: datetime | None) -> datetime | None:
    """Reject naive datetimes: a time without a zone means different instants on different hosts."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware (got naive {value!r})")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """The address of a record: its kind, the namespace it lives in, and its id.

    >>> Ref("episodic", "team-a", "ep-1")
    Ref(kind='episodic', namespace='team-a', id='ep-1')

    ``kind`` is a lower-case identifier (``[a-z][a-z0-9_]*``, at most 32 characters);
    ``namespace`` and ``id`` are any non-empty text without control characters. Backends
    escape them, so no id can reach another namespace or act as a pattern.
    """

    kind: str
    namespace: str
    id: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _KIND_RE.fullmatch(self.kind):
            raise InvalidInput(f"kind must match [a-z][a-z0-9_]{{0,31}}, got {self.kind!r}")
        _check_name("namespace", self.namespace, MAX_NAMESPACE_LENGTH)
        _check_name("id", self.id, MAX_ID_LENGTH)


def _normalize_tags(tags: Iterable[str]) -> frozenset[str]:
    if isinstance(tags, str):
        raise InvalidInput("tags must be a collection of str, not a single str")
    return frozenset(_check_name("tag", t, MAX_TAG_LENGTH) for t in tags)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One stored item: its address, payload, searchable text, tags and bookkeeping.

    Callers set ``ref``, ``body``, ``text``, ``tags`` and ``expires_at``; the store sets
    ``version`` (1 on creation, +1 on every put), ``created_at`` and ``updated_at``.

    >>> Record(ref=Ref("semantic", "shared", "k1"), body={"pattern": "retry"},
    ...        text="retry with backoff", tags={"network"}).tags
    frozenset({'network'})
    """

    ref: Ref
    body: Body = field(default_factory=dict)
    text: str = ""
    tags: AbstractSet[str] = frozenset()
    """Stored as a frozenset; any set of str may be passed."""
    expires_at: datetime | None = None
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    embedding: Embedding | None = None
    """The text's vector, for :meth:`MemoryStore.nearest`; stored as int8 with a scale. A
    list of floats may be passed: it is quantized (:meth:`Embedding.quantize`)."""

    def __post_init__(self) -> None:
        given: object = self.embedding
        if given is not None and not isinstance(given, Embedding):
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise InvalidInput("embedding must be an Embedding or a sequence of floats")
            object.__setattr__(self, "embedding", Embedding.quantize(given))
        if not isinstance(self.ref, Ref):
            raise InvalidInput(f"ref must be a Ref, not {type(self.ref).__name__}")
        if not isinstance(self.body, Mapping):
            raise InvalidInput(f"body must be a dict, not {type(self.body).__name__}")
        if not isinstance(self.text, str):
            raise InvalidInput(f"text must be a str, not {type(self.text).__name__}")
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 0:
            raise InvalidInput(f"version must be a non-negative int, got {self.version!r}")
        object.__setattr__(self, "body", dict(self.body))
        object.__setattr__(self, "tags", _normalize_tags(self.tags))
        object.__setattr__(self, "expires_at", check_aware("expires_at", self.expires_at))
        object.__setattr__(self, "created_at", check_aware("created_at", self.created_at))
        object.__setattr__(self, "updated_at", check_aware("updated_at", self.updated_at))

    def is_expired(self, now: datetime) -> bool:
        """True when the record has an expiry time at or before ``now``."""
        return self.expires_at is not None and self.expires_at <= now

    def stored(self, *, version: int, created_at: datetime, updated_at: datetime) -> Record:
        """This record as a store returns it after a write."""
        return Record(
            ref=self.ref,
            body=self.body,
            text=self.text,
            tags=self.tags,
            expires_at=self.expires_at,
            version=version,
            created_at=created_at,
            updated_at=updated_at,
            embedding=self.embedding,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the record and its relevance score (higher is better)."""

    record: Record
    score: float

    @property
    def ref(self) -> Ref:
        return self.record.ref


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a :meth:`MemoryStore.scan`; pass ``cursor`` back to get the next one.

    ``cursor`` is None on the last page.
    """

    records: list[Record]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """A put or delete, as :meth:`MemoryStore.watch` delivers it.

    ``cursor`` identifies this change in the store's feed: ``watch(since=change.cursor)``
    resumes right after it. ``version`` is the version written (put) or removed (delete).
    """

    op: Literal["put", "delete"]
    ref: Ref
    version: int
    origin: str
    at: datetime
    cursor: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Which optional guarantees a store makes; the contract suite skips what is not claimed."""

    search: bool = True
    watch: bool = True
    ttl: bool = True
    compare_and_set: bool = True
    cross_process: bool = False
    """Several processes (or machines) opening the same URL share one store."""
    durable: bool = False
    """Acknowledged writes survive a restart of the process that made them."""
    increment: bool = False
    """:meth:`MemoryStore.increment` applies commutative updates atomically (and
    idempotently by ``op_id``). Off by default so that a third-party store written before
    it existed is not tested for it; agentmem's stores all claim it."""
    vector_search: bool = False
    """Records keep their embedding and :meth:`MemoryStore.nearest` finds them by vector."""


@runtime_checkable
class MemoryStore(Protocol):
    """What every backend implements. All I/O methods are coroutines.

    Stores are opened by :func:`agentmem.open_store` (or a backend's own ``open()``) and
    used as async context managers::

        async with await open_store("sqlite:///tmp/mem.db") as store:
            rec = await store.put(Record(ref=Ref("skill", "shared", "deploy"), text="deploy"))
            assert (await store.get(rec.ref)).version == 1
    """

    @property
    def url(self) -> str:
        """The URL the store was opened with, with any password masked."""
        ...

    @property
    def origin(self) -> str:
        """Who this store writes as (an agent id); carried in every :class:`Change`."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        """Store ``record``; return it with its new version and timestamps.

        ``expected_version`` makes the put a compare-and-set: ``0`` means "must not exist",
        ``n`` means "must currently be at version n"; a mismatch raises
        :class:`~agentmem.errors.ConflictError`.
        """
        ...

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        """Store several records in one batch (one round trip or one transaction)."""
        ...

    async def get(self, ref: Ref) -> Record | None:
        """The live record at ``ref``, or None if it is absent or expired."""
        ...

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        """Like :meth:`get` for many refs in one batch; the result keeps the refs' order."""
        ...

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        """Remove the record; True if a live record was removed."""
        ...

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        """Remove several records in one batch; return how many live records were removed."""
        ...

    async def count(self, kind: str, namespace: str) -> int:
        """How many live records of ``kind`` are in ``namespace``."""
        ...

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
        """List live records in id order, ``limit`` at a time.

        ``tags`` keeps records carrying all of them; ``since``/``until`` bound
        ``updated_at`` (``since <= updated_at < until``).
        """
        ...

    async def search(
        self,
        kind: str,
        namespace: str,
        text: str,
        *,
        limit: int = 10,
        tags: Iterable[str] | None = None,
    ) -> list[Hit]:
        """Ranked keyword search over records' text and tags (see :mod:`agentmem.text`).

        A record matches when it shares at least one token with ``text``; hits are ordered
        by descending BM25 score. Any ``text`` is plain words: there is no query syntax.
        """
        ...

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """The ``limit`` live records of ``kind`` in ``namespace`` (carrying all ``tags``)
        whose embeddings are nearest to ``vector`` by cosine similarity, best first.

        ``Hit.score`` is the cosine similarity (-1..1); ties go to the smaller id. Records
        without an embedding, or with one of another length, are never returned.
        Only stores whose :attr:`Capabilities.vector_search` is true implement it.
        """
        ...

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        """An async iterator of changes, optionally filtered by kind and namespace.

        ``since=None`` delivers changes made after the stream starts (``async with`` or
        the first ``__anext__``); ``since=change.cursor`` resumes after a change seen
        earlier; :data:`WATCH_FROM_START` replays everything retained.
        """
        ...

    async def import_many(self, records: Sequence[Record]) -> int:
        """Write records exactly as given (version and timestamps kept), skipping each one
        whose stored version is already equal or newer. Returns how many were written.

        Used to replay a failover outbox, refill an emptied server and import exports.
        """
        ...

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
        """Apply a commutative update to the body of the record at ``ref``, atomically.

        ``add`` adds to numeric fields, ``append`` extends list fields, ``maximum`` keeps
        the larger of the stored and the given value; a missing field starts at 0, ``[]``
        or the given value, and a missing record is created (empty text, no tags). ``ttl``
        sets ``expires_at`` to now + ttl (None keeps the record's expiry). The version
        goes up by one. An ``op_id`` the store has already applied to this record (it
        remembers the last :data:`agentmem.increments.OP_MEMORY`) is not applied again:
        the current record is returned. Stores that claim ``capabilities.increment``
        implement it; see :mod:`agentmem.increments`.
        """
        ...

    async def ping(self) -> None:
        """Raise :class:`~agentmem.errors.BackendUnavailable` unless the backend answers."""
        ...

    async def close(self) -> None:
        """Release connections; calling it again does nothing."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def check_limit(limit: int, *, maximum: int = 10_000) -> int:
    """Validate a page or result size."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise InvalidInput(f"limit must be an int between 1 and {maximum}, got {limit!r}")
    return limit


def check_expected_version(expected_version: int | None) -> int | None:
    """Validate the ``expected_version`` argument of put and delete."""
    if expected_version is None:
        return None
    if (
        not isinstance(expected_version, int)
        or isinstance(expected_version, bool)
        or expected_version < 0
    ):
        raise InvalidInput(
            f"expected_version must be None or an int >= 0, got {expected_version!r}"
        )
    return expected_version


def check_version(ref: Ref, expected: int | None, actual: int) -> None:
    """Raise :class:`~agentmem.errors.ConflictError` unless ``expected`` (when given)
    equals the record's current version (0 when absent or expired)."""
    if expected is not None and expected != actual:
        raise ConflictError(
            f"{ref} is at version {actual}, expected {expected}", expected=expected, actual=actual
        )


def check_refs(refs: Sequence[Ref]) -> Sequence[Ref]:
    """Validate a batch of refs."""
    for ref in refs:
        if not isinstance(ref, Ref):
            raise InvalidInput(f"expected a Ref, got {type(ref).__name__}")
    return refs


def check_kind_namespace(kind: str, namespace: str) -> None:
    """Validate a (kind, namespace) pair by building a throwaway Ref."""
    Ref(kind, namespace, "_")


def check_tags(tags: Iterable[str] | None) -> frozenset[str]:
    """Validate a tag filter; an absent filter is the empty set."""
    return frozenset() if tags is None else _normalize_tags(tags)
