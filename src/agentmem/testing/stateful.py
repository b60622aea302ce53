"""A hypothesis state machine that drives any store against a plain-Python model.

The machine owns its event loop (an :class:`asyncio.Runner`) because async clients such
as redis.asyncio are bound to the loop that created them; every run works in fresh random
namespaces so runs can share one server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from agentmem import text as textmod
from agentmem.changes import ChangeStream
from agentmem.errors import ConflictError, InvalidInput
from agentmem.increments import Increment, make_increment
from agentmem.store import Clock, MemoryStore, Record, Ref
from agentmem.testing.clock import ManualClock

__all__ = [
    "StateMachineSettings",
    "StoreModel",
    "make_store_state_machine",
    "run_store_state_machine",
    "scaled_examples",
]

StoreFactory = Callable[[Clock], Awaitable[MemoryStore]]

KINDS = ("episodic", "skill")
IDS = ("a", "b", "c:d", "*", "{x}", "\u00e9t\u00e9", "a b")
WORDS = ("alpha", "beta", "gamma", "delta", "Alpha", "\u00c9T\u00c9", "retry_count")
TAGS = ("red", "green", "blue")

keys = st.tuples(st.sampled_from(KINDS), st.integers(0, 1), st.sampled_from(IDS))
texts = st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)
tag_sets = st.frozensets(st.sampled_from(TAGS), max_size=2)
small_bodies = st.dictionaries(
    st.sampled_from(("n", "s", "l")),
    st.integers(-5, 5) | st.text(max_size=4) | st.lists(st.integers(0, 3), max_size=3),
    max_size=3,
)
ttls = st.none() | st.sampled_from((1, 10, 100))


@dataclass(frozen=True)
class StateMachineSettings:
    """How hard the stateful test works; backends override for speed or depth."""

    max_examples: int = 200
    step_count: int = 30
    watch_timeout: float = 5.0
    shrink: bool = True
    """Set False to report the first failing sequence as found (faster meta-tests)."""


class StoreModel:
    """The contract in the simplest Python that could possibly be right."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.records: dict[Ref, Record] = {}
        self.changes: list[tuple[Literal["put", "delete"], Ref, int]] = []

    def live(self, ref: Ref) -> Record | None:
        record = self.records.get(ref)
        if record is None or record.is_expired(self.clock()):
            return None
        return record

    def version(self, ref: Ref) -> int:
        record = self.live(ref)
        return record.version if record else 0

    def put(self, record: Record) -> Record:
        now = self.clock()
        current = self.live(record.ref)
        stored = record.stored(
            version=(current.version if current else 0) + 1,
            created_at=current.created_at if current and current.created_at else now,
            updated_at=now,
        )
        self.records[record.ref] = stored
        self.changes.append(("put", record.ref, stored.version))
        return stored

    def delete(self, ref: Ref) -> bool:
        current = self.live(ref)
        self.records.pop(ref, None)
        if current is None:
            return False
        self.changes.append(("delete", ref, current.version))
        return True

    def increment(self, ref: Ref, delta: Increment) -> Record:
        """Raises InvalidInput (changing nothing) when the delta does not fit the record."""
        return self.put(delta.apply(ref, self.live(ref), self.clock()))

    def import_one(self, record: Record) -> bool:
        if self.version(record.ref) >= record.version:
            return False
        self.records[record.ref] = record
        self.changes.append(("put", record.ref, record.version))
        return True

    def live_in(self, kind: str, namespace: str) -> list[Record]:
        return sorted(
            (
                r
                for ref, r in self.records.items()
                if ref.kind == kind and ref.namespace == namespace and self.live(ref)
            ),
            key=lambda r: r.ref.id,
        )

    def matches(self, kind: str, namespace: str, query: str, tags: frozenset[str]) -> set[str]:
        terms = set(textmod.query_terms(query))
        return {
            r.ref.id
            for r in self.live_in(kind, namespace)
            if tags <= r.tags and terms & set(textmod.document_terms(r.text, r.tags))
        }


