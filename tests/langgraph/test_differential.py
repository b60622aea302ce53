"""Random operation sequences against LangGraph's own InMemoryStore as the oracle: get, put,
delete, list_namespaces and filtered search (no ranking) give the same results on every
backend (memory, SQLite file, real redis-server, real 3-master Redis Cluster)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.store.base import BaseStore, GetOp, Item
from langgraph.store.memory import InMemoryStore

from agentmem.testing.stateful import scaled_examples
from agentmem_langgraph import AgentMemStore

# Few names, in confusable pairs (case, a separator inside a label, an escape sequence
# inside a label): an inexact mapping to agentmem names would merge two of them, which the
# snapshot of every (namespace, key) after each write shows at once.
LABELS = st.sampled_from(["a", "A", "b", "a/b", "a%2Fb"])
ALL_NAMESPACES = [("a",), ("A",), ("b",), ("a", "b"), ("a/b",), ("a%2Fb",), ("a", "B"), ("A", "b")]
ALL_KEYS = ["k", "K", "", "%"]
KEYS = st.sampled_from(ALL_KEYS)
NAMESPACES = st.sampled_from(ALL_NAMESPACES)
VALUES = st.fixed_dictionaries(
    {"n": st.integers(0, 5), "s": st.sampled_from(["x", "y", "z"])},
    optional={
        "t": st.sampled_from(["red", "blue"]),
        "nested": st.fixed_dictionaries({"m": st.integers(0, 2)}),
    },
)
FILTERS = st.one_of(
    st.none(),
    st.fixed_dictionaries({"s": st.sampled_from(["x", "y"])}),
    st.fixed_dictionaries({"n": st.integers(0, 5)}),
    st.builds(
        lambda op, v: {"n": {op: v}},
        st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
        st.integers(0, 5),
    ),
    st.fixed_dictionaries(
        {"n": st.fixed_dictionaries({"$gte": st.integers(0, 3), "$lt": st.integers(2, 5)})}
    ),
    st.fixed_dictionaries(
        {"t": st.sampled_from(["red", "blue"]), "s": st.sampled_from(["x", "z"])}
    ),
    st.fixed_dictionaries({"nested": st.fixed_dictionaries({"m": st.integers(0, 2)})}),
)
PATHS = st.lists(st.one_of(LABELS, st.just("*")), max_size=2).map(tuple)


@dataclass(frozen=True)
class Put:
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]


@dataclass(frozen=True)
class Delete:
    namespace: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class Get:
    namespace: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class Search:
    prefix: tuple[str, ...]
    filter: dict[str, Any] | None
    limit: int
    offset: int


@dataclass(frozen=True)
class ListNamespaces:
    prefix: tuple[str, ...]
    suffix: tuple[str, ...] | None
    max_depth: int | None
    limit: int
    offset: int


OPERATIONS = st.one_of(
    st.builds(Put, NAMESPACES, KEYS, VALUES),
    st.builds(Put, NAMESPACES, KEYS, VALUES),
    st.builds(Delete, NAMESPACES, KEYS),
    st.builds(Get, NAMESPACES, KEYS),
    st.builds(
        Search,
        st.lists(LABELS, max_size=2).map(tuple),
        FILTERS,
        st.sampled_from([1, 3, 100]),
        st.sampled_from([0, 0, 1, 4]),
    ),
    st.builds(
        ListNamespaces,
        PATHS,
        st.one_of(
            st.none(), st.lists(st.one_of(LABELS, st.just("*")), min_size=1, max_size=2).map(tuple)
        ),
        st.one_of(st.none(), st.integers(1, 4)),
        st.sampled_from([2, 100]),
        st.sampled_from([0, 0, 1, 3]),
    ),
)


def _prune(oracle: InMemoryStore) -> None:
    # InMemoryStore's dict of namespaces is a defaultdict: a get or a delete on a namespace
    # leaves it listed with no item in it. Every persistent LangGraph store (and this one)
    # lists only namespaces that hold items, so the oracle's empty ones are dropped first.
    for namespace in [ns for ns, items in oracle._data.items() if not items]:
        del oracle._data[namespace]


def _view(item: Item | None) -> tuple[tuple[str, ...], str, dict[str, Any]] | None:
    return None if item is None else (item.namespace, item.key, item.value)


def apply(store: BaseStore, root: str, op: object) -> object:
    """Run one operation under the run's own top label; return what is compared."""
    if isinstance(op, Put):
        store.put((root, *op.namespace), op.key, op.value)
        return None
    if isinstance(op, Delete):
        store.delete((root, *op.namespace), op.key)
        return None
    if isinstance(op, Get):
        return _view(store.get((root, *op.namespace), op.key))
    if isinstance(op, Search):
        hits = store.search((root, *op.prefix), filter=op.filter, limit=op.limit, offset=op.offset)
        return [_view(hit) for hit in hits]
    assert isinstance(op, ListNamespaces)
    if isinstance(store, InMemoryStore):
        _prune(store)
    return store.list_namespaces(
        prefix=(root, *op.prefix),
        suffix=op.suffix,
        max_depth=op.max_depth,
        limit=op.limit,
        offset=op.offset,
    )


