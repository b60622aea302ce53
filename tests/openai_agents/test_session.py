"""AgentMemSession: the same answers as the SDK's SQLiteSession(":memory:"), no lost,
duplicated or reordered item with 4 writer processes, and a real Runner.run with a stub
model (no network), on memory, SQLite, real redis-server and real Redis Cluster."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Model, ModelResponse, Runner, SQLiteSession, Usage, set_tracing_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from agentmem.testing.stateful import scaled_examples
from agentmem_openai_agents import AgentMemSession
from tests.support.urls import fresh_url

REPO = Path(__file__).resolve().parents[2]

ITEMS = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=8)}
    ),
    max_size=4,
)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), ITEMS),
        st.tuples(st.just("get"), st.one_of(st.none(), st.integers(-1, 5))),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("clear"), st.none()),
    ),
    min_size=5,
    max_size=30,
)


async def apply(session: Any, op: tuple[str, Any]) -> Any:
    name, argument = op
    if name == "add":
        return await session.add_items(argument)
    if name == "get":
        return await session.get_items(argument)
    if name == "pop":
        return await session.pop_item()
    return await session.clear_session()


@settings(
    max_examples=scaled_examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_same_answers_as_sqlite_session(url: str, operations: list[tuple[str, Any]]) -> None:
    async def run() -> None:
        session_id = f"s-{uuid.uuid4().hex[:8]}"
        oracle = SQLiteSession(session_id, ":memory:")
        async with AgentMemSession.from_url(session_id, url=url) as ours:
            for step, op in enumerate(operations):
                assert await apply(ours, op) == await apply(oracle, op), f"step {step}: {op}"
        oracle.close()

    asyncio.run(run())


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from agentmem_openai_agents import AgentMemSession

    async def main(url, session_id, writer, count):
        async with AgentMemSession.from_url(session_id, url=url) as session:
            for n in range(count):
                await session.add_items([{"role": "user", "content": f"{writer}:{n}"}])

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "redis", "redis-cluster"])
def test_four_processes_lose_and_duplicate_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # 200 items per writer in each suite's anchor cell; the matrix's secondary cells
    # (AGENTMEM_HYPOTHESIS_SCALE=0.25) check the same code with 50.
    url, session_id, count = (
        fresh_url(backend, request, tmp_path),
        "shared-chat",
        scaled_examples(200),
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, session_id, f"w{w}", str(count)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr

    async def read() -> list[str]:
        async with AgentMemSession.from_url(session_id, url=url) as session:
            return [item["content"] for item in await session.get_items()]  # type: ignore[index]

    contents = asyncio.run(read())
    assert len(contents) == 4 * count
    assert len(set(contents)) == 4 * count
    for w in range(4):
        mine = [c for c in contents if c.startswith(f"w{w}:")]
        assert mine == [f"w{w}:{n}" for n in range(count)]
    print(f"\n{backend}: 4 processes x {count} add_items -> {len(contents)} items, none lost")


@pytest.mark.asyncio
async def test_concurrent_pops_return_each_item_once(url: str) -> None:
    async with AgentMemSession.from_url("pops", url=url) as session:
        await session.add_items([{"role": "user", "content": str(n)} for n in range(40)])
        others = (
            [AgentMemSession.from_url("pops", url=url) for _ in range(3)]
            if url != "memory://"
            else []
        )
        poppers = [session, *others]
        try:
            popped = await asyncio.gather(*(p.pop_item() for _ in range(15) for p in poppers))
        finally:
            for other in others:
                await other.close()
        got = [item["content"] for item in popped if item is not None]  # type: ignore[index]
        assert len(got) == len(set(got)) == min(40, 15 * len(poppers))
        left = [item["content"] for item in await session.get_items()]  # type: ignore[index]
        assert sorted(left + got, key=int) == [str(n) for n in range(40)]
        assert left == sorted(left, key=int)


class EchoModel(Model):
    """Answers with how many input items it was given: the session's history shows in it."""

    def __init__(self) -> None:
        self.inputs: list[list[Any]] = []

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        self.inputs.append(items)
        text = f"seen {len(items)} items"
        message = ResponseOutputMessage(
            id=f"msg-{len(self.inputs)}",
            content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
            role="assistant",
            status="completed",
            type="message",
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the test runs without streaming")


@pytest.mark.asyncio
async def test_runner_run_keeps_history_in_the_session(url: str) -> None:
    set_tracing_disabled(True)
    model = EchoModel()
    agent = Agent(name="assistant", instructions="Be brief.", model=model)
    async with AgentMemSession.from_url("runner", url=url) as session:
        first = await Runner.run(agent, "My name is Ada.", session=session)
        second = await Runner.run(agent, "What is my name?", session=session)
        assert first.final_output == "seen 1 items"
        assert second.final_output == "seen 3 items"
        history = await session.get_items()
        assert [item.get("role") for item in history] == ["user", "assistant", "user", "assistant"]  # type: ignore[union-attr]
        assert history[2]["content"] == "What is my name?"  # type: ignore[index]
        assert json.dumps(history)  # plain JSON data, as the SDK stores it
