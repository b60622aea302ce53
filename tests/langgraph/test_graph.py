"""A real compiled StateGraph with ``store=``: one process stores memories, another finds
them (SQLite file, real redis-server, real Redis Cluster); LangMem's memory tools over it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from agentmem_langgraph import AgentMemStore, AsyncAgentMemStore
from tests.support.urls import fresh_url

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from typing import TypedDict
    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore
    from agentmem_langgraph import AgentMemStore

    class State(TypedDict):
        user: str
        facts: list[str]

    def remember(state: State, *, store: BaseStore) -> dict[str, object]:
        for n, fact in enumerate(state["facts"]):
            store.put(("memories", state["user"]), f"fact-{n}", {"text": fact, "n": n})
        return {}

    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    with AgentMemStore.from_conn_string(sys.argv[1]) as store:
        graph = builder.compile(store=store)
        graph.invoke({"user": "ada", "facts": [
            "prefers dark mode", "deploys on fridays", "writes Rust at work"]})
        graph.invoke({"user": "Ada", "facts": ["a different tenant"]})
    print("stored")
    """
)


class Question(TypedDict):
    user: str
    question: str
    answer: list[str]


def recall(state: Question, *, store: BaseStore) -> dict[str, Any]:
    hits = store.search(("memories", state["user"]), query=state["question"], limit=5)
    return {"answer": [hit.value["text"] for hit in hits]}


def reader_graph() -> Any:
    builder = StateGraph(Question)
    builder.add_node("recall", recall)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", END)
    return builder


@pytest.mark.parametrize("backend", ["sqlite", "redis", "redis-cluster"])
def test_graph_in_one_process_finds_what_another_stored(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = fresh_url(backend, request, tmp_path)
    written = subprocess.run(
        [sys.executable, "-c", WRITER, url], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == "stored"
    with AgentMemStore.from_conn_string(url) as store:
        graph = reader_graph().compile(store=store)
        result = graph.invoke(
            {"user": "ada", "question": "which day deploys happen: fridays?", "answer": []}
        )
        assert result["answer"][0] == "deploys on fridays"
        assert "a different tenant" not in result["answer"]
        assert store.list_namespaces(prefix=("memories",)) == [
            ("memories", "Ada"),
            ("memories", "ada"),
        ]
        kept = store.search(("memories", "ada"), filter={"n": {"$gte": 1}})
        assert sorted(hit.key for hit in kept) == ["fact-1", "fact-2"]


@pytest.mark.asyncio
async def test_async_graph_with_async_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'async.db'}"
    async with AsyncAgentMemStore.from_conn_string(url) as store:
        await store.aput(("memories", "ada"), "pet", {"text": "has a cat called Pixel"})
        graph = reader_graph().compile(store=store)
        # The node is synchronous: LangGraph runs it in a worker thread, whose sync store
        # calls are handed to the store's loop, as with LangGraph's own async stores.
        result = await graph.ainvoke({"user": "ada", "question": "cat name", "answer": []})
        assert result["answer"] == ["has a cat called Pixel"]


def test_langmem_tools_over_the_store(tmp_path: Path) -> None:
    from langmem import create_manage_memory_tool, create_search_memory_tool

    manage = create_manage_memory_tool(namespace=("memories", "{user_id}"))
    search = create_search_memory_tool(namespace=("memories", "{user_id}"))

    class State(TypedDict):
        found: list[str]

    def node(state: State) -> dict[str, Any]:
        manage.invoke({"content": "Ada's favourite editor is Helix", "action": "create"})
        manage.invoke({"content": "Ada is on call this week", "action": "create"})
        hits = search.invoke({"query": "favourite editor"})
        return {"found": [str(hit) for hit in hits] if isinstance(hits, list) else [str(hits)]}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    url = f"sqlite:///{tmp_path / 'langmem.db'}"
    with AgentMemStore.from_conn_string(url) as store:
        graph = builder.compile(store=store)
        result = graph.invoke({"found": []}, {"configurable": {"user_id": "ada"}})
        assert "Helix" in result["found"][0]
        stored = store.search(("memories", "ada"), limit=10)
        assert len(stored) == 2