def make_store_state_machine(
    factory: StoreFactory, config: StateMachineSettings | None = None
) -> type[RuleBasedStateMachine]:
    """A RuleBasedStateMachine class that checks stores made by ``factory``."""
    cfg = config or StateMachineSettings()

    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.runner = asyncio.Runner()
            self.clock = ManualClock()
            self.model = StoreModel(self.clock)
            run_id = uuid.uuid4().hex[:10]
            self.namespaces = (f"sm-{run_id}-0", f"sm-{run_id}:1")
            self.store: MemoryStore = self.run(factory(self.clock))
            self.stream: ChangeStream | None = None
            self.received: list[tuple[str, Ref, int]] = []
            if self.store.capabilities.watch:
                self.stream = self.store.watch()
                self.runner.run(self.stream.start())

        def run(self, coro: Awaitable[Any]) -> Any:
            async def wrapped() -> Any:
                return await coro

            return self.runner.run(wrapped())

        def ref(self, key: tuple[str, int, str]) -> Ref:
            kind, ns, rid = key
            return Ref(kind, self.namespaces[ns], rid)

        def expires(self, ttl: int | None) -> datetime | None:
            return None if ttl is None else self.clock() + timedelta(seconds=ttl)

        # -- writes ---------------------------------------------------------------------

        @rule(key=keys, body=small_bodies, text=texts, tags=tag_sets, ttl=ttls)
        def put(self, key: Any, body: Any, text: str, tags: Any, ttl: int | None) -> None:
            record = Record(
                ref=self.ref(key), body=body, text=text, tags=tags, expires_at=self.expires(ttl)
            )
            got = self.run(self.store.put(record))
            assert got == self.model.put(record)

        @rule(key=keys, body=small_bodies, offset=st.sampled_from((-1, 0, 1)), zero=st.booleans())
        def put_compare_and_set(self, key: Any, body: Any, offset: int, zero: bool) -> None:
            if not self.store.capabilities.compare_and_set:
                return
            ref = self.ref(key)
            actual = self.model.version(ref)
            expected = 0 if zero else max(0, actual + offset)
            record = Record(ref=ref, body=body)
            if expected == actual:
                assert self.run(
                    self.store.put(record, expected_version=expected)
                ) == self.model.put(record)
            else:
                conflicted = False
                try:
                    self.run(self.store.put(record, expected_version=expected))
                except ConflictError:
                    conflicted = True
                assert conflicted, f"put at expected {expected} succeeded on v{actual}"

        @rule(
            key=keys,
            amount=st.integers(-3, 3),
            item=st.sampled_from(("a", "b")),
            ttl=st.sampled_from((None, 30)),
        )
        def increment(self, key: Any, amount: int, item: str, ttl: int | None) -> None:
            if not self.store.capabilities.increment:
                return
            ref = self.ref(key)
            delta = make_increment(
                add={"count": amount},
                append={"seen": [item]},
                ttl=None if ttl is None else timedelta(seconds=ttl),
            )
            try:
                expected = self.model.increment(ref, delta)
            except InvalidInput:
                try:
                    self.run(self.store.increment(ref, add=delta.add, append=delta.append))
                except InvalidInput:
                    return
                raise AssertionError(
                    f"increment of {ref} should have raised InvalidInput"
                ) from None
            got = self.run(
                self.store.increment(ref, add=delta.add, append=delta.append, ttl=delta.ttl)
            )
            assert got == expected

        @rule(batch=st.lists(st.tuples(keys, texts), min_size=1, max_size=4))
        def put_many(self, batch: list[tuple[Any, str]]) -> None:
            records = [Record(ref=self.ref(k), text=t, body={"t": t}) for k, t in batch]
            got = self.run(self.store.put_many(records))
            assert got == [self.model.put(r) for r in records]

        @rule(key=keys, expect=st.booleans())
        def delete(self, key: Any, expect: bool) -> None:
            ref = self.ref(key)
            if expect and self.store.capabilities.compare_and_set:
                version = self.model.version(ref)
                assert self.run(self.store.delete(ref, expected_version=version)) == (
                    self.model.delete(ref)
                )
            else:
                assert self.run(self.store.delete(ref)) == self.model.delete(ref)

        @rule(keys_=st.lists(keys, max_size=4))
        def delete_many(self, keys_: list[Any]) -> None:
            refs = [self.ref(k) for k in keys_]
            expected = sum(self.model.delete(r) for r in refs)
            assert self.run(self.store.delete_many(refs)) == expected

        @rule(key=keys, version=st.integers(1, 6), text=texts)
        def import_one(self, key: Any, version: int, text: str) -> None:
            when = self.clock() - timedelta(seconds=version)
            record = Record(
                ref=self.ref(key),
                text=text,
                version=version,
                created_at=when,
                updated_at=when,
                body={"imported": version},
            )
            written = self.model.import_one(record)
            assert self.run(self.store.import_many([record])) == int(written)

        @rule(seconds=st.sampled_from((1, 5, 20, 200)))
        def advance_clock(self, seconds: int) -> None:
            self.clock.advance(seconds)

        # -- reads ----------------------------------------------------------------------

        @rule(key=keys)
        def get(self, key: Any) -> None:
            ref = self.ref(key)
            assert self.run(self.store.get(ref)) == self.model.live(ref)

        @rule(keys_=st.lists(keys, max_size=5))
        def get_many(self, keys_: list[Any]) -> None:
            refs = [self.ref(k) for k in keys_]
            assert self.run(self.store.get_many(refs)) == [self.model.live(r) for r in refs]

        @rule(kind=st.sampled_from(KINDS), ns=st.integers(0, 1))
        def count(self, kind: str, ns: int) -> None:
            namespace = self.namespaces[ns]
            assert self.run(self.store.count(kind, namespace)) == len(
                self.model.live_in(kind, namespace)
            )

        @rule(
            kind=st.sampled_from(KINDS),
            ns=st.integers(0, 1),
            tags=tag_sets,
            limit=st.integers(1, 4),
        )
        def scan_all_pages(self, kind: str, ns: int, tags: Any, limit: int) -> None:
            namespace = self.namespaces[ns]
            seen: list[Record] = []
            cursor = None
            for _ in range(100):
                page = self.run(
                    self.store.scan(kind, namespace, tags=tags, limit=limit, cursor=cursor)
                )
                assert len(page.records) <= limit
                seen.extend(page.records)
                cursor = page.cursor
                if cursor is None:
                    break
            expected = [r for r in self.model.live_in(kind, namespace) if tags <= r.tags]
            assert seen == expected

        @rule(kind=st.sampled_from(KINDS), ns=st.integers(0, 1), query=texts, tags=tag_sets)
        def search(self, kind: str, ns: int, query: str, tags: Any) -> None:
            if not self.store.capabilities.search:
                return
            namespace = self.namespaces[ns]
            hits = self.run(self.store.search(kind, namespace, query, limit=100, tags=tags))
            assert {h.ref.id for h in hits} == self.model.matches(kind, namespace, query, tags)
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True)
            for hit in hits:
                assert hit.record == self.model.live(hit.ref)

        @invariant()
        def watch_agrees(self) -> None:
            if self.stream is None:
                return
            expected = self.model.changes
            while len(self.received) < len(expected):
                change = self.run(self.stream.next(cfg.watch_timeout))
                assert change is not None, (
                    f"watch delivered {len(self.received)} of {len(expected)} changes"
                )
                if change.ref.namespace in self.namespaces:
                    self.received.append((change.op, change.ref, change.version))
            assert self.received == expected

        def teardown(self) -> None:
            try:
                if self.stream is not None:
                    self.run(self.stream.aclose())
                self.run(self.store.close())
            finally:
                self.runner.close()

    return StoreMachine


def scaled_examples(count: int) -> int:
    """``count`` times AGENTMEM_HYPOTHESIS_SCALE (a float, default 1), at least 1.

    The nox matrix runs its secondary cells (other Pythons) at a fraction of the examples:
    the anchor cells search deep, the others check that the same code runs there.
    """
    raw = os.environ.get("AGENTMEM_HYPOTHESIS_SCALE", "").strip()
    try:
        scale = float(raw) if raw else 1.0
    except ValueError:
        raise ValueError(f"AGENTMEM_HYPOTHESIS_SCALE must be a number, not {raw!r}") from None
    return max(1, round(count * scale))


def run_store_state_machine(
    factory: StoreFactory, config: StateMachineSettings | None = None
) -> None:
    """Run the state machine against stores from ``factory`` (a test's body)."""
    config = config or StateMachineSettings()
    machine = make_store_state_machine(factory, config)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=scaled_examples(config.max_examples),
            stateful_step_count=config.step_count,
            deadline=None,
            phases=[p for p in Phase if config.shrink or p is not Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
