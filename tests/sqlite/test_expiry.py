"""TTL: expired records are filtered on every read and swept with their index rows."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from agentmem import Record, Ref
from agentmem.testing import ManualClock
from agentmem_sqlite import SQLiteStore

aio = pytest.mark.asyncio


def _rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@aio
async def test_expired_records_vanish_from_reads_before_any_sweep(
    store: SQLiteStore, clock: ManualClock, db_path: Path
) -> None:
    ref = Ref("working", "ns", "step-1")
    await store.put(
        Record(
            ref=ref,
            text="short lived",
            tags=frozenset({"t"}),
            expires_at=clock() + timedelta(seconds=10),
        )
    )
    clock.advance(10)
    assert await store.get(ref) is None
    assert await store.get_many([ref]) == [None]
    assert await store.count("working", "ns") == 0
    assert (await store.scan("working", "ns", tags=frozenset({"t"}))).records == []
    assert await store.search("working", "ns", "short") == []
    # Still on disk until swept: reads filter, they do not depend on the sweep.
    assert _rows(db_path, "SELECT count(*) FROM records") == [(1,)]


@aio
async def test_sweep_removes_rows_index_entries_and_statistics(
    store: SQLiteStore, clock: ManualClock, db_path: Path
) -> None:
    soon = clock() + timedelta(seconds=5)
    await store.put_many(
        [
            Record(ref=Ref("working", "ns", f"t{i}"), text=f"temp word{i}", expires_at=soon)
            for i in range(1200)  # more than one sweep batch
        ]
        + [Record(ref=Ref("working", "ns", "keep"), text="temp keeper")]
    )
    assert await store.sweep() == 0
    clock.advance(5)
    assert await store.sweep() == 1200
    assert _rows(db_path, "SELECT id FROM records") == [("keep",)]
    assert _rows(db_path, "SELECT count(*) FROM records_fts WHERE records_fts MATCH 'temp'") == [
        (0,)
    ]
    assert _rows(db_path, "SELECT n_docs, total_len FROM scopes") == [(1, 2)]
    _rows(db_path, "INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")
    assert [h.ref.id for h in await store.search("working", "ns", "temp")] == ["keep"]


@aio
async def test_sweep_emits_no_change(store: SQLiteStore, clock: ManualClock) -> None:
    await store.put(
        Record(ref=Ref("working", "ns", "x"), expires_at=clock() + timedelta(seconds=1))
    )
    async with store.watch() as stream:
        clock.advance(2)
        assert await store.sweep() == 1
        assert await stream.next(0.2) is None


@aio
async def test_background_sweeper_runs_on_its_interval(db_path: Path, clock: ManualClock) -> None:
    async with await SQLiteStore.open(
        f"sqlite://{db_path}?sweep_interval=0.05", clock=clock
    ) as store:
        await store.put(
            Record(ref=Ref("working", "ns", "x"), expires_at=clock() + timedelta(seconds=1))
        )
        clock.advance(1)
        for _ in range(400):  # waits for the sweeper, bounded; asserts no timing
            if _rows(db_path, "SELECT count(*) FROM records") == [(0,)]:
                break
            await asyncio.sleep(0.025)
        assert _rows(db_path, "SELECT count(*) FROM records") == [(0,)]


@aio
async def test_put_over_an_expired_record_starts_again(
    store: SQLiteStore, clock: ManualClock
) -> None:
    ref = Ref("working", "ns", "again")
    await store.put(Record(ref=ref, expires_at=clock() + timedelta(seconds=1)))
    await store.put(Record(ref=ref, expires_at=clock() + timedelta(seconds=1)))
    clock.advance(1)
    fresh = await store.put(Record(ref=ref, text="second life"))
    assert fresh.version == 1
    assert fresh.created_at == clock()
    assert [h.ref.id for h in await store.search("working", "ns", "second")] == ["again"]
