"""URLs, options and opening files: bad input is a ConfigurationError naming the fix."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from agentmem import ConfigurationError, Record, Ref, open_store
from agentmem.plugins import backends
from agentmem_sqlite import SQLiteStore
from agentmem_sqlite.options import SQLiteOptions, parse_url

aio = pytest.mark.asyncio


def test_absolute_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_url("sqlite:///abs/path.db", {})[0] == "/abs/path.db"
    assert parse_url("sqlite://rel/path.db", {})[0] == str(tmp_path / "rel" / "path.db")
    assert parse_url("sqlite://with%20space.db", {})[0] == str(tmp_path / "with space.db")


def test_options_from_query_and_keywords() -> None:
    path, options = parse_url(
        "sqlite:///x.db?busy_timeout=2.5&retention=7&synchronous=NORMAL&vector_cache=off",
        {"sweep_interval": 0},
    )
    assert path == "/x.db"
    assert options == SQLiteOptions(
        busy_timeout=2.5,
        retention=7,
        synchronous="normal",
        sweep_interval=0.0,
        vector_cache=False,
    )


@pytest.mark.parametrize(
    ("url", "overrides", "fragment"),
    [
        ("sqlite://", {}, "names no file"),
        ("sqlite:///x.db?nope=1", {}, "unknown sqlite option"),
        ("sqlite:///x.db?busy_timeout=soon", {}, "busy_timeout"),
        ("sqlite:///x.db?busy_timeout=-1", {}, "busy_timeout"),
        ("sqlite:///x.db?busy_timeout=nan", {}, "busy_timeout"),
        ("sqlite:///x.db?retention=0", {}, "retention"),
        ("sqlite:///x.db?retention=1.5", {}, "retention"),
        ("sqlite:///x.db?synchronous=maybe", {}, "synchronous"),
        ("sqlite:///x.db?vector_cache=maybe", {}, "vector_cache"),
        ("sqlite:///x.db?retention=1&retention=2", {}, "twice"),
        ("sqlite:///x.db?retention=1", {"retention": 2}, "both in the URL"),
        ("sqlite:///x.db", {"poll_interval": 0}, "poll_interval"),
        ("sqlite:///x.db", {"retention": True}, "retention"),
        ("sqlite://:memory:", {}, "memory://"),
        ("sqlite:///x.db#frag", {}, "fragment"),
        ("redis://x", {}, "not a sqlite URL"),
    ],
)
def test_bad_urls_and_options(url: str, overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_url(url, overrides)


def test_plugin_registers_the_scheme() -> None:
    info = backends()["sqlite"]
    assert info.distribution == "agentmem-sqlite"
    assert info.plugin == "sqlite"


@aio
async def test_open_store_by_url(db_path: Path) -> None:
    async with await open_store(f"sqlite://{db_path}?sweep_interval=0", origin="agent-1") as store:
        assert isinstance(store, SQLiteStore)
        assert store.origin == "agent-1"
        assert store.capabilities.cross_process
        assert store.capabilities.durable
        assert store.url == f"sqlite://{db_path}?sweep_interval=0"
        await store.put(Record(ref=Ref("skill", "ns", "a")))
    async with await open_store(f"sqlite://{db_path}") as again:
        assert (await again.get(Ref("skill", "ns", "a"))) is not None


@aio
async def test_missing_directory_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(ConfigurationError, match=str(path)):
        await open_store(f"sqlite://{path}")


@aio
async def test_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=str(tmp_path)):
        await open_store(f"sqlite://{tmp_path}")


@aio
async def test_a_non_database_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(ConfigurationError, match=str(path)):
        await open_store(f"sqlite://{path}")


@aio
async def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(ConfigurationError, match="another application"):
        await open_store(f"sqlite://{path}")
    with sqlite3.connect(path) as conn:
        # Refused without a change: their file is not switched to WAL behind their back.
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


@aio
async def test_unwritable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            # root ignores directory permissions; a path under a regular file fails for
            # everyone with ENOTDIR instead.
            blocker = tmp_path / "file"
            blocker.write_text("x")
            path = blocker / "x.db"
        else:
            path = locked / "x.db"
        with pytest.raises(ConfigurationError, match=str(path)):
            await open_store(f"sqlite://{path}")
    finally:
        locked.chmod(0o700)


@aio
async def test_files_are_private(db_path: Path) -> None:
    async with await SQLiteStore.open(f"sqlite://{db_path}", sweep_interval=0) as store:
        await store.put(Record(ref=Ref("skill", "ns", "a"), text="secret"))
        # While the store is open, the WAL and shared-memory files exist too.
        for suffix in ("", "-wal", "-shm"):
            mode = stat.S_IMODE(os.stat(f"{db_path}{suffix}").st_mode)
            assert mode == 0o600, f"{db_path}{suffix} has mode {mode:o}"


@aio
async def test_existing_file_keeps_its_mode(db_path: Path) -> None:
    db_path.touch(mode=0o640)
    db_path.chmod(0o640)
    async with await SQLiteStore.open(f"sqlite://{db_path}", sweep_interval=0):
        pass
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o640


def test_a_directory_is_not_a_sqlite_file_and_leaves_no_thread(tmp_path: Path) -> None:
    errors: list[threading.ExceptHookArgs] = []
    previous = threading.excepthook
    threading.excepthook = errors.append
    try:

        async def attempt() -> None:
            with pytest.raises(ConfigurationError, match="cannot open SQLite file"):
                await open_store(f"sqlite://{tmp_path}")

        asyncio.run(attempt())
        left = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
        time.sleep(0.2)  # a thread posting to the closed loop would fail within this
    finally:
        threading.excepthook = previous
    assert left == []
    assert errors == []
