"""Schema versions: an older file is migrated on open, a newer one refused."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from agentmem import Codec, ConfigurationError, Record, Ref
from agentmem_sqlite import SCHEMA_VERSION, SQLiteStore
from agentmem_sqlite.columns import tags_json, to_micros
from agentmem_sqlite.schema import migrate

aio = pytest.mark.asyncio


async def _make_v1_file(path: Path, records: list[Record]) -> None:
    """A file as agentmem-sqlite schema version 1 wrote it (no search index yet)."""
    codec = Codec()
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("BEGIN IMMEDIATE")
        await migrate(conn, codec, str(path), target=1)
        for r in records:
            assert r.created_at is not None
            assert r.updated_at is not None
            await conn.execute(
                "INSERT INTO records (kind, namespace, id, version, created_at, updated_at, "
                "expires_at, tags, blob) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    r.ref.kind,
                    r.ref.namespace,
                    r.ref.id,
                    r.version,
                    to_micros(r.created_at),
                    to_micros(r.updated_at),
                    tags_json(r.tags),
                    codec.encode(r),
                ),
            )
        await conn.execute(
            "INSERT INTO records (kind, namespace, id, version, created_at, updated_at, "
            "tags, blob) VALUES ('skill', 'ns', 'broken', 1, 0, 0, '[]', x'ff00')"
        )
        await conn.execute("COMMIT")


@aio
async def test_version_1_file_is_migrated_and_searchable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    old = [
        Record(
            ref=Ref("skill", "ns", f"s{i}"),
            text=f"legacy skill number{i}",
            tags=frozenset({"old"}),
            version=3,
            created_at=when,
            updated_at=when,
        )
        for i in range(3)
    ]
    await _make_v1_file(path, old)
    async with await SQLiteStore.open(f"sqlite://{path}", sweep_interval=0) as store:
        assert await store.get(old[0].ref) == old[0]
        hits = await store.search("skill", "ns", "legacy")
        assert sorted(h.ref.id for h in hits) == ["s0", "s1", "s2"]
        assert next(h.ref.id for h in await store.search("skill", "ns", "number1 old")) == "s1"
        updated = await store.put(Record(ref=old[0].ref, text="renewed"))
        assert updated.version == 4
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        conn.execute("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


@aio
async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with await SQLiteStore.open(f"sqlite://{path}", sweep_interval=0):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigurationError, match="upgrade agentmem-sqlite"):
        await SQLiteStore.open(f"sqlite://{path}", sweep_interval=0)


@aio
async def test_reopening_a_current_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "same.db"
    url = f"sqlite://{path}?sweep_interval=0"
    async with await SQLiteStore.open(url) as store:
        await store.put(Record(ref=Ref("skill", "ns", "a"), text="kept"))
    async with await SQLiteStore.open(url) as store:
        assert [h.ref.id for h in await store.search("skill", "ns", "kept")] == ["a"]