def _key(view: Any) -> str:
    return repr(view)


def check_same(store: BaseStore, oracle: InMemoryStore, operations: list[object]) -> None:
    # A fresh top label per example: the examples share one store, never one namespace.
    root = f"run-{uuid.uuid4().hex[:10]}"
    for step, op in enumerate(operations):
        ours, expected = apply(store, root, op), apply(oracle, root, op)
        context = f"step {step}: {op}"
        if isinstance(op, Search):
            # Search order without a query is unspecified in LangGraph (InMemoryStore keeps
            # insertion order, the SQL stores order by update time): compare the whole
            # result as a set, and a page by its size and its membership in the whole.
            assert isinstance(ours, list) and isinstance(expected, list)
            full = apply(oracle, root, Search(op.prefix, op.filter, 10_000, 0))
            assert isinstance(full, list)
            assert len(ours) == len(expected), context
            assert {_key(v) for v in ours} <= {_key(v) for v in full}, context
            assert len({_key(v) for v in ours}) == len(ours), context
            if op.offset == 0 and op.limit >= len(full):
                assert sorted(map(_key, ours)) == sorted(map(_key, expected)), context
        else:
            assert ours == expected, context
        if isinstance(op, Put | Delete):
            assert snapshot(store, root) == snapshot(oracle, root), f"after {context}"


def snapshot(store: BaseStore, root: str) -> object:
    """Every item of the name pool (one batch of gets) and every namespace of the run."""
    gets = [GetOp((root, *ns), key) for ns in ALL_NAMESPACES for key in ALL_KEYS]
    items = [_view(item) for item in store.batch(gets)]  # type: ignore[arg-type]
    if isinstance(store, InMemoryStore):
        _prune(store)
    return items, store.list_namespaces(prefix=(root,), limit=1000)


@pytest.fixture
def store(url: str) -> Any:
    with AgentMemStore.from_conn_string(url) as opened:
        yield opened


@settings(
    max_examples=scaled_examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, min_size=8, max_size=40))
def test_same_results_as_in_memory_store(store: AgentMemStore, operations: list[object]) -> None:
    check_same(store, InMemoryStore(), operations)


def test_namespaces_that_differ_by_case_or_separator_stay_apart(store: AgentMemStore) -> None:
    root = f"run-{uuid.uuid4().hex[:10]}"
    store.put((root, "tenant", "a"), "doc", {"owner": "a"})
    store.put((root, "tenant", "A"), "doc", {"owner": "A"})
    store.put((root, "a/b"), "doc", {"owner": "a/b"})
    store.put((root, "a", "b"), "doc", {"owner": "a,b"})
    store.delete((root, "tenant", "A"), "doc")
    assert store.get((root, "tenant", "a"), "doc").value == {"owner": "a"}  # type: ignore[union-attr]
    assert store.get((root, "tenant", "A"), "doc") is None
    assert store.get((root, "a/b"), "doc").value == {"owner": "a/b"}  # type: ignore[union-attr]
    assert store.list_namespaces(prefix=(root,)) == [
        (root, "a", "b"),
        (root, "a/b"),
        (root, "tenant", "a"),
    ]
    assert [i.value for i in store.search((root, "a"))] == [{"owner": "a,b"}]
