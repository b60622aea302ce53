"""Corrupt records: skipped by reads of many records, reported once, found and removed.

One record whose stored bytes (or, on SQLite, whose index columns) cannot be decoded
must not take every search down with it. So the rule on every backend is:

- reads of many records (``search``, ``scan``, ``get_many``, and everything built on them:
  the memory layer's searches, context, consolidation, export) **skip** such a record,
  log it once per store at WARNING with its ref (logger ``agentmem.corruption``) and count
  it in the store's :class:`CorruptionLog` (``store.corruption``);
- ``get`` of that record raises :class:`~agentmem.errors.CorruptRecord`, so reading the
  one record you asked for never hides the damage.

:func:`find_corrupt` and :func:`delete_corrupt` are what ``agentmem doctor`` runs::

    refs = await find_corrupt(store)                      # the whole store
    refs = await find_corrupt(store, "episodic", "shared") # or one collection
    removed = await delete_corrupt(store, refs)

Backends call :func:`report` (or their :class:`CorruptionLog`) when they skip a record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from agentmem.errors import ConfigurationError, CorruptRecord, InvalidInput
from agentmem.store import MemoryStore, Ref

__all__ = [
    "CorruptionLog",
    "collections",
    "corrupt_count",
    "delete_corrupt",
    "find_corrupt",
    "report",
]

log = logging.getLogger("agentmem.corruption")

_SCAN_PAGE: Final = 500

# The refs skipped while find_corrupt() runs, in the task that runs it (and the tasks it
# starts, which copy the context and so share the list).
_collecting: ContextVar[list[Ref] | None] = ContextVar("agentmem_corrupt_refs", default=None)


class CorruptionLog:
    """The corrupt records one store has skipped (each logged once, at WARNING)."""

    def __init__(self, where: str | Callable[[], str]) -> None:
        self._where = where
        self._refs: set[Ref] = set()

    @property
    def count(self) -> int:
        """How many distinct corrupt records this store has skipped so far."""
        return len(self._refs)

    @property
    def refs(self) -> frozenset[Ref]:
        """The refs of those records."""
        return frozenset(self._refs)

    def report(self, ref: Ref, error: BaseException) -> None:
        """Record that ``ref`` was skipped because of ``error``."""
        collector = _collecting.get()
        if collector is not None:
            collector.append(ref)
        if ref in self._refs:
            return
        self._refs.add(ref)
        log.warning(
            "skipping corrupt record %s/%s/%s in %s: %s",
            ref.kind,
            ref.namespace,
            ref.id,
            self._where if isinstance(self._where, str) else self._where(),
            error,
        )

    def forget(self, ref: Ref) -> None:
        """Drop ``ref`` from the log (it was deleted or rewritten)."""
        self._refs.discard(ref)


_unowned = CorruptionLog("a store without a corruption log")


def _log_of(store: object) -> CorruptionLog:
    found = getattr(store, "corruption", None)
    return found if isinstance(found, CorruptionLog) else _unowned


def report(store: object, ref: Ref, error: BaseException) -> None:
    """Report a skipped record to ``store``'s :class:`CorruptionLog` (for code above the
    store, e.g. the memory layer, finding a body it cannot read)."""
    _log_of(store).report(ref, error)


def _components(store: object) -> Iterator[object]:
    """``store`` and, for routing stores, the stores it routes to."""
    yield store
    for name in ("primary", "fallback", "fast", "durable"):
        inner = getattr(store, name, None)
        if inner is not None and inner is not store:
            yield from _components(inner)


def corrupt_count(store: MemoryStore) -> int:
    """How many distinct corrupt records ``store`` (and the stores a routing store routes
    to) has skipped since it was opened."""
    refs: set[Ref] = set()
    for component in _components(store):
        refs |= _log_of(component).refs
    return len(refs)


@contextmanager
def _collect() -> Iterator[list[Ref]]:
    found: list[Ref] = []
    token = _collecting.set(found)
    try:
        yield found
    finally:
        _collecting.reset(token)


async def collections(store: MemoryStore) -> list[tuple[str, str]]:
    """Every (kind, namespace) of ``store`` that holds records, for stores that can list
    them (``collections()``: memory://, sqlite://, redis://); a routing store lists those
    of the stores it routes to. A store that cannot is a ConfigurationError."""
    found: set[tuple[str, str]] = set()
    listed = False
    for component in _components(store):
        lister = getattr(component, "collections", None)
        if callable(lister):
            found.update(await lister())
            listed = True
    if not listed:
        raise ConfigurationError(
            f"{type(store).__name__} cannot list its collections: pass kind= and namespace= "
            "to find_corrupt"
        )
    return sorted(found)


async def find_corrupt(
    store: MemoryStore, kind: str | None = None, namespace: str | None = None
) -> list[Ref]:
    """The refs of every corrupt record, sorted: of ``kind`` in ``namespace`` when both are
    given, else of every collection the store holds (see :func:`collections`).

    Reads each collection once (paged scans); each corrupt record is also logged and
    counted like any skipped record. ``agentmem doctor`` calls ``find_corrupt(store)``.
    """
    if (kind is None) != (namespace is None):
        raise InvalidInput("give both kind and namespace, or neither (the whole store)")
    if kind is not None and namespace is not None:
        targets = [(kind, namespace)]
    else:
        targets = await collections(store)
    wanted = set(targets)
    with _collect() as found:
        for target_kind, target_namespace in targets:
            cursor: str | None = None
            while True:
                page = await store.scan(
                    target_kind, target_namespace, limit=_SCAN_PAGE, cursor=cursor
                )
                cursor = page.cursor
                if cursor is None:
                    break
    return sorted({ref for ref in found if (ref.kind, ref.namespace) in wanted})


async def delete_corrupt(store: MemoryStore, refs: Sequence[Ref]) -> int:
    """Delete the records of ``refs`` that are still corrupt; returns how many.

    Each ref is checked first (``get`` must still raise CorruptRecord), so a record
    rewritten since :func:`find_corrupt` ran is kept.
    """
    doomed: list[Ref] = []
    for ref in dict.fromkeys(refs):
        try:
            await store.get(ref)
        except CorruptRecord:
            doomed.append(ref)
    if not doomed:
        return 0
    await store.delete_many(doomed)
    for ref in doomed:
        for component in _components(store):
            _log_of(component).forget(ref)
    log.info("deleted %d corrupt record(s) from %s", len(doomed), store.url)
    return len(doomed)
