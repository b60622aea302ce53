"""The ``vectors`` side table: kept in step with records, searched without decoding."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis.stateful import run_state_machine_as_test

from agentmem import Codec, Record, Ref
from agentmem.inmemory import InMemoryStore as ReferenceStore
from agentmem.testing import ManualClock
from agentmem.vectors import Embedding
from agentmem_sqlite import SQLiteStore
from tests.sqlite.test_schema import _make_v1_file
from tests.support.vector_copy_model import vector_copy_machine

aio = pytest.mark.asyncio


def _rows(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _vector_ids(db_path: Path) -> list[str]:
    return sorted(
        str(row[0])
        for row in _rows(db_path, "SELECT r.id FROM vectors v JOIN records r ON r.rid = v.rid")
    )


def _e(values: list[float]) -> Embedding:
    return Embedding.quantize(values)


@aio
async def test_vector_rows_follow_put_overwrite_delete_and_sweep(
    store: SQLiteStore, clock: ManualClock, db_path: Path
) -> None:
    def ref(i: str) -> Ref:
        return Ref("episodic", "ns", i)

    await store.put(Record(ref=ref("a"), embedding=_e([1.0, 0.0])))
    await store.put_many(
        [
            Record(ref=ref("b"), embedding=_e([0.0, 1.0])),
            Record(ref=ref("c"), embedding=_e([1.0, 1.0])),
            Record(ref=ref("d"), embedding=_e([1.0, -1.0])),
            Record(ref=ref("d"), text="same ref again, no embedding: the last write wins"),
            Record(
                ref=ref("t"), embedding=_e([1.0, 0.5]), expires_at=clock() + timedelta(seconds=5)
            ),
        ]
    )
    assert _vector_ids(db_path) == ["a", "b", "c", "t"]
    await store.put(Record(ref=ref("b"), text="overwritten without an embedding"))
    assert _vector_ids(db_path) == ["a", "c", "t"]
    await store.delete(ref("a"))
    await store.delete_many([ref("c")])
    assert _vector_ids(db_path) == ["t"]
    hits = await store.nearest([1.0, 0.5], kind="episodic", namespace="ns")
    assert [h.ref.id for h in hits] == ["t"]
    clock.advance(5)
    assert await store.nearest([1.0, 0.5], kind="episodic", namespace="ns") == []
    assert _vector_ids(db_path) == ["t"]  # expired, filtered, not yet swept
    assert await store.sweep() == 1
    assert _vector_ids(db_path) == []
    # increment rewrites the record; its vector row follows what the record holds
    await store.put(Record(ref=ref("n"), embedding=_e([0.5, 0.5]), body={"n": 1}))
    after = await store.increment(ref("n"), add={"n": 1})
    assert _vector_ids(db_path) == ([] if after.embedding is None else ["n"])


@aio
async def test_vectors_match_the_records_after_import_many(
    store: SQLiteStore, db_path: Path
) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    rng = random.Random(3)
    records = [
        Record(
            ref=Ref("episodic", "imp", f"r{i:03}"),
            embedding=_e([rng.uniform(-1, 1) for _ in range(8)]) if i % 3 else None,
            version=2,
            created_at=when,
            updated_at=when,
        )
        for i in range(60)
    ]
    assert await store.import_many(records) == 60
    # An older version is ignored, a newer one without an embedding drops the vector.
    assert (
        await store.import_many([records[1].stored(version=1, created_at=when, updated_at=when)])
        == 0
    )
    newer = Record(ref=records[2].ref, text="no vector now", version=3, created_at=when)
    assert await store.import_many([newer]) == 1
    codec = Codec()
    rows = _rows(
        db_path,
        "SELECT r.blob, v.dim, v.scale, v.codes FROM records r "
        "LEFT JOIN vectors v ON v.rid = r.rid WHERE r.namespace = 'imp'",
    )
    assert len(rows) == 60
    for blob, dim, scale, codes in rows:
        assert isinstance(blob, bytes)
        record = codec.decode(blob)
        if record.embedding is None:
            assert (dim, scale, codes) == (None, None, None)
        else:
            assert (dim, scale, codes) == (
                record.embedding.dimensions,
                record.embedding.scale,
                record.embedding.codes,
            )


@aio
async def test_nearest_matches_the_reference_store_with_tags_and_ties(
    store: SQLiteStore,
) -> None:
    rng = random.Random(11)
    reference = ReferenceStore()
    records = []
    for i in range(300):
        values = [float(rng.randint(-2, 2)) for _ in range(4)]  # many exact ties
        records.append(
            Record(
                ref=Ref("episodic", "ns", f"r{i:03}"),
                embedding=_e(values) if i % 7 else None,
                tags=frozenset({"even"} if i % 2 == 0 else {"odd"}),
            )
        )
    records.append(Record(ref=Ref("episodic", "ns", "short"), embedding=_e([1.0, 2.0])))
    await store.put_many(records)
    await reference.put_many(records)
    for _ in range(20):
        query = [rng.uniform(-1, 1) for _ in range(4)]
        for tags in (None, {"even"}):
            for limit in (1, 10, 50):
                got = await store.nearest(
                    query, kind="episodic", namespace="ns", tags=tags, limit=limit
                )
                want = await reference.nearest(
                    query, kind="episodic", namespace="ns", tags=tags, limit=limit
                )
                assert [h.ref.id for h in got] == [h.ref.id for h in want]
                assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(got, want, strict=True))
    await reference.close()


@aio
async def test_corrupt_or_absent_vectors_and_records_are_skipped(
    store: SQLiteStore, db_path: Path
) -> None:
    ids = ["best", "second", "third", "fourth"]
    await store.put_many(
        [
            Record(ref=Ref("episodic", "ns", rid), embedding=_e([1.0, 0.1 * i]))
            for i, rid in enumerate(ids)
        ]
    )
    conn = sqlite3.connect(db_path)
    try:
        # A vector row with codes of the wrong length is ignored; the best record's
        # blob is damaged, so it is reported and the next best takes its place.
        conn.execute(
            "UPDATE vectors SET codes = x'0102' WHERE rid = "
            "(SELECT rid FROM records WHERE id = 'second')"
        )
        conn.execute("UPDATE records SET blob = x'ff00' WHERE id = 'best'")
        # A vector row whose record is gone (written by hand) matches nothing.
        conn.execute(
            "INSERT INTO vectors (rid, scope, dim, scale, codes) "
            "SELECT 99999, scope, dim, scale, codes FROM vectors LIMIT 1"
        )
        conn.commit()
    finally:
        conn.close()
    hits = await store.nearest([1.0, 0.0], kind="episodic", namespace="ns", limit=2)
    assert [h.ref.id for h in hits] == ["third", "fourth"]
    assert Ref("episodic", "ns", "best") in store.corruption.refs


@aio
async def test_version_3_file_gets_its_vectors_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    when = datetime(2024, 1, 2, tzinfo=UTC)
    old = [
        Record(
            ref=Ref("skill", "ns", f"s{i}"),
            embedding=_e([1.0, float(i)]),
            version=1,
            created_at=when,
            updated_at=when,
        )
        for i in range(3)
    ]
    await _make_v1_file(path, old)
    async with await SQLiteStore.open(f"sqlite://{path}", sweep_interval=0) as store:
        hits = await store.nearest([1.0, 2.0], kind="skill", namespace="ns", limit=1)
        assert [h.ref.id for h in hits] == ["s2"]
    assert _vector_ids(path) == ["s0", "s1", "s2"]


# -- the process's copy of the vectors (vector_cache) -----------------------------------


def _rec(ns: str, i: int, rng: random.Random, embedded: bool = True) -> Record:
    return Record(
        ref=Ref("episodic", ns, f"r{i:05}"),
        embedding=_e([rng.uniform(-1, 1) for _ in range(4)]) if embedded else None,
    )


async def _same_as_stored(cached: SQLiteStore, plain: SQLiteStore, rng: random.Random) -> None:
    """``cached`` (vector_cache on) answers exactly as ``plain`` (reading every row)."""
    for _ in range(5):
        query = [rng.uniform(-1, 1) for _ in range(4)]
        got = await cached.nearest(query, kind="episodic", namespace="ns", limit=8)
        want = await plain.nearest(query, kind="episodic", namespace="ns", limit=8)
        assert [(h.ref.id, h.record.version) for h in got] == [
            (h.ref.id, h.record.version) for h in want
        ]


@aio
async def test_vector_cache_follows_writes_of_another_connection(tmp_path: Path) -> None:
    rng = random.Random(5)
    url = f"sqlite://{tmp_path / 'shared.db'}"
    async with (
        await SQLiteStore.open(url, sweep_interval=0) as searcher,
        await SQLiteStore.open(url, sweep_interval=0) as writer,
        await SQLiteStore.open(url, sweep_interval=0, vector_cache=False) as plain,
    ):
        await writer.put_many([_rec("ns", i, rng) for i in range(200)])
        await _same_as_stored(searcher, plain, rng)
        # New records, new vectors for old ones, vectors dropped, records deleted.
        await writer.put_many([_rec("ns", i, rng) for i in range(150, 260)])
        await writer.put_many([_rec("ns", i, rng, embedded=False) for i in range(40)])
        for i in range(40, 60):
            await writer.delete(Ref("episodic", "ns", f"r{i:05}"))
        await writer.put_many([_rec("other", i, rng) for i in range(50)])
        await _same_as_stored(searcher, plain, rng)
        await searcher.put_many([_rec("ns", i, rng) for i in range(20)])
        await _same_as_stored(searcher, plain, rng)


@aio
async def test_vector_cache_reloads_when_the_change_log_was_trimmed(tmp_path: Path) -> None:
    rng = random.Random(6)
    path = tmp_path / "trimmed.db"
    url = f"sqlite://{path}"
    async with (
        await SQLiteStore.open(url, sweep_interval=0) as searcher,
        await SQLiteStore.open(url, sweep_interval=0, vector_cache=False) as plain,
    ):
        await searcher.put_many([_rec("ns", i, rng) for i in range(50)])
        await _same_as_stored(searcher, plain, rng)
        # More changes than the log keeps (16,384): the searcher cannot catch up from it.
        for start in range(0, 20_000, 2000):
            await plain.put_many([_rec("ns", i, rng) for i in range(start, start + 2000)])
        ((first,),) = _rows(path, "SELECT min(seq) FROM vector_log")
        assert isinstance(first, int) and first > 51
        await _same_as_stored(searcher, plain, rng)


def test_vector_copy_state_machine(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'model.db'}"
    counter = iter(range(1_000_000))

    async def open_handle(clock: ManualClock, cached: bool) -> SQLiteStore:
        return await SQLiteStore.open(url, clock=clock, sweep_interval=0, vector_cache=cached)

    machine = vector_copy_machine(open_handle, lambda: f"model{next(counter)}")
    run_state_machine_as_test(machine, settings=machine.TestCase.settings)
