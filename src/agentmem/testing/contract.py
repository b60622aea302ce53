"""The contract suite: one test per property of :class:`~agentmem.store.MemoryStore`.

A backend's test module subclasses :class:`StoreContractTests` and implements
:meth:`~StoreContractTests.make_store`::

    from agentmem import open_store
    from agentmem.testing import StoreContractTests

    class TestMyStore(StoreContractTests):
        async def make_store(self, clock):
            return await open_store("mystore://localhost", clock=clock)

Tests for capabilities the store does not claim are skipped; nothing else is. Every
test works in fresh random namespaces, so several runs can share one server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from agentmem.changes import ChangeStream
from agentmem.errors import ConflictError, InvalidInput, RecordTooLarge, StoreClosed
from agentmem.store import (
    WATCH_FROM_START,
    Capabilities,
    Change,
    Clock,
    MemoryStore,
    Record,
    Ref,
)
from agentmem.testing.clock import ManualClock
from agentmem.testing.stateful import StateMachineSettings, run_store_state_machine
from agentmem.testing.strategies import HOSTILE_SNIPPETS
from agentmem.vectors import Embedding

_v = Embedding.quantize

__all__ = ["StoreContractTests"]

aio = pytest.mark.asyncio

HOSTILE_NAMES = [
    "*",
    "?",
    "[a]",
    "a:b",
    "a:b:c",
    "{tag}",
    "}{",
    "%2A",
    "%",
    "..",
    "../x",
    "/",
    "\\",
    " ",
    "a b",
    "\u00e9t\u00e9",
    "\u65e5\u672c",
    "\U0001f600",
    "x" * 500,
    "NULL",
    "' OR 1=1 --",
]


def _require(store: MemoryStore, capability: str) -> None:
    if not getattr(store.capabilities, capability):
        pytest.skip(f"{type(store).__name__} does not claim capability {capability!r}")


async def _next_change(stream: ChangeStream, timeout: float = 10.0) -> Change:
    change = await stream.next(timeout)
    assert change is not None, f"no change arrived within {timeout}s"
    return change


class StoreContractTests:
    """Subclass me and implement :meth:`make_store`; see the module docstring."""

    state_machine_settings = StateMachineSettings()
    """Override to give the stateful test more (or fewer) examples for a slow backend."""

    async def make_store(self, clock: Clock) -> MemoryStore:
        """Open a store that reads time from ``clock``. Called once per test."""
        raise NotImplementedError("subclasses of StoreContractTests implement make_store()")

    # -- fixtures -----------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest_asyncio.fixture
    async def store(self, clock: ManualClock) -> AsyncIterator[MemoryStore]:
        opened = await self.make_store(clock)
        try:
            yield opened
        finally:
            await opened.close()

    @pytest.fixture
    def ns(self) -> str:
        return f"contract-{uuid.uuid4().hex[:12]}"

    # -- shape --------------------------------------------------------------------------

    @aio
    async def test_is_a_memory_store(self, store: MemoryStore) -> None:
        assert isinstance(store, MemoryStore)
        assert isinstance(store.capabilities, Capabilities)
        assert isinstance(store.url, str) and "://" in store.url
        assert isinstance(store.origin, str) and store.origin
        await store.ping()

    @aio
    async def test_close_is_idempotent(self, clock: ManualClock) -> None:
        opened = await self.make_store(clock)
        async with opened:
            await opened.ping()
        await opened.close()
        await opened.close()

    @aio
    async def test_use_after_close_raises_store_closed(self, clock: ManualClock, ns: str) -> None:
        opened = await self.make_store(clock)
        ref = Ref("episodic", ns, "after-close")
        await opened.put(Record(ref=ref, text="before close"))
        await opened.close()
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "put": lambda: opened.put(Record(ref=ref)),
            "put_many": lambda: opened.put_many([Record(ref=ref)]),
            "get": lambda: opened.get(ref),
            "get_many": lambda: opened.get_many([ref]),
            "delete": lambda: opened.delete(ref),
            "count": lambda: opened.count("episodic", ns),
            "scan": lambda: opened.scan("episodic", ns),
            "search": lambda: opened.search("episodic", ns, "close"),
            "ping": lambda: opened.ping(),
        }
        for name, call in calls.items():
            with pytest.raises(StoreClosed):
                await call()
            assert name  # which call failed shows in the traceback's locals

    # -- put / get ----------------------------------------------------------------------

    @aio
    async def test_put_then_get_round_trips_every_field(self, store: MemoryStore, ns: str) -> None:
        when = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        body = {
            "s": "h\u00e9llo \U0001f600",
            "b": b"\x00\xffbytes",
            "i": -(2**63),
            "u": 2**64 - 1,
            "f": 1.5,
            "t": True,
            "n": None,
            "l": [1, "two", [3.0]],
            "d": {"nested": {"deep": when}},
        }
        ref = Ref("episodic", ns, "rec-1")
        expires = store_now(store) + timedelta(days=1)
        stored = await store.put(
            Record(ref=ref, body=body, text="hello world", tags={"a", "b"}, expires_at=expires)
        )
        got = await store.get(ref)
        assert got == stored
        assert got is not None
        assert got.body == body
        assert got.text == "hello world"
        assert got.tags == frozenset({"a", "b"})
        assert got.expires_at == expires

    @aio
    async def test_put_sets_version_and_timestamps(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        ref = Ref("skill", ns, "s")
        first = await store.put(Record(ref=ref, body={"n": 1}))
        assert first.version == 1
        assert first.created_at == first.updated_at == clock()
        clock.advance(5)
        second = await store.put(Record(ref=ref, body={"n": 2}))
        assert second.version == 2
        assert second.created_at == first.created_at
        assert second.updated_at == clock()
        assert (await store.get(ref)) == second

    @aio
    async def test_get_missing_is_none(self, store: MemoryStore, ns: str) -> None:
        assert await store.get(Ref("episodic", ns, "nope")) is None

    @aio
    async def test_stored_record_is_isolated_from_caller_mutation(
        self, store: MemoryStore, ns: str
    ) -> None:
        body: dict[str, Any] = {"items": [1, 2]}
        ref = Ref("episodic", ns, "m")
        await store.put(Record(ref=ref, body=body))
        body["items"].append(3)
        got = await store.get(ref)
        assert got is not None and got.body == {"items": [1, 2]}

    # -- compare-and-set ----------------------------------------------------------------

    @aio
    async def test_put_expected_zero_means_must_not_exist(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "compare_and_set")
        ref = Ref("skill", ns, "once")
        assert (await store.put(Record(ref=ref), expected_version=0)).version == 1
        with pytest.raises(ConflictError):
            await store.put(Record(ref=ref, body={"again": True}), expected_version=0)
        got = await store.get(ref)
        assert got is not None and got.body == {}

    @aio
    async def test_put_expected_version_must_match(self, store: MemoryStore, ns: str) -> None:
        _require(store, "compare_and_set")
        ref = Ref("skill", ns, "cas")
        await store.put(Record(ref=ref, body={"v": 1}))
        assert (await store.put(Record(ref=ref, body={"v": 2}), expected_version=1)).version == 2
        with pytest.raises(ConflictError):
            await store.put(Record(ref=ref, body={"v": "stale"}), expected_version=1)
        with pytest.raises(ConflictError):
            await store.put(Record(ref=Ref("skill", ns, "absent")), expected_version=3)
        got = await store.get(ref)
        assert got is not None and got.body == {"v": 2} and got.version == 2

    @aio
    async def test_concurrent_compare_and_set_loses_no_update(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "compare_and_set")
        ref = Ref("skill", ns, "counter")
        await store.put(Record(ref=ref, body={"n": 0}))

        async def increment() -> None:
            for _ in range(10):
                while True:
                    current = await store.get(ref)
                    assert current is not None
                    try:
                        await store.put(
                            Record(ref=ref, body={"n": current.body["n"] + 1}),
                            expected_version=current.version,
                        )
                        break
                    except ConflictError:
                        await asyncio.sleep(0)

        await asyncio.gather(*(increment() for _ in range(8)))
        got = await store.get(ref)
        assert got is not None and got.body["n"] == 80 and got.version == 81

    # -- batches ------------------------------------------------------------------------

    @aio
    async def test_put_many_returns_stored_records_in_order(
        self, store: MemoryStore, ns: str
    ) -> None:
        refs = [Ref("episodic", ns, f"r{i:02d}") for i in range(20)]
        await store.put(Record(ref=refs[3], body={"old": True}))
        stored = await store.put_many([Record(ref=r, body={"i": i}) for i, r in enumerate(refs)])
        assert [s.ref for s in stored] == refs
        assert [s.version for s in stored] == [2 if i == 3 else 1 for i in range(20)]
        assert await store.get_many(refs) == stored

    @aio
    async def test_put_many_repeated_ref_takes_the_last(self, store: MemoryStore, ns: str) -> None:
        ref = Ref("episodic", ns, "dup")
        stored = await store.put_many(
            [Record(ref=ref, body={"n": 1}), Record(ref=ref, body={"n": 2})]
        )
        assert [s.version for s in stored] == [1, 2]
        got = await store.get(ref)
        assert got is not None and got.body == {"n": 2} and got.version == 2

    @aio
    async def test_put_many_with_a_bad_record_stores_nothing(
        self, store: MemoryStore, ns: str
    ) -> None:
        good = Record(ref=Ref("episodic", ns, "good"))
        bad = Record(ref=Ref("episodic", ns, "bad"), body={"x": {1, 2}})
        with pytest.raises(InvalidInput):
            await store.put_many([good, bad])
        assert await store.get(good.ref) is None

    @aio
    async def test_get_many_keeps_order_with_gaps(self, store: MemoryStore, ns: str) -> None:
        a, b, c = (Ref("semantic", ns, x) for x in "abc")
        await store.put_many([Record(ref=a, body={"x": "a"}), Record(ref=c, body={"x": "c"})])
        got = await store.get_many([c, b, a, c])
        assert [g.body["x"] if g else None for g in got] == ["c", None, "a", "c"]
        assert await store.get_many([]) == []

    # -- delete / count -----------------------------------------------------------------

    @aio
    async def test_delete_removes_and_reports(self, store: MemoryStore, ns: str) -> None:
        ref = Ref("episodic", ns, "d")
        await store.put(Record(ref=ref))
        assert await store.delete(ref) is True
        assert await store.get(ref) is None
        assert await store.delete(ref) is False

    @aio
    async def test_delete_with_expected_version(self, store: MemoryStore, ns: str) -> None:
        _require(store, "compare_and_set")
        ref = Ref("episodic", ns, "d")
        await store.put(Record(ref=ref))
        await store.put(Record(ref=ref))
        with pytest.raises(ConflictError):
            await store.delete(ref, expected_version=1)
        assert await store.get(ref) is not None
        assert await store.delete(ref, expected_version=2) is True

    @aio
    async def test_delete_many_counts_live_records(self, store: MemoryStore, ns: str) -> None:
        refs = [Ref("episodic", ns, str(i)) for i in range(5)]
        await store.put_many([Record(ref=r) for r in refs[:3]])
        assert await store.delete_many(refs) == 3
        assert await store.get_many(refs) == [None] * 5
        assert await store.delete_many([]) == 0

    @aio
    async def test_count_per_kind_and_namespace(self, store: MemoryStore, ns: str) -> None:
        await store.put_many([Record(ref=Ref("episodic", ns, str(i))) for i in range(7)])
        await store.put(Record(ref=Ref("semantic", ns, "1")))
        await store.put(Record(ref=Ref("episodic", ns + "-other", "1")))
        assert await store.count("episodic", ns) == 7
        assert await store.count("semantic", ns) == 1
        assert await store.count("skill", ns) == 0

    # -- isolation and hostile input ----------------------------------------------------

    @aio
    async def test_namespaces_and_kinds_are_isolated(self, store: MemoryStore, ns: str) -> None:
        await store.put(Record(ref=Ref("episodic", ns, "x"), body={"who": "episodic"}, text="w"))
        await store.put(Record(ref=Ref("semantic", ns, "x"), body={"who": "semantic"}, text="w"))
        await store.put(Record(ref=Ref("episodic", ns + "2", "x"), body={"who": "other"}, text="w"))
        got = await store.get(Ref("episodic", ns, "x"))
        assert got is not None and got.body == {"who": "episodic"}
        hits = await store.search("episodic", ns, "w")
        assert [h.record.body["who"] for h in hits] == ["episodic"]

    @aio
    async def test_hostile_ids_and_namespaces_stay_separate(
        self, store: MemoryStore, ns: str
    ) -> None:
        refs = [Ref("episodic", ns + n, i) for n in HOSTILE_NAMES[:8] for i in HOSTILE_NAMES]
        await store.put_many([Record(ref=r, body={"ns": r.namespace, "id": r.id}) for r in refs])
        got = await store.get_many(refs)
        assert [(g.body["ns"], g.body["id"]) if g else None for g in got] == [
            (r.namespace, r.id) for r in refs
        ]
        # A glob-looking id never matches other ids, a colon never crosses namespaces.
        assert await store.get(Ref("episodic", ns + "*", "a")) is None
        page = await store.scan("episodic", ns + "*", limit=1000)
        assert sorted(r.ref.id for r in page.records) == sorted(HOSTILE_NAMES)
        for name in HOSTILE_NAMES[:8]:
            assert await store.count("episodic", ns + name) == len(HOSTILE_NAMES)

    @aio
    async def test_invalid_bodies_raise_invalid_input(self, store: MemoryStore, ns: str) -> None:
        ref = Ref("episodic", ns, "bad")
        for body in ({"s": {1}}, {"o": object()}, {"k": {1: "x"}}):
            with pytest.raises(InvalidInput):
                await store.put(Record(ref=ref, body=body))
        assert await store.get(ref) is None

    @aio
    async def test_naive_datetimes_in_bodies_stay_naive(self, store: MemoryStore, ns: str) -> None:
        naive = datetime(2020, 1, 1, 8, 30, 0, 250)
        aware = datetime(2020, 1, 1, 8, 30, 0, 250, tzinfo=UTC)
        ref = Ref("working", ns, "naive")
        await store.put(Record(ref=ref, body={"calls": [{"when": naive}], "utc": aware}))
        got = await store.get(ref)
        assert got is not None
        assert got.body == {"calls": [{"when": naive}], "utc": aware}
        assert got.body["calls"][0]["when"].tzinfo is None
        assert got.body["utc"].utcoffset() is not None

    @aio
    async def test_oversize_record_raises_record_too_large(
        self, store: MemoryStore, ns: str
    ) -> None:
        ref = Ref("episodic", ns, "huge")
        with pytest.raises(RecordTooLarge):
            await store.put(Record(ref=ref, body={"blob": os.urandom(9 * 1024 * 1024)}))
        assert await store.get(ref) is None

    # -- scan ---------------------------------------------------------------------------

    @aio
    async def test_scan_pages_in_id_order(self, store: MemoryStore, ns: str) -> None:
        ids = [f"id-{i:03d}" for i in range(23)]
        await store.put_many([Record(ref=Ref("episodic", ns, i)) for i in reversed(ids)])
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await store.scan("episodic", ns, limit=5, cursor=cursor)
            pages += 1
            assert len(page.records) <= 5
            seen.extend(r.ref.id for r in page.records)
            cursor = page.cursor
            if cursor is None:
                break
        assert seen == ids
        assert pages == 5

    @aio
    async def test_scan_cursor_is_stable_under_concurrent_writes(
        self, store: MemoryStore, ns: str
    ) -> None:
        ids = [f"k{i:02d}" for i in range(0, 40, 2)]
        await store.put_many([Record(ref=Ref("episodic", ns, i)) for i in ids])
        first = await store.scan("episodic", ns, limit=10)
        # Records written and deleted between pages neither repeat nor hide older ones.
        await store.put_many(
            [Record(ref=Ref("episodic", ns, f"k{i:02d}")) for i in range(1, 40, 2)]
        )
        await store.delete(Ref("episodic", ns, "k38"))
        assert first.cursor is not None
        rest = await store.scan("episodic", ns, limit=1000, cursor=first.cursor)
        got = [r.ref.id for r in first.records + rest.records]
        assert len(got) == len(set(got))
        assert set(ids) - {"k38"} <= set(got)
        assert got == sorted(got)

    @aio
    async def test_scan_filters_by_tags_and_time(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        t0 = clock()
        await store.put(Record(ref=Ref("episodic", ns, "a"), tags={"x", "y"}))
        clock.advance(10)
        t1 = clock()
        await store.put(Record(ref=Ref("episodic", ns, "b"), tags={"x"}))
        clock.advance(10)
        await store.put(Record(ref=Ref("episodic", ns, "c"), tags={"y"}))

        async def ids(**kw: Any) -> list[str]:
            return [r.ref.id for r in (await store.scan("episodic", ns, **kw)).records]

        assert await ids(tags=["x"]) == ["a", "b"]
        assert await ids(tags=["x", "y"]) == ["a"]
        assert await ids(tags=["z"]) == []
        assert await ids(since=t1) == ["b", "c"]
        assert await ids(until=t1) == ["a"]
        assert await ids(since=t0, until=t1 + timedelta(seconds=1), tags=["x"]) == ["a", "b"]

    @aio
    async def test_scan_rejects_bad_limits(self, store: MemoryStore, ns: str) -> None:
        for limit in (0, -1):
            with pytest.raises(InvalidInput):
                await store.scan("episodic", ns, limit=limit)

    # -- search -------------------------------------------------------------------------

    @aio
    async def test_search_matches_text_and_tags(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        await store.put_many(
            [
                Record(ref=Ref("episodic", ns, "1"), text="Deploy the web app", tags={"ops"}),
                Record(ref=Ref("episodic", ns, "2"), text="write unit tests"),
                Record(ref=Ref("episodic", ns, "3"), text="Nothing here", tags={"deploy"}),
            ]
        )
        hits = await store.search("episodic", ns, "DEPLOY")
        assert {h.ref.id for h in hits} == {"1", "3"}
        assert all(h.score > 0 for h in hits)
        assert {h.ref.id for h in await store.search("episodic", ns, "ops tests")} == {"1", "2"}
        assert await store.search("episodic", ns, "absent") == []

    @aio
    async def test_search_ranks_the_more_relevant_first(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        filler = [
            Record(ref=Ref("episodic", ns, f"f{i}"), text=f"common words number {i}")
            for i in range(10)
        ]
        await store.put_many(
            [
                *filler,
                Record(ref=Ref("episodic", ns, "once"), text="retry once common words"),
                Record(ref=Ref("episodic", ns, "twice"), text="retry retry common words"),
                Record(ref=Ref("episodic", ns, "rare"), text="zeppelin common words here"),
            ]
        )
        hits = await store.search("episodic", ns, "retry")
        assert [h.ref.id for h in hits] == ["twice", "once"]
        assert hits[0].score > hits[1].score
        hits = await store.search("episodic", ns, "zeppelin common")
        assert hits[0].ref.id == "rare"
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    @aio
    async def test_search_respects_limit_and_tag_filter(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        await store.put_many(
            [
                Record(ref=Ref("skill", ns, f"s{i}"), text="alpha beta", tags={f"t{i % 2}"})
                for i in range(12)
            ]
        )
        assert len(await store.search("skill", ns, "alpha", limit=5)) == 5
        tagged = await store.search("skill", ns, "alpha", limit=100, tags=["t1"])
        assert {h.ref.id for h in tagged} == {f"s{i}" for i in range(1, 12, 2)}

    @aio
    async def test_search_follows_updates_and_deletes(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        ref = Ref("semantic", ns, "k")
        await store.put(Record(ref=ref, text="old words"))
        await store.put(Record(ref=ref, text="new words"))
        assert await store.search("semantic", ns, "old") == []
        assert [h.ref.id for h in await store.search("semantic", ns, "new")] == ["k"]
        await store.delete(ref)
        assert await store.search("semantic", ns, "new words") == []

    @aio
    async def test_search_text_is_never_syntax(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        await store.put(Record(ref=Ref("episodic", ns, "q"), text='say "near" and not foo'))
        for text in HOSTILE_SNIPPETS:
            hits = await store.search("episodic", ns, text)
            assert all(h.ref.namespace == ns for h in hits)
        hits = await store.search("episodic", ns, 'NEAR( "near -foo')
        assert [h.ref.id for h in hits] == ["q"]

    @aio
    async def test_search_unicode_is_case_folded(self, store: MemoryStore, ns: str) -> None:
        _require(store, "search")
        await store.put(
            Record(ref=Ref("episodic", ns, "u"), text="Stra\u00dfe \u00c9T\u00c9 \u65e5\u672c")
        )
        for query in ("STRASSE", "\u00e9t\u00e9", "\u65e5\u672c"):
            assert [h.ref.id for h in await store.search("episodic", ns, query)] == ["u"]

    # -- TTL ----------------------------------------------------------------------------

    # -- vectors ------------------------------------------------------------------------

    @aio
    async def test_embedding_round_trips_compactly(self, store: MemoryStore, ns: str) -> None:
        _require(store, "vector_search")
        vector = [0.1, -0.5, 0.25, 0.0]
        stored = await store.put(Record(ref=Ref("episodic", ns, "v"), embedding=_v(vector)))
        got = await store.get(stored.ref)
        assert got is not None and got.embedding == stored.embedding
        assert got.embedding is not None and got.embedding.dimensions == 4
        assert all(abs(a - b) < 0.003 for a, b in zip(got.embedding.floats(), vector, strict=True))
        plain = await store.put(Record(ref=Ref("episodic", ns, "plain"), text="no vector"))
        assert plain.embedding is None

    @aio
    async def test_nearest_ranks_by_cosine_and_filters(self, store: MemoryStore, ns: str) -> None:
        _require(store, "vector_search")
        await store.put_many(
            [
                Record(
                    ref=Ref("episodic", ns, "east"),
                    embedding=_v([1.0, 0.0, 0.0]),
                    tags={"a"},
                ),
                Record(
                    ref=Ref("episodic", ns, "northeast"),
                    embedding=_v([1.0, 1.0, 0.0]),
                ),
                Record(
                    ref=Ref("episodic", ns, "north"),
                    embedding=_v([0.0, 2.0, 0.0]),
                    tags={"a"},
                ),
                Record(ref=Ref("episodic", ns, "west"), embedding=_v([-1.0, 0.0, 0.0])),
                Record(ref=Ref("episodic", ns, "none"), text="no vector"),
                Record(ref=Ref("episodic", ns, "short"), embedding=_v([1.0, 0.0])),
                Record(
                    ref=Ref("semantic", ns, "other-kind"),
                    embedding=_v([1.0, 0.0, 0.0]),
                ),
                Record(
                    ref=Ref("episodic", ns + "x", "other-ns"),
                    embedding=_v([1.0, 0.0, 0.0]),
                ),
            ]
        )
        hits = await store.nearest([0.9, 0.1, 0.0], kind="episodic", namespace=ns, limit=10)
        assert [h.ref.id for h in hits] == ["east", "northeast", "north", "west"]
        assert hits[0].score > 0.99 and abs(hits[-1].score + 0.99) < 0.02
        top = await store.nearest([0.0, 1.0, 0.0], kind="episodic", namespace=ns, limit=2)
        assert [h.ref.id for h in top] == ["north", "northeast"]
        tagged = await store.nearest([1.0, 0.0, 0.0], kind="episodic", namespace=ns, tags={"a"})
        assert [h.ref.id for h in tagged] == ["east", "north"]
        await store.delete(Ref("episodic", ns, "east"))
        after = await store.nearest([1.0, 0.0, 0.0], kind="episodic", namespace=ns, limit=1)
        assert [h.ref.id for h in after] == ["northeast"]
        assert await store.nearest([1.0, 0.0, 0.0], kind="episodic", namespace=ns + "y") == []
        with pytest.raises(InvalidInput):
            await store.nearest([1.0, 0.0, 0.0], kind="episodic", namespace=ns, limit=0)

    @aio
    async def test_nearest_skips_expired_records(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        _require(store, "vector_search")
        _require(store, "ttl")
        soon = store_now(store) + timedelta(seconds=5)
        await store.put(
            Record(
                ref=Ref("episodic", ns, "old"),
                embedding=_v([1.0, 0.0]),
                expires_at=soon,
            )
        )
        await store.put(Record(ref=Ref("episodic", ns, "new"), embedding=_v([0.0, 1.0])))
        clock.advance(10)
        hits = await store.nearest([1.0, 0.0], kind="episodic", namespace=ns)
        assert [h.ref.id for h in hits] == ["new"]

    @aio
    async def test_expired_record_is_absent_everywhere(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        _require(store, "ttl")
        ref = Ref("working", ns, "t")
        keep = Ref("working", ns, "keep")
        await store.put(
            Record(ref=ref, text="ephemeral", expires_at=clock() + timedelta(seconds=30))
        )
        await store.put(Record(ref=keep, text="ephemeral too"))
        assert await store.get(ref) is not None
        clock.advance(31)
        assert await store.get(ref) is None
        assert await store.get_many([ref, keep]) == [None, await store.get(keep)]
        assert await store.count("working", ns) == 1
        assert [r.ref for r in (await store.scan("working", ns)).records] == [keep]
        if store.capabilities.search:
            assert [h.ref for h in await store.search("working", ns, "ephemeral")] == [keep]
        assert await store.delete(ref) is False

    @aio
    async def test_expired_record_restarts_at_version_one(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        _require(store, "ttl")
        ref = Ref("working", ns, "t")
        await store.put(Record(ref=ref, expires_at=clock() + timedelta(seconds=5)))
        await store.put(Record(ref=ref, expires_at=clock() + timedelta(seconds=5)))
        clock.advance(6)
        again = await store.put(Record(ref=ref), expected_version=0)
        assert again.version == 1

    # -- watch --------------------------------------------------------------------------

    @aio
    async def test_watch_delivers_puts_and_deletes_in_order(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "watch")
        ref = Ref("episodic", ns, "w")
        async with store.watch(namespace=ns) as changes:
            await store.put(Record(ref=ref))
            await store.put(Record(ref=ref))
            await store.delete(ref)
            got = [await _next_change(changes) for _ in range(3)]
        assert [(c.op, c.ref, c.version) for c in got] == [
            ("put", ref, 1),
            ("put", ref, 2),
            ("delete", ref, 2),
        ]
        assert all(c.origin == store.origin for c in got)
        assert len({c.cursor for c in got}) == 3

    @aio
    async def test_watch_filters_kind_and_namespace(self, store: MemoryStore, ns: str) -> None:
        _require(store, "watch")
        async with store.watch(kind="skill", namespace=ns) as changes:
            await store.put(Record(ref=Ref("episodic", ns, "no")))
            await store.put(Record(ref=Ref("skill", ns + "x", "no")))
            await store.put(Record(ref=Ref("skill", ns, "yes")))
            change = await _next_change(changes)
        assert change.ref == Ref("skill", ns, "yes")

    @aio
    async def test_watch_resumes_after_a_cursor(self, store: MemoryStore, ns: str) -> None:
        _require(store, "watch")
        async with store.watch(namespace=ns) as changes:
            await store.put(Record(ref=Ref("episodic", ns, "1")))
            seen = await _next_change(changes)
        # Disconnected: these happen while nobody watches.
        await store.put(Record(ref=Ref("episodic", ns, "2")))
        await store.put(Record(ref=Ref("episodic", ns, "3")))
        async with store.watch(namespace=ns, since=seen.cursor) as resumed:
            missed = [await _next_change(resumed) for _ in range(2)]
        assert [c.ref.id for c in missed] == ["2", "3"]

    @aio
    async def test_watch_from_start_replays_retained_changes(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "watch")
        await store.put(Record(ref=Ref("episodic", ns, "early")))
        async with store.watch(namespace=ns, since=WATCH_FROM_START) as changes:
            change = await _next_change(changes)
        assert change.ref.id == "early"

    # -- import -------------------------------------------------------------------------

    @aio
    async def test_import_many_keeps_versions_and_skips_older(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        created = clock() - timedelta(days=1)
        a, b = Ref("episodic", ns, "a"), Ref("episodic", ns, "b")
        await store.put(Record(ref=b))
        await store.put(Record(ref=b, body={"local": True}))  # b is at version 2 here
        incoming = [
            Record(ref=a, body={"n": 1}, version=7, created_at=created, updated_at=created),
            Record(ref=b, body={"remote": True}, version=2, created_at=created, updated_at=created),
        ]
        assert await store.import_many(incoming) == 1
        got_a, got_b = await store.get_many([a, b])
        assert got_a is not None and got_a.version == 7 and got_a.created_at == created
        assert got_b is not None and got_b.body == {"local": True}
        newer = Record(ref=b, body={"remote": 3}, version=3, created_at=created, updated_at=created)
        assert await store.import_many([newer]) == 1
        got_b = await store.get(b)
        assert got_b is not None and got_b.body == {"remote": 3} and got_b.version == 3
        assert (await store.put(Record(ref=b))).version == 4

    # -- increment ----------------------------------------------------------------------

    @aio
    async def test_increment_creates_then_adds_appends_and_keeps_maximum(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        _require(store, "increment")
        ref = Ref("skill", ns, "stats")
        first = await store.increment(
            ref, add={"runs": 1, "secs": 0.5}, append={"log": ["a"]}, maximum={"best": 3}
        )
        assert first.version == 1 and first.created_at == clock()
        assert first.body == {"runs": 1, "secs": 0.5, "log": ["a"], "best": 3}
        await store.put(Record(ref=ref, body={**first.body, "name": "x"}, text="deploy it"))
        second = await store.increment(
            ref, add={"runs": 2, "secs": 1}, append={"log": ("b", "c")}, maximum={"best": 2}
        )
        assert second.version == 3
        assert second.body == {
            "runs": 3,
            "secs": 1.5,
            "log": ["a", "b", "c"],
            "best": 3,
            "name": "x",
        }
        assert isinstance(second.body["runs"], int)
        got = await store.get(ref)
        assert got is not None and got.body == second.body and got.version == 3
        assert got.text == "deploy it" and got.created_at == first.created_at
        if store.capabilities.search:
            assert [h.ref for h in await store.search("skill", ns, "deploy")] == [ref]

    @aio
    async def test_increment_refuses_bad_deltas_and_wrong_field_types(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "increment")
        ref = Ref("skill", ns, "typed")
        await store.put(Record(ref=ref, body={"name": "x", "n": 1}))
        for bad in (
            {"add": {"n": "1"}},
            {"add": {"n": True}},
            {"add": {"n": float("nan")}},
            {"append": {"l": "abc"}},
            {"add": {"n": 1}, "maximum": {"n": 2}},
            {"add": {"name": 1}},
            {"append": {"n": [1]}},
            {"op_id": ""},
        ):
            with pytest.raises(InvalidInput):
                await store.increment(ref, **bad)
        got = await store.get(ref)
        assert got is not None and got.version == 1 and got.body == {"name": "x", "n": 1}

    @aio
    async def test_increment_with_an_op_id_applies_once(self, store: MemoryStore, ns: str) -> None:
        _require(store, "increment")
        ref = Ref("skill", ns, "once")
        a = await store.increment(ref, add={"n": 1}, op_id="op-1")
        again = await store.increment(ref, add={"n": 1}, op_id="op-1")
        assert again.version == a.version == 1 and again.body == {"n": 1}
        b = await store.increment(ref, add={"n": 1}, op_id="op-2")
        assert b.version == 2 and b.body == {"n": 2}
        await store.put(Record(ref=ref, body={"n": 10}))
        assert (await store.increment(ref, add={"n": 1}, op_id="op-2")).body == {"n": 10}
        other = Ref("skill", ns, "other")
        assert (await store.increment(other, add={"n": 5}, op_id="op-1")).body == {"n": 5}

    @aio
    async def test_increment_keeps_text_tags_and_embedding(
        self, store: MemoryStore, ns: str
    ) -> None:
        _require(store, "increment")
        _require(store, "vector_search")
        ref = Ref("skill", ns, "embedded")
        await store.put(
            Record(ref=ref, body={"n": 1}, text="deploy", tags={"t"}, embedding=_v([0.0, 1.0]))
        )
        after = await store.increment(ref, add={"n": 1})
        assert after.body == {"n": 2}
        assert (after.text, after.tags) == ("deploy", frozenset({"t"}))
        stored = await store.get(ref)
        assert stored is not None and stored.embedding is not None
        hits = await store.nearest([0.0, 1.0], kind="skill", namespace=ns, limit=1)
        assert [h.ref for h in hits] == [ref]

    @aio
    async def test_increment_sets_ttl_and_restarts_an_expired_record(
        self, store: MemoryStore, ns: str, clock: ManualClock
    ) -> None:
        _require(store, "increment")
        _require(store, "ttl")
        ref = Ref("skill", ns, "ttl")
        rec = await store.increment(ref, add={"n": 1}, ttl=timedelta(seconds=30))
        assert rec.expires_at == clock() + timedelta(seconds=30)
        kept = await store.increment(ref, add={"n": 1})
        assert kept.expires_at == rec.expires_at and kept.body == {"n": 2}
        clock.advance(31)
        assert await store.get(ref) is None
        fresh = await store.increment(ref, add={"n": 1})
        assert fresh.version == 1 and fresh.body == {"n": 1} and fresh.expires_at is None

    @aio
    async def test_concurrent_increments_lose_nothing(self, store: MemoryStore, ns: str) -> None:
        _require(store, "increment")
        ref = Ref("skill", ns, "hot")

        async def worker(w: int) -> None:
            for i in range(10):
                await store.increment(ref, add={"n": 1, "x": 0.5}, append={"seen": [f"{w}.{i}"]})

        await asyncio.gather(*(worker(w) for w in range(8)))
        got = await store.get(ref)
        assert got is not None and got.body["n"] == 80 and got.body["x"] == 40.0
        assert got.version == 80 and len(set(got.body["seen"])) == 80

    # -- stateful -----------------------------------------------------------------------

    def test_state_machine(self) -> None:
        """Random sequences of operations agree with a plain-Python model of the contract."""
        run_store_state_machine(self.make_store, self.state_machine_settings)


def store_now(store: MemoryStore) -> datetime:
    """The store's clock if it exposes one (StoreBase does), else the real time."""
    now = getattr(store, "now", None)
    return now() if callable(now) else datetime.now(UTC)
