"""What the earlier adapter's users rely on: session ids from get_session_history(),
naive datetimes in tool calls, the "Received memory update" log line, python -m agentmem."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from agentmem.memory import MemoryEvent, SessionInfo
from tests.memory.support import REPO, Backend


@pytest.mark.asyncio
async def test_session_history_is_the_chain_of_ids(backend: Backend) -> None:
    async with await backend.open("a1") as memory:
        first = memory.session_id
        second = await memory.rotate_session()
        assert await memory.get_session_history() == [first, second]
        sessions = await memory.get_sessions()
        assert all(isinstance(s, SessionInfo) for s in sessions)
        assert [(s.session_id, s.previous_session_id) for s in sessions] == [
            (first, None),
            (second, first),
        ]


@pytest.mark.asyncio
async def test_naive_datetimes_in_tool_calls_round_trip(backend: Backend) -> None:
    naive = datetime(2024, 5, 6, 7, 8, 9, 123456)
    aware = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    calls = [{"name": "clock", "when": naive, "utc": aware, "now": datetime.now()}]
    async with await backend.open("a1") as memory:
        step = await memory.add_step("read the clock", "it ticks", tool_calls=calls)
        session = memory.session_id
        assert step.tool_calls == calls
    # Read back from the store by a new adapter on the same session.
    async with await backend.open("a1", session_id=session) as again:
        (stored,) = await again.get_recent_steps(1)
    assert stored.tool_calls == calls
    assert stored.tool_calls[0]["when"].tzinfo is None
    assert stored.tool_calls[0]["utc"].tzinfo is not None


@pytest.mark.asyncio
async def test_each_received_change_is_logged_at_debug(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentmem.memory.events")
    async with (
        await backend.open("writer") as one,
        await backend.open("reader") as two,
    ):
        arrived = asyncio.Event()

        def on_event(event: MemoryEvent) -> None:
            arrived.set()

        two.on_event(on_event)
        episode = await one.save_episode("log me", "logged", True, 1.0)
        await asyncio.wait_for(arrived.wait(), 30)
    expected = f"Received memory update: put episodic {episode.memory_id} from writer"
    lines = [r for r in caplog.records if r.getMessage() == expected]
    assert len(lines) == 1
    assert lines[0].levelno == logging.DEBUG


def test_python_dash_m_agentmem_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentmem", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "usage: agentmem" in result.stdout
