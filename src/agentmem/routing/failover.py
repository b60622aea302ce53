"""FailoverStore: the primary while it answers, the fallback at once when it does not.

Failure model in one paragraph (docs/failover.md has the long form): only
:class:`~agentmem.errors.BackendUnavailable` from the primary, or a primary call that
outlives ``call_timeout``, opens the circuit. While it is open every call goes straight
to the fallback, and every write is first journalled in an outbox kept *in the fallback*
(write-ahead: entry, then write). A background probe (tenacity: exponential backoff with
jitter, capped) pings the primary; when it answers, a primary that lost its data (its
epoch marker is missing or new) is refilled from the fallback, the outbox is replayed in
order with ``import_many`` (versions kept; the higher version wins), and the circuit
closes. While healthy, every write the primary acknowledged is mirrored into the
fallback with the primary's version, so the fallback always holds this agent's data.

Increments are journalled as deltas with an op id and replayed as the same deltas, so
counters are exact through any outage. A compare-and-set made while degraded is carried
only if the primary still holds the version it was based on; each one that is not is a
:class:`~agentmem.routing.conflicts.ReplayConflict` given to ``on_conflict`` and counted
in :attr:`FailoverStore.stats`; ``strict=True`` refuses compare-and-set while degraded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential, wait_random

from agentmem.base import StoreBase
from agentmem.changes import ChangeSource, ChangeStream
from agentmem.errors import AgentMemError, BackendUnavailable, ConfigurationError, InvalidInput
from agentmem.increments import make_increment
from agentmem.routing.conflicts import (
    CompareAndSetWhileDegraded,
    ConflictCallback,
    ConflictLedger,
    ReplayConflict,
)
from agentmem.routing.epoch import FallbackMeta, ensure_primary_epoch, read_epoch
from agentmem.routing.health import FailoverStats, RoutingState, call_with_timeout, same_content
from agentmem.routing.journal import journal_name, migrate_journals
from agentmem.routing.outbox import Outbox, OutboxEntry
from agentmem.routing.redact import redact_text
from agentmem.routing.replay import refill, replay_entries
from agentmem.routing.rollback import AckWindow
from agentmem.routing.tombstones import DEFAULT_TOMBSTONE_TTL, TOMB_KIND, tombstone
from agentmem.routing.urls import failover_url
from agentmem.store import (
    Capabilities,
    Change,
    Clock,
    Hit,
    MemoryStore,
    Page,
    Record,
    Ref,
    check_refs,
)

__all__ = ["FailoverStore"]

log = logging.getLogger("agentmem.routing")

T = TypeVar("T")


def _check_records(records: Iterable[Record]) -> list[Record]:
    batch = list(records)
    for record in batch:
        if not isinstance(record, Record):
            raise InvalidInput(f"expected a Record, got {type(record).__name__}")
    return batch


class FailoverStore(StoreBase):
    """Route to ``primary``; on an outage answer from ``fallback`` and catch up later.

    >>> import asyncio
    >>> from agentmem.inmemory import InMemoryStore
    >>> from agentmem.store import Record, Ref
    >>> async def demo():
    ...     async with FailoverStore(InMemoryStore(), InMemoryStore()) as store:
    ...         await store.put(Record(ref=Ref("skill", "ns", "a"), text="deploy"))
    ...         return store.state, store.available
    >>> asyncio.run(demo())
    (<RoutingState.HEALTHY: 'healthy'>, True)

    Parameters:
        call_timeout: seconds a primary call may take before it counts as an outage.
        probe_initial, probe_max, probe_jitter: the probe's backoff (seconds): waits grow
            exponentially from ``probe_initial``, capped at ``probe_max``, plus random
            jitter up to ``probe_jitter``.
        epoch_check_interval: while healthy, how often (seconds) to check that the primary
            still holds its epoch marker (a quick restart without persistence would go
            unnoticed otherwise); None turns the check off.
        journal: the namespace of this store's outbox and bookkeeping in the fallback
            (default: :func:`~agentmem.routing.journal.journal_name` of the primary's
            URL: no secret, no client-side tuning). Stores sharing one fallback for
            different primaries need different journals.
        legacy_journals: journal names earlier releases may have used; what they hold
            is moved into ``journal`` at start (the primary's reported URL is tried too
            when ``journal`` is derived).
        replay_batch: outbox entries replayed per round.
        owns_stores: close both stores when this one closes.
        strict: refuse compare-and-set (``put``/``delete`` with ``expected_version``) while
            degraded with :class:`~agentmem.routing.conflicts.CompareAndSetWhileDegraded`
            instead of taking it on the fallback and checking it at replay.
        on_conflict: called (a function or a coroutine function) with each
            :class:`~agentmem.routing.conflicts.ReplayConflict`: a write made while
            degraded that replay did not carry into the primary.
    """

    def __init__(
        self,
        primary: MemoryStore,
        fallback: MemoryStore,
        *,
        call_timeout: float = 0.5,
        probe_initial: float = 0.05,
        probe_max: float = 5.0,
        probe_jitter: float = 0.1,
        epoch_check_interval: float | None = 5.0,
        journal: str | None = None,
        legacy_journals: Sequence[str] = (),
        replay_batch: int = 256,
        owns_stores: bool = True,
        origin: str | None = None,
        clock: Clock | None = None,
        strict: bool = False,
        on_conflict: ConflictCallback | None = None,
    ) -> None:
        super().__init__(origin=origin or primary.origin, clock=clock)
        if call_timeout <= 0 or probe_initial < 0 or probe_max < probe_initial or probe_jitter < 0:
            raise InvalidInput(
                "need call_timeout > 0 and 0 <= probe_initial <= probe_max, probe_jitter >= 0"
            )
        self._primary_store = primary
        self._fallback = fallback
        self._call_timeout = call_timeout
        # Exponential from probe_initial, capped at probe_max, plus up to probe_jitter of
        # random delay so that many agents do not probe a returning server in lockstep.
        self._probe_wait = wait_exponential(
            multiplier=probe_initial, min=probe_initial, max=probe_max
        ) + wait_random(0, probe_jitter)
        self._epoch_check_interval = epoch_check_interval
        self._replay_batch = replay_batch
        self._owns_stores = owns_stores
        namespace = journal or journal_name(primary.url)
        self._journal = namespace
        self._legacy = list(legacy_journals)
        # The old default name came from the URL the primary reports, which changes
        # when a deferred primary opens: try it at start and again on recovery.
        self._legacy_from_primary = journal is None or bool(legacy_journals)
        self._migrated: set[str] = set()
        self._outbox = Outbox(fallback, namespace)
        self._meta = FallbackMeta(fallback, namespace)
        self._strict = strict
        self._ledger = ConflictLedger(on_conflict, lambda: self._outbox.next_seq)
        # Refs whose increments were replayed in this recovery: their fallback copies are
        # replaced by the primary's (which holds every agent's deltas) before it closes.
        self._incremented: set[Ref] = set()
        # Refs with a put journalled in this outage: the fallback copy then carries this
        # agent's state, which replay imports, so a later increment of the same record is
        # journalled as a put too (its delta is in that state; sending it again would
        # count it twice).
        self._state_refs: set[Ref] = set()
        self._state = RoutingState.HEALTHY
        self._epoch: str | None = None
        self._failovers = 0
        self._replayed = 0
        self._lost = 0
        self._refills = 0
        # Losers logged in the current recovery, so refill and replay report each once.
        self._reported: set[tuple[Ref, int]] = set()
        self._started = False
        self._start_lock = asyncio.Lock()
        self._probe_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        # Writers journalling right now, so replay never reads an entry before its write.
        self._inflight_ids: set[str] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # Closed only while the last entries are replayed and the circuit closes.
        self._gate = asyncio.Event()
        self._gate.set()
        self._healthy = asyncio.Event()
        self._healthy.set()
        # The last writes the primary acknowledged: one restored from an older snapshot
        # no longer holds them (rollback.py).
        self._acks = AckWindow()

    # -- observable state ----------------------------------------------------------------

    @property
    def state(self) -> RoutingState:
        """healthy, degraded, recovering or misconfigured."""
        return self._state

    @property
    def available(self) -> bool:
        """True while calls go to the primary (the circuit is closed)."""
        return self._state is RoutingState.HEALTHY

    @property
    def stats(self) -> FailoverStats:
        """Counters: failovers, replayed and pending outbox entries, lost conflicts, refills."""
        return FailoverStats(
            state=self._state,
            failovers=self._failovers,
            replayed=self._replayed,
            pending=self._outbox.pending,
            lost=self._lost,
            refills=self._refills,
            conflicts=self._ledger.count,
        )

    @property
    def conflicts(self) -> list[ReplayConflict]:
        """The latest replay conflicts (up to 1,000), oldest first."""
        return list(self._ledger.recent)

    @property
    def strict(self) -> bool:
        """True when compare-and-set is refused while degraded."""
        return self._strict

    @property
    def primary(self) -> MemoryStore:
        return self._primary_store

    @property
    def fallback(self) -> MemoryStore:
        return self._fallback

    @property
    def url(self) -> str:
        return failover_url(self._primary_store.url, self._fallback.url)

    @property
    def capabilities(self) -> Capabilities:
        p, f = self._primary_store.capabilities, self._fallback.capabilities
        return Capabilities(
            search=p.search and f.search,
            watch=p.watch,
            ttl=p.ttl and f.ttl,
            compare_and_set=p.compare_and_set and f.compare_and_set,
            cross_process=p.cross_process,
            durable=p.durable or f.durable,
            increment=p.increment and f.increment,
            vector_search=p.vector_search and f.vector_search,
        )

    async def wait_until_healthy(self, within: float | None = None) -> bool:
        """Wait until the circuit is closed; False if ``within`` seconds pass first."""
        await self._ensure_started()  # an outbox left by an earlier run opens the circuit
        try:
            async with asyncio.timeout(within):
                await self._healthy.wait()
        except TimeoutError:
            return False
        return True

    async def check_primary(self) -> None:
        """Check now that the primary answers and still holds its data (else fail over).

        The background watchdog does this every ``epoch_check_interval`` seconds.
        """
        await self._ensure_started()
        if self._state is not RoutingState.HEALTHY:
            return
        try:
            epoch = await self._call_primary(read_epoch)
        except BackendUnavailable as exc:
            self._open_circuit(f"{exc}")
            return
        if epoch != self._epoch:
            self._open_circuit(
                f"an epoch marker is {'gone' if epoch is None else 'new'}: it lost data"
            )
            return
        try:
            why = await self._acks.evidence(self._call_primary, self.now())
        except BackendUnavailable as exc:
            self._open_circuit(f"{exc}")
            return
        if why:
            self._open_circuit(f"it went back in time: {why}")

    # -- circuit ---------------------------------------------------------------------------

    async def _call_primary(self, op: Callable[[MemoryStore], Awaitable[T]]) -> T:
        primary = self._primary_store
        return await call_with_timeout(
            f"primary {primary.url}", self._call_timeout, lambda: op(primary)
        )

    def _open_circuit(self, reason: str) -> None:
        if self._closed:
            return
        if self._state is RoutingState.HEALTHY:
            self._state = RoutingState.DEGRADED
            self._healthy.clear()
            self._failovers += 1
            log.warning(
                "primary %s unavailable (%s): answering from fallback %s until it recovers",
                self._primary_store.url,
                reason,
                self._fallback.url,
            )
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = asyncio.get_running_loop().create_task(
                self._probe(), name=f"agentmem failover probe {self._primary_store.url}"
            )
            self._probe_task.add_done_callback(self._probe_done)

    def _close_circuit(self) -> None:
        self._state = RoutingState.HEALTHY
        self._state_refs.clear()
        self._healthy.set()
        log.info(
            "primary %s recovered: circuit closed (replayed %d outbox entries so far, "
            "%d lost to newer versions)",
            self._primary_store.url,
            self._replayed,
            self._lost,
        )

    def _probe_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("failover probe stopped", exc_info=task.exception())

    def _log_probe_failure(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        if isinstance(exc, ConfigurationError):
            # Found only now because the primary was down at open (wrong password, ...):
            # say so once, show it in state, keep writes in the fallback, keep probing
            # quietly in case the configuration is fixed on the server side.
            if self._state is not RoutingState.MISCONFIGURED:
                self._state = RoutingState.MISCONFIGURED
                log.error(
                    "primary %s refuses this configuration (%s): staying on fallback %s, "
                    "writes are kept there; fix the primary URL and restart",
                    self._primary_store.url,
                    redact_text(str(exc)),
                    self._fallback.url,
                )
            else:
                log.debug("primary still misconfigured: %s", redact_text(str(exc)))
        elif isinstance(exc, BackendUnavailable):
            log.debug("primary still unavailable (%s); next probe in %.2fs", exc, wait)
        else:
            log.error("failover recovery failed; retrying in %.2fs", wait, exc_info=exc)

    async def _probe(self) -> None:
        while not self._closed and self._state is not RoutingState.HEALTHY:
            retrying = AsyncRetrying(
                wait=self._probe_wait,
                retry=retry_if_exception_type(Exception),
                before_sleep=self._log_probe_failure,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    await self._recover_once()

    async def _recover_once(self) -> None:
        await self._call_primary(lambda p: p.ping())
        self._state = RoutingState.RECOVERING
        self._reported.clear()
        self._ledger.start_recovery()
        try:
            if await self._migrate():
                await self._outbox.load()
            epoch, _created = await self._call_primary(ensure_primary_epoch)
            seen = await self._meta.seen_epoch()
            if seen is not None and seen != epoch:
                log.warning(
                    "primary %s came back without its data (epoch %s, last seen %s): "
                    "refilling it from fallback %s",
                    self._primary_store.url,
                    epoch,
                    seen,
                    self._fallback.url,
                )
                await self._refill()
            elif why := await self._acks.evidence(self._call_primary, self.now()):
                log.warning(
                    "primary %s went back in time (%s): refilling it from fallback %s",
                    self._primary_store.url,
                    why,
                    self._fallback.url,
                )
                await self._refill()
            if seen != epoch:
                await self._meta.remember_epoch(epoch)
            self._epoch = epoch
            await self._drain()
        except BaseException:
            if self._state is RoutingState.RECOVERING:
                self._state = RoutingState.DEGRADED
            raise

    async def _refill(self) -> None:
        self._lost += await refill(
            self._meta.collections,
            primary=self._call_primary,
            fallback=self._fallback,
            reported=self._reported,
        )
        self._refills += 1
        log.info("refilled primary %s from the fallback", self._primary_store.url)

    async def _replay_round(self) -> bool:
        entries = await self._outbox.read(self._replay_batch)
        ready: list[OutboxEntry] = []
        for entry in entries:
            if entry.entry_id in self._inflight_ids:
                break  # its write is still under way; keep journal order
            ready.append(entry)
        if not ready:
            return False
        self._lost += await replay_entries(
            ready,
            primary=self._call_primary,
            fallback=self._fallback,
            reported=self._reported,
            ledger=self._ledger,
            incremented=self._incremented,
            forget=self._outbox.remove,
        )
        await self._outbox.remove([e.entry_id for e in ready])
        self._replayed += len(ready)
        return True

    async def _drain(self) -> None:
        while await self._replay_round():
            pass
        # Hold new fallback writes for the last few entries, so none is journalled after
        # the final round and then left behind when calls return to the primary.
        self._gate.clear()
        try:
            await self._idle.wait()
            while await self._replay_round():
                pass
            await self._resync()
            self._close_circuit()
        finally:
            self._gate.set()

    async def _resync(self) -> None:
        """Give the fallback the primary's copy of every record whose copies diverged.

        After increments were replayed as deltas, or a compare-and-set write was not
        carried, this agent's fallback copy is its local view, not the record: replace it
        (even by a lower version) so reads during the next outage, and its mirror checks,
        start from the primary's state. Runs with new fallback writes held at the gate.
        """
        refs = sorted(self._incremented | self._ledger.unsettled)
        for start in range(0, len(refs), self._replay_batch):
            await self._resync_batch(refs[start : start + self._replay_batch])
        self._incremented.clear()
        self._ledger.unsettled.clear()

    async def _resync_batch(self, batch: list[Ref]) -> None:
        theirs = await self._call_primary(lambda p: p.get_many(batch))
        ours = await self._fallback.get_many(batch)
        for mine, primary_copy in zip(ours, theirs, strict=True):
            if primary_copy is None:
                continue
            if mine is not None and mine.version >= primary_copy.version:
                if mine.version == primary_copy.version and same_content(mine, primary_copy):
                    continue
                # import_many keeps the higher version: remove ours first.
                await self._fallback.delete(mine.ref)
            await self._fallback.import_many([primary_copy])

    # -- start-up and background -------------------------------------------------------------

    async def _ensure_started(self) -> None:
        self._check_open()
        if self._started:
            return
        async with self._start_lock:
            await self._start_once()

    async def _start_once(self) -> None:
        if self._started:
            return  # another caller started it while we waited for the lock
        await self._migrate()
        await self._meta.load_collections()
        pending = await self._outbox.load()
        if pending:
            self._state_refs = await self._outbox.put_refs()
            self._open_circuit(f"{pending} outbox entries from an earlier run wait")
        else:
            await self._sync_epoch()
        self._started = True
        if self._epoch_check_interval:
            self._watchdog_task = asyncio.get_running_loop().create_task(
                self._watchdog(self._epoch_check_interval),
                name=f"agentmem failover watchdog {self._primary_store.url}",
            )

    async def _migrate(self) -> int:
        """Move what older journal names hold into this journal (once per name)."""
        names = list(self._legacy)
        if self._legacy_from_primary:
            names.append(f"failover {self._primary_store.url}"[:256])
        todo = [n for n in names if n not in self._migrated and n != self._journal]
        if not todo:
            return 0
        moved = await migrate_journals(self._fallback, self._journal, todo)
        self._migrated.update(todo)
        if moved:
            await self._meta.load_collections()
        return moved

    async def _sync_epoch(self) -> None:
        try:
            epoch, _created = await self._call_primary(ensure_primary_epoch)
        except BackendUnavailable as exc:
            self._open_circuit(f"{exc}")
            return
        seen = await self._meta.seen_epoch()
        if seen is None:
            await self._meta.remember_epoch(epoch)
        elif seen != epoch:
            self._open_circuit(f"its epoch changed from {seen} to {epoch}: it lost its data")
            return
        self._epoch = epoch

    async def _watchdog(self, interval: float) -> None:
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.check_primary()
            except Exception:
                log.exception("failover watchdog check failed")

    # -- routing ---------------------------------------------------------------------------

    async def _read(self, op: Callable[[MemoryStore], Awaitable[T]]) -> T:
        await self._ensure_started()
        if self._state is RoutingState.HEALTHY:
            try:
                return await self._call_primary(op)
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
        return await op(self._fallback)

    async def _degraded_turn(self) -> bool:
        """True when the caller must use the fallback now (after the gate, if closed)."""
        while self._state is not RoutingState.HEALTHY:
            if self._gate.is_set():
                return True
            await self._gate.wait()
        return False

    async def _journalled(
        self, entries: list[OutboxEntry], op: Callable[[MemoryStore], Awaitable[T]]
    ) -> T:
        ids = self._outbox.new_ids(len(entries))
        self._inflight_ids.update(ids)
        self._idle.clear()
        try:
            await self._outbox.append(ids, entries)
            try:
                return await op(self._fallback)
            except AgentMemError as exc:
                # A refused write (conflict, bad input) never happened: drop its entries. An
                # unavailable fallback may have taken it: keep them, replay is idempotent.
                if not isinstance(exc, BackendUnavailable):
                    await self._outbox.remove(ids)
                raise
        finally:
            self._inflight_ids.difference_update(ids)
            if not self._inflight_ids:
                self._idle.set()

    async def _mirror(self, stored: Sequence[Record]) -> None:
        """Copy what the primary acknowledged into the fallback, keeping its versions."""
        self._acks.note(stored)
        written = await self._fallback.import_many(stored)
        if written == len(stored):
            return
        latest = {record.ref: record for record in stored}
        current = await self._fallback.get_many(list(latest))
        regressed = [
            mine
            for mine, held in zip(latest.values(), current, strict=True)
            if held is not None
            and held.version >= mine.version
            and not same_content(held, mine)
            and held.updated_at is not None
            and mine.updated_at is not None
            and held.updated_at < mine.updated_at
        ]
        if not regressed:
            return  # a later write of ours got there first
        # The primary numbered a new write at or below an older copy we hold: it lost
        # its data. Keep the new write as a journalled fallback write above the old copy,
        # and let recovery refill the primary.
        self._open_circuit(
            f"it numbered {regressed[0].ref} v{regressed[0].version}, below the v"
            "ersion the fallback holds: it lost its data"
        )
        now = self.now()
        await self._journalled(
            [OutboxEntry("put", r.ref, now) for r in regressed],
            lambda f: f.put_many(regressed),
        )

    # -- the contract ------------------------------------------------------------------------

    async def put(self, record: Record, *, expected_version: int | None = None) -> Record:
        (record,) = _check_records([record])
        await self._ensure_started()
        await self._meta.note_collections([record.ref])
        failed: BackendUnavailable | None = None
        while True:
            if await self._degraded_turn():
                self._refuse_if_strict(expected_version, record.ref, failed)
                self._state_refs.add(record.ref)
                return await self._journalled(
                    [OutboxEntry("put", record.ref, self.now(), expected=expected_version)],
                    lambda f: f.put(record, expected_version=expected_version),
                )
            try:
                stored = await self._call_primary(
                    lambda p: p.put(record, expected_version=expected_version)
                )
            except BackendUnavailable as exc:
                failed = exc
                self._open_circuit(f"{exc}")
                continue
            await self._mirror([stored])
            return stored

    def _refuse_if_strict(
        self, expected_version: int | None, ref: Ref, failed: BackendUnavailable | None
    ) -> None:
        if not self._strict or expected_version is None:
            return
        unknown = (
            f"; the primary failed during this call ({failed}), so it may have applied "
            "the write: read the record before retrying"
            if failed is not None
            else ""
        )
        raise CompareAndSetWhileDegraded(
            f"compare-and-set on {ref} refused: primary {self._primary_store.url} is "
            f"unavailable ({self._state.value}) and this failover store is strict{unknown}",
            primary_may_have_applied=failed is not None,
        )

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
        """Apply the delta on the primary; while degraded, on the fallback and journalled
        as the delta (never the state), replayed later with the same op id."""
        check_refs([ref])
        # Every increment gets an op id: a primary call that timed out may still have
        # been applied, and the replay of its journalled delta must then do nothing.
        delta = make_increment(
            add=add,
            append=append,
            maximum=maximum,
            ttl=ttl,
            op_id=uuid.uuid4().hex[:20] if op_id is None else op_id,
        )
        await self._ensure_started()
        await self._meta.note_collections([ref])

        async def apply(store: MemoryStore) -> Record:
            return await store.increment(
                ref,
                add=delta.add,
                append=delta.append,
                maximum=delta.maximum,
                ttl=delta.ttl,
                op_id=delta.op_id,
            )

        while True:
            if await self._degraded_turn():
                if ref in self._state_refs:
                    entry = OutboxEntry("put", ref, self.now())
                else:
                    entry = OutboxEntry("increment", ref, self.now(), delta=delta.to_body())
                return await self._journalled([entry], apply)
            try:
                stored = await self._call_primary(apply)
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
                continue
            await self._mirror([stored])
            return stored

    async def put_many(self, records: Sequence[Record]) -> list[Record]:
        batch = _check_records(records)
        await self._ensure_started()
        if not batch:
            return []
        await self._meta.note_collections([r.ref for r in batch])
        while True:
            if await self._degraded_turn():
                now = self.now()
                self._state_refs.update(r.ref for r in batch)
                return await self._journalled(
                    [OutboxEntry("put", r.ref, now) for r in batch],
                    lambda f: f.put_many(batch),
                )
            try:
                stored = await self._call_primary(lambda p: p.put_many(batch))
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
                continue
            await self._mirror(stored)
            return stored

    async def import_many(self, records: Sequence[Record]) -> int:
        batch = _check_records(records)
        await self._ensure_started()
        if not batch:
            return 0
        await self._meta.note_collections([r.ref for r in batch])
        while True:
            if await self._degraded_turn():
                now = self.now()
                self._state_refs.update(r.ref for r in batch)
                return await self._journalled(
                    [OutboxEntry("put", r.ref, now) for r in batch],
                    lambda f: f.import_many(batch),
                )
            try:
                written = await self._call_primary(lambda p: p.import_many(batch))
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
                continue
            await self._fallback.import_many(batch)
            return written

    async def _bury(self, deleted: Sequence[Record | None], *, in_primary: bool) -> None:
        """Leave tombstones of deleted records (tombstones.py): in the fallback always,
        in the primary when it took the delete, so no refill brings them back."""
        now = self.now()
        tombs = [tombstone(r, now, DEFAULT_TOMBSTONE_TTL) for r in deleted if r is not None]
        if not tombs:
            return
        if in_primary:
            try:
                await self._call_primary(lambda p: p.import_many(tombs))
            except BackendUnavailable as exc:
                # The fallback's copy is restored into the primary on its next refill.
                self._open_circuit(f"{exc}")
        await self._fallback.import_many(tombs)

    async def delete(self, ref: Ref, *, expected_version: int | None = None) -> bool:
        check_refs([ref])
        await self._ensure_started()
        failed: BackendUnavailable | None = None
        await self._meta.note_collections([ref])
        while True:
            if await self._degraded_turn():
                self._refuse_if_strict(expected_version, ref, failed)
                held = await self._fallback.get(ref)
                version = expected_version or (held.version if held else 0)
                removed = await self._journalled(
                    [OutboxEntry("delete", ref, self.now(), version, expected=expected_version)],
                    lambda f: f.delete(ref, expected_version=expected_version),
                )
                await self._bury([held] if removed else [], in_primary=False)
                return removed
            try:
                held = await self._call_primary(lambda p: p.get(ref))
                removed = await self._call_primary(
                    lambda p: p.delete(ref, expected_version=expected_version)
                )
            except BackendUnavailable as exc:
                failed = exc
                self._open_circuit(f"{exc}")
                continue
            self._acks.forget([ref])
            await self._bury([held] if removed else [], in_primary=True)
            # Drop our copy too, or a later refill would bring the record back.
            await self._fallback.delete(ref)
            return removed

    async def delete_many(self, refs: Sequence[Ref]) -> int:
        batch = list(check_refs(refs))
        await self._ensure_started()
        if not batch:
            return 0
        await self._meta.note_collections(batch)
        while True:
            if await self._degraded_turn():
                held = await self._fallback.get_many(batch)
                now = self.now()
                entries = [
                    OutboxEntry("delete", ref, now, h.version if h else 0)
                    for ref, h in zip(batch, held, strict=True)
                ]
                removed = await self._journalled(entries, lambda f: f.delete_many(batch))
                await self._bury(held, in_primary=False)
                return removed
            try:
                held = await self._call_primary(lambda p: p.get_many(batch))
                removed = await self._call_primary(lambda p: p.delete_many(batch))
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
                continue
            self._acks.forget(batch)
            await self._bury(held, in_primary=True)
            await self._fallback.delete_many(batch)
            return removed

    async def get(self, ref: Ref) -> Record | None:
        return await self._read(lambda s: s.get(ref))

    async def get_many(self, refs: Sequence[Ref]) -> list[Record | None]:
        return await self._read(lambda s: s.get_many(refs))

    async def count(self, kind: str, namespace: str) -> int:
        return await self._read(lambda s: s.count(kind, namespace))

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
        return await self._read(
            lambda s: s.scan(
                kind, namespace, tags=tags, since=since, until=until, limit=limit, cursor=cursor
            )
        )

    async def search(
        self,
        kind: str,
        namespace: str,
        text: str,
        *,
        limit: int = 10,
        tags: Iterable[str] | None = None,
    ) -> list[Hit]:
        return await self._read(lambda s: s.search(kind, namespace, text, limit=limit, tags=tags))

    async def nearest(
        self,
        vector: Sequence[float],
        *,
        kind: str,
        namespace: str,
        tags: Iterable[str] | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Vector search on the primary, on the fallback during an outage."""
        return await self._read(
            lambda s: s.nearest(vector, kind=kind, namespace=namespace, tags=tags, limit=limit)
        )

    def watch(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        since: str | None = None,
    ) -> ChangeStream:
        """The primary's change feed; during an outage it waits instead of failing.

        Changes made on the fallback during an outage reach watchers when they are
        replayed into the primary.
        """
        self._check_open()
        primary = self._primary_store
        if not (hasattr(primary, "change_head") and hasattr(primary, "read_changes")):
            return primary.watch(kind, namespace, since=since)
        return ChangeStream(
            _OutageTolerantChanges(self, primary), kind=kind, namespace=namespace, since=since
        )

    async def ping(self) -> None:
        """Raise BackendUnavailable only if the fallback is down (the primary may be)."""
        await self._ensure_started()
        if self._state is RoutingState.HEALTHY:
            try:
                await self._call_primary(lambda p: p.ping())
            except BackendUnavailable as exc:
                self._open_circuit(f"{exc}")
        await self._fallback.ping()

    async def _close(self) -> None:
        for task in (self._probe_task, self._watchdog_task):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._probe_task, self._watchdog_task):
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    continue  # we cancelled it just above: the expected ending
                except Exception:
                    log.debug("background task ended with an error", exc_info=True)
        self._gate.set()
        if self._owns_stores:
            try:
                await self._primary_store.close()
            finally:
                await self._fallback.close()


class _OutageTolerantChanges:
    """The primary's change feed, reading nothing (instead of raising) during an outage."""

    def __init__(self, store: FailoverStore, primary: Any) -> None:
        self._store = store
        self._source: ChangeSource = primary

    async def change_head(self) -> str:
        return await self._store._call_primary(lambda _: self._source.change_head())

    # The ChangeSource protocol names this parameter; it bounds the backend's own wait.
    async def read_changes(
        self,
        after: str,
        *,
        limit: int,
        timeout: float,
    ) -> list[Change]:
        store = self._store
        if store.state is not RoutingState.HEALTHY:
            await asyncio.sleep(min(timeout, 0.1))
            return []
        while True:
            try:
                changes = await call_with_timeout(
                    f"change feed of {store.primary.url}",
                    store._call_timeout + timeout,
                    functools.partial(
                        self._source.read_changes, after, limit=limit, timeout=timeout
                    ),
                )
            except BackendUnavailable as exc:
                store._open_circuit(f"{exc}")
                return []
            # Tombstones are this router's bookkeeping, not the caller's data; read on
            # past a batch of nothing else.
            kept = [c for c in changes if c.ref.kind != TOMB_KIND]
            if kept or not changes:
                return kept
            after = changes[-1].cursor
