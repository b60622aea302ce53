"""TTL (expiry, refresh on read, sweep), keyword and hybrid ranking with an embedder, and
the injective naming of namespaces and keys."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentmem.store import utcnow
from agentmem_langgraph import NAMESPACE_KIND, AgentMemStore, encode_key, encode_namespace

LABEL_TEXT = st.text(alphabet=st.sampled_from("aA/%#.2F\x00\x1fé-"), max_size=6)


@given(
    a=st.lists(LABEL_TEXT, min_size=1, max_size=3), b=st.lists(LABEL_TEXT, min_size=1, max_size=3)
)
def test_namespace_encoding_is_injective(a: list[str], b: list[str]) -> None:
    if a != b:
        assert encode_namespace(tuple(a)) != encode_namespace(tuple(b))


@given(a=LABEL_TEXT, b=LABEL_TEXT)
def test_key_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert encode_key(a) != encode_key(b)


def test_over_long_names_are_hashed_and_still_distinct() -> None:
    long_a, long_b = ("x" * 300,), ("x" * 299 + "y",)
    assert encode_namespace(long_a).startswith("#")
    assert encode_namespace(long_a) != encode_namespace(long_b)
    assert encode_namespace(long_a) != encode_namespace(("#",))


@pytest.fixture
def store(url: str) -> Iterator[AgentMemStore]:
    with AgentMemStore.from_conn_string(url, ttl={"refresh_on_read": True}) as opened:
        yield opened


def test_ttl_expires_and_refreshes_on_read(store: AgentMemStore) -> None:
    ttl = 2.0 / 60  # two seconds, in LangGraph's minutes
    store.put(("ttl", "a"), "kept", {"v": 1}, ttl=ttl)
    store.put(("ttl", "a"), "lapses", {"v": 2}, ttl=ttl)
    store.put(("ttl", "b"), "only", {"v": 3}, ttl=ttl)
    store.put(("ttl", "c"), "forever", {"v": 4})
    time.sleep(1.2)
    assert store.get(("ttl", "a"), "kept") is not None  # refreshes its expiry
    assert store.get(("ttl", "a"), "lapses", refresh_ttl=False) is not None
    time.sleep(1.3)
    assert store.get(("ttl", "a"), "kept", refresh_ttl=False) is not None
    assert store.get(("ttl", "a"), "lapses") is None
    assert store.get(("ttl", "b"), "only") is None
    # An expired item is neither found nor listed; its namespace goes with it.
    assert sorted(i.key for i in store.search(("ttl",))) == ["forever", "kept"]
    assert store.list_namespaces(prefix=("ttl",)) == [("ttl", "a"), ("ttl", "c")]


def test_sweep_drops_only_empty_namespaces(store: AgentMemStore) -> None:
    store.put(("sweep", "empty"), "k", {"v": 1})
    store.put(("sweep", "full"), "k", {"v": 2})
    store.delete(("sweep", "empty"), "k")
    later = AgentMemStore(
        store.store, loop=store._loop, clock=lambda: utcnow() + timedelta(minutes=11)
    )

    def registered() -> int:
        coro = store.store.count(NAMESPACE_KIND, "namespaces")
        return asyncio.run_coroutine_threadsafe(coro, store._loop).result()

    assert registered() == 2
    assert asyncio.run(store.sweep_ttl()) == 0  # entries younger than the grace stay
    assert asyncio.run(later.sweep_ttl()) == 1
    assert registered() == 1
    assert store.list_namespaces(prefix=("sweep",)) == [("sweep", "full")]


CONCEPTS = {"cat": 0, "kitten": 0, "feline": 0, "car": 1, "vehicle": 1, "red": 2, "sleeps": 3}


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic toy embedder: one dimension per concept, synonyms share one."""
    vectors = []
    for text in texts:
        vector = [0.0] * 5
        for word in text.lower().split():
            vector[CONCEPTS.get(word, 4)] += 1.0
        vectors.append(vector)
    return vectors


def test_keyword_ranking_without_an_embedder(store: AgentMemStore) -> None:
    store.put(("docs",), "cat", {"text": "the kitten sleeps"})
    store.put(("docs",), "car", {"text": "my car is red", "note": "kitten free"})
    store.put(("docs",), "plain", {"text": "nothing here"})
    hits = store.search(("docs",), query="kitten sleeps")
    assert [h.key for h in hits] == ["cat", "car"]
    assert hits[0].score is not None and hits[0].score > (hits[1].score or 0)
    assert store.search(("docs",), query="feline") == []
    assert [h.key for h in store.search(("docs",), query="kitten", offset=1)] == ["car"]


def test_hybrid_ranking_finds_a_synonym(url: str) -> None:
    index = {"dims": 5, "embed": embed, "fields": ["text"]}
    with AgentMemStore.from_conn_string(url, index=index) as store:  # type: ignore[arg-type]
        store.put(("docs",), "cat", {"text": "the kitten sleeps"})
        store.put(("docs",), "car", {"text": "my car is red"})
        store.put(("docs",), "skip", {"text": "a feline"}, index=False)
        hits = store.search(("docs",), query="feline")
        # No stored text has the word: the vector rank alone puts the kitten first; the
        # item put with index=False has no vector and no indexed text.
        assert [h.key for h in hits][:2] == ["cat", "car"]
        assert "skip" not in [h.key for h in hits]
        assert hits[0].score is not None and hits[0].score > (hits[1].score or 0)
