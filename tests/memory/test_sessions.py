"""Session chains: rotate links sessions; history walks back, on every backend and
across processes."""

from __future__ import annotations

import json

import pytest

from tests.memory.support import Backend


@pytest.mark.asyncio
async def test_rotate_links_and_history_is_oldest_first(backend: Backend) -> None:
    async with await backend.open("a1") as memory:
        first = memory.session_id
        await memory.add_step("old session step", "ok")
        second = await memory.rotate_session()
        third = await memory.rotate_session("s-three")
        assert third == "s-three" == memory.session_id
        assert await memory.get_session_history() == [first, second, third]
        sessions = await memory.get_sessions()
        assert [s.session_id for s in sessions] == [first, second, third]
        assert [s.previous_session_id for s in sessions] == [None, first, second]
        assert await memory.get_recent_steps(5) == []  # working memory is per session


def test_history_across_processes(shared_backend: Backend) -> None:
    ids = [f"{shared_backend.namespace}-s{i}" for i in range(1, 5)]
    first = shared_backend.worker("a1", "sessions", ids[0], ids[1])
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == ids[:2]
    # Another process (another agent, even) continues the chain from the last session.
    second = shared_backend.worker("a2", "sessions", ids[1], ids[2], ids[3])
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == ids
