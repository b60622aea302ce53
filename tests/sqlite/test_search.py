"""FTS5 search: same matches as the reference store, hostile text is plain words."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmem import Record, Ref
from agentmem.inmemory import InMemoryStore
from agentmem.testing import ManualClock, scaled_examples
from agentmem.testing.strategies import HOSTILE_SNIPPETS, hostile_texts, names
from agentmem_sqlite import SQLiteStore

aio = pytest.mark.asyncio

CORPUS = [
    ("a", "retry the HTTP call with exponential backoff", frozenset({"network"})),
    ("b", "deploy the app; retry deploy if the health check fails", frozenset({"deploy"})),
    ("c", 'NEAR(deploy app) "quoted" col:value -minus star* (paren', frozenset()),
    ("d", "été Ünïcode ÉTÉ 日本語 text", frozenset({"i18n"})),
    ("e", "backoff backoff backoff jitter", frozenset({"network", "deploy"})),
    ("f", "nothing in common", frozenset()),
]
QUERIES = [
    "retry",
    "deploy app",
    "backoff jitter network",
    "ÉTÉ",
    "日本語",
    "NEAR(deploy app)",
    "col:value",
    "quoted",
    "-minus",
    "star*",
    "(paren",
    "nomatch",
    "",
    *HOSTILE_SNIPPETS,
]


async def _fill(store: SQLiteStore | InMemoryStore, ns: str) -> None:
    await store.put_many(
        [Record(ref=Ref("semantic", ns, rid), text=text, tags=tags) for rid, text, tags in CORPUS]
    )


@aio
@pytest.mark.parametrize("query", QUERIES)
async def test_hits_and_scores_equal_the_reference_store(
    store: SQLiteStore, clock: ManualClock, query: str
) -> None:
    reference = InMemoryStore(clock=clock)
    await _fill(store, "ns")
    await _fill(reference, "ns")
    for tags in (None, {"network"}, {"network", "deploy"}):
        got = await store.search("semantic", "ns", query, limit=100, tags=tags)
        want = await reference.search("semantic", "ns", query, limit=100, tags=tags)
        assert [h.ref.id for h in got] == [h.ref.id for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want])
        assert all(h.score > 0 for h in got)


@aio
async def test_ties_are_broken_by_id(store: SQLiteStore) -> None:
    await store.put_many([Record(ref=Ref("skill", "ns", i), text="same words") for i in "dcab"])
    hits = await store.search("skill", "ns", "same", limit=3)
    assert [h.ref.id for h in hits] == ["a", "b", "c"]


@aio
async def test_search_stays_in_its_kind_and_namespace(store: SQLiteStore) -> None:
    await store.put(Record(ref=Ref("skill", "ns", "x"), text="shared word"))
    await store.put(Record(ref=Ref("skill", "other", "y"), text="shared word"))
    await store.put(Record(ref=Ref("episodic", "ns", "z"), text="shared word"))
    assert [h.ref.id for h in await store.search("skill", "ns", "shared")] == ["x"]
    assert [h.ref.id for h in await store.search("skill", "other", "shared")] == ["y"]
    assert await store.search("skill", "nobody", "shared") == []


@aio
async def test_index_holds_only_hex_tokens(store: SQLiteStore, db_path: Path) -> None:
    hostile = " ".join(HOSTILE_SNIPPETS[:-4])
    await store.put(
        Record(ref=Ref("skill", "ns", "h"), text=hostile, tags=frozenset({'"tag"', "a:b"}))
    )
    with sqlite3.connect(db_path) as conn:
        ((terms,),) = conn.execute("SELECT terms FROM records").fetchall()
    conn.close()
    assert re.fullmatch(r"(s\d+x[0-9a-f]+ ?)+", terms)


@aio
async def test_updates_and_deletes_leave_no_stale_postings(
    store: SQLiteStore, db_path: Path
) -> None:
    ref = Ref("skill", "ns", "u")
    await store.put(Record(ref=ref, text="old words"))
    await store.put(Record(ref=ref, text="new words"))
    assert await store.search("skill", "ns", "old") == []
    assert [h.ref.id for h in await store.search("skill", "ns", "new")] == ["u"]
    await store.delete(ref)
    assert await store.search("skill", "ns", "words") == []
    with sqlite3.connect(db_path) as conn:
        # The FTS5 integrity check compares the index with the records it mirrors.
        conn.execute("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")
        assert conn.execute("SELECT n_docs, total_len FROM scopes").fetchall() == [(0, 0)]
    conn.close()


_hypothesis = settings(
    max_examples=scaled_examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@aio
@_hypothesis
@given(text=hostile_texts, query=hostile_texts)
async def test_hostile_text_never_breaks_search(store: SQLiteStore, text: str, query: str) -> None:
    reference = InMemoryStore()
    record = Record(ref=Ref("semantic", "hostile", "r"), text=text)
    await store.put(record)
    await reference.put(record)
    got = await store.search("semantic", "hostile", query)
    want = await reference.search("semantic", "hostile", query)
    assert [h.ref.id for h in got] == [h.ref.id for h in want]


@aio
@_hypothesis
@given(namespace=names, rid=names, other=names, text=st.text(max_size=30))
async def test_hostile_ids_and_namespaces_never_leak(
    store: SQLiteStore, namespace: str, rid: str, other: str, text: str
) -> None:
    ref = Ref("episodic", namespace, rid)
    stored = await store.put(Record(ref=ref, text=f"needle {text}", body={"rid": rid}))
    assert await store.get(ref) == stored
    if other != namespace:
        assert await store.get(Ref("episodic", other, rid)) is None
        assert await store.search("episodic", other, "needle") == []
        assert (await store.scan("episodic", other)).records == []
    if other != rid:
        assert await store.get(Ref("episodic", namespace, other)) is None
    hits = await store.search("episodic", namespace, "needle", limit=1000)
    assert ref in {h.ref for h in hits}
    assert all(h.ref.namespace == namespace for h in hits)
    await store.delete(ref)
