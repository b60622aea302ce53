"""Two processes writing and watching one file: no lost writes, no "database is locked"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentmem import Ref
from agentmem_sqlite import SQLiteStore
from tests.sqlite import worker_process

aio = pytest.mark.asyncio

N = 120
INCREMENTS = 40


@aio
async def test_two_processes_share_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    script = worker_process.__file__
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(db), name, other, str(N), str(INCREMENTS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, other in (("alpha", "beta"), ("beta", "alpha"))
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "database is locked" not in err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    for report in reports:
        assert report["errors"] == [], report["errors"]
        assert report["seen_other"] == N, f"{report['name']} saw {report['seen_other']} of {N}"

    async with await SQLiteStore.open(f"sqlite://{db}", sweep_interval=0) as store:
        batches = 2 * len(range(0, N, 10)) * worker_process.BATCH
        assert await store.count("episodic", "shared") == 2 * N + batches
        counter = await store.get(Ref("skill", "shared", "counter"))
        assert counter is not None
        # Compare-and-set lost no increment, however the two processes interleaved.
        assert counter.body["n"] == 2 * INCREMENTS
        assert counter.version == 2 * INCREMENTS
        hits = await store.search("episodic", "shared", "alpha beta", limit=1000)
        assert len(hits) == 2 * N
