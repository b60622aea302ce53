"""The change log: cursors are sequence numbers, retention prunes, replay from start."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentmem import WATCH_FROM_START, InvalidInput, Record, Ref
from agentmem.testing import ManualClock
from agentmem_sqlite import SQLiteStore

aio = pytest.mark.asyncio


@aio
async def test_cursor_is_the_change_sequence(store: SQLiteStore) -> None:
    assert await store.change_head() == "0"
    await store.put(Record(ref=Ref("skill", "ns", "a")))
    await store.delete(Ref("skill", "ns", "a"))
    changes = await store.read_changes("0", limit=10, timeout=0)
    assert [(c.op, c.cursor, c.version) for c in changes] == [("put", "1", 1), ("delete", "2", 1)]
    assert await store.change_head() == "2"
    with pytest.raises(InvalidInput):
        await store.read_changes("not-a-cursor", limit=1, timeout=0)


@aio
async def test_retention_bounds_the_log(db_path: Path, clock: ManualClock) -> None:
    async with await SQLiteStore.open(
        f"sqlite://{db_path}?retention=10&sweep_interval=0", clock=clock
    ) as store:
        for i in range(200):
            await store.put(Record(ref=Ref("skill", "ns", f"r{i}")))
        await store.sweep()  # also prunes to exactly the bound
        conn = sqlite3.connect(db_path)
        try:
            (kept,) = conn.execute("SELECT count(*) FROM changes").fetchone()
        finally:
            conn.close()
        assert kept == 10
        async with store.watch(since=WATCH_FROM_START) as stream:
            first = await stream.next(1)
        assert first is not None
        assert first.cursor == "191"
        # The head survives pruning, so cursors never go backwards or get reused.
        assert await store.change_head() == "200"


@aio
async def test_watch_resumes_across_reopen(db_path: Path, clock: ManualClock) -> None:
    url = f"sqlite://{db_path}?sweep_interval=0"
    async with await SQLiteStore.open(url, clock=clock, origin="one") as store:
        head = await store.change_head()
        await store.put(Record(ref=Ref("skill", "ns", "a")))
    async with await SQLiteStore.open(url, clock=clock, origin="two") as store:
        await store.put(Record(ref=Ref("skill", "ns", "b")))
        async with store.watch(since=head) as stream:
            got = [await stream.next(1), await stream.next(1)]
    assert [(c.ref.id, c.origin) for c in got if c] == [("a", "one"), ("b", "two")]
