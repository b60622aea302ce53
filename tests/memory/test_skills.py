"""Skill statistics: exact under concurrency; saving again keeps them."""

from __future__ import annotations

import json
import time

import pytest

from agentmem.errors import InvalidInput
from tests.memory.support import Backend, read_json_line

CALLS = 200


def _expected(calls: int, processes: int) -> tuple[int, int, float]:
    succeeded = sum(1 for i in range(calls) if i % 3 != 0) * processes
    total = sum(0.25 * (i % 4) for i in range(calls)) * processes
    return calls * processes, succeeded, total


def test_two_processes_x_200_concurrent_executions_lose_nothing(shared_backend: Backend) -> None:
    import asyncio

    async def setup() -> None:
        async with await shared_backend.open("owner", enable_pubsub=False) as memory:
            await memory.save_skill("deploy", "deploy the app", [{"action": "deploy"}])

    asyncio.run(setup())
    workers = [shared_backend.worker(f"worker-{n}", "skill", "deploy", str(CALLS)) for n in (1, 2)]
    try:
        for w in workers:
            assert read_json_line(w) == {"ready": True}
        started = time.perf_counter()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        for w in workers:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
            assert json.loads(out.strip().splitlines()[-1]) == {"done": CALLS}
        elapsed = time.perf_counter() - started
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()

    async def check() -> None:
        async with await shared_backend.open("owner", enable_pubsub=False) as memory:
            skill = await memory.get_skill("deploy")
        assert skill is not None
        runs, succeeded, total = _expected(CALLS, 2)
        assert skill.times_executed == runs
        assert skill.times_succeeded == succeeded
        assert skill.total_duration == total
        assert skill.success_rate == succeeded / runs
        assert skill.average_duration == total / runs

    asyncio.run(check())
    print(f"\n{shared_backend.name}: 2 x {CALLS} concurrent executions in {elapsed:.2f}s")


@pytest.mark.asyncio
async def test_two_adapters_racing_in_one_process(backend: Backend) -> None:
    """Two adapters (two store connections) race through compare-and-set."""
    import asyncio

    async with (
        await backend.open("a1", enable_pubsub=False) as one,
        await backend.open("a2", enable_pubsub=False) as two,
    ):
        await one.save_skill("lint", "run the linters", ["ruff"])
        await asyncio.gather(
            *(
                m.record_skill_execution("lint", i % 2 == 0, 1.0)
                for i in range(50)
                for m in (one, two)
            )
        )
        skill = await one.get_skill("lint")
        assert skill is not None
        assert (skill.times_executed, skill.times_succeeded) == (100, 50)
        assert skill.success_rate == 0.5
        assert skill.average_duration == 1.0


@pytest.mark.asyncio
async def test_saving_a_skill_again_keeps_its_statistics(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        await memory.save_skill("lint", "run the linters", ["ruff"], tags=["quality"])
        await memory.record_skill_execution("lint", True, 2.0)
        await memory.record_skill_execution("lint", False, 4.0)
        updated = await memory.save_skill("lint", "run ruff and mypy", ["ruff", "mypy"])
        assert updated.description == "run ruff and mypy"
        assert updated.action_sequence == ["ruff", "mypy"]
        assert (updated.times_executed, updated.times_succeeded) == (2, 1)
        assert updated.average_duration == 3.0
        found = await memory.search_skills("mypy")
        assert [s.skill_name for s in found] == ["lint"]
        # The name is searchable by its parts, too.
        await memory.save_skill("deploy_to_prod", "ship it", [])
        assert [s.skill_name for s in await memory.search_skills("prod")] == ["deploy_to_prod"]


@pytest.mark.asyncio
async def test_recording_an_unknown_skill_is_an_error(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        with pytest.raises(InvalidInput, match="no skill named"):
            await memory.record_skill_execution("nope", True, 1.0)
