"""Fixtures for the SQLite backend's own tests: real files in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentmem.testing import ManualClock
from agentmem_sqlite import SQLiteStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "agentmem.db"


@pytest_asyncio.fixture
async def store(db_path: Path, clock: ManualClock) -> AsyncIterator[SQLiteStore]:
    """A store on a fresh file, with the background sweeper off (tests sweep by hand)."""
    opened = await SQLiteStore.open(f"sqlite://{db_path}", clock=clock, sweep_interval=0)
    try:
        yield opened
    finally:
        await opened.close()
