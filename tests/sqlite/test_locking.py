"""Lock contention: callers wait within busy_timeout, then get BackendUnavailable."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from agentmem import BackendUnavailable, Record, Ref
from agentmem_sqlite import SQLiteStore

aio = pytest.mark.asyncio


def _hold_write_lock(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO changes (op, kind, namespace, id, version, origin, at) "
        "VALUES ('put', 'skill', 'other', 'x', 1, 'raw', 0)"
    )
    return conn


@aio
async def test_writer_waits_for_another_connection_and_succeeds(
    store: SQLiteStore, db_path: Path
) -> None:
    await store.put(Record(ref=Ref("skill", "ns", "before")))
    holder = _hold_write_lock(db_path)
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.rollback)
    try:
        stored = await store.put(Record(ref=Ref("skill", "ns", "after")))
    finally:
        holder.close()
    assert stored.version == 1
    assert await store.count("skill", "ns") == 2


@aio
async def test_reads_are_not_blocked_by_a_writer(store: SQLiteStore, db_path: Path) -> None:
    await store.put(Record(ref=Ref("skill", "ns", "a"), text="visible"))
    holder = _hold_write_lock(db_path)
    try:
        assert await store.get(Ref("skill", "ns", "a")) is not None
        assert [h.ref.id for h in await store.search("skill", "ns", "visible")] == ["a"]
        assert await store.count("skill", "ns") == 1
    finally:
        holder.rollback()
        holder.close()


@aio
async def test_lock_held_past_the_bound_is_backend_unavailable(db_path: Path) -> None:
    async with await SQLiteStore.open(
        f"sqlite://{db_path}?busy_timeout=0.2&sweep_interval=0"
    ) as store:
        holder = _hold_write_lock(db_path)
        try:
            with pytest.raises(BackendUnavailable, match="locked"):
                await store.put(Record(ref=Ref("skill", "ns", "late")))
        finally:
            holder.rollback()
            holder.close()
        # Nothing was half-written, and the store works again once the lock is gone.
        assert await store.get(Ref("skill", "ns", "late")) is None
        assert (await store.put(Record(ref=Ref("skill", "ns", "late")))).version == 1


@aio
async def test_cancelled_write_leaves_no_open_transaction(
    store: SQLiteStore, db_path: Path
) -> None:
    holder = _hold_write_lock(db_path)
    task = asyncio.create_task(store.put(Record(ref=Ref("skill", "ns", "c"))))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    holder.rollback()
    holder.close()
    assert (await store.put(Record(ref=Ref("skill", "ns", "d")))).version == 1
