"""create_memory_adapter: backend resolution from arguments and environment; embedders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from agentmem import hookimpl
from agentmem.errors import ConfigurationError
from agentmem.memory import create_memory_adapter
from agentmem.memory.embedding import embedders, resolve_embedder
from agentmem.memory.factory import redis_url, resolve_store_url
from agentmem.plugins import register_plugin, reset_plugins

ENV = (
    "MEMORY_BACKEND",
    "AGENTMEM_URL",
    "AGENTMEM_SQLITE_PATH",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
    "AGENTMEM_EMBEDDER",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_default_is_sqlite_in_the_data_home(tmp_path: Path) -> None:
    assert resolve_store_url() == f"sqlite://{tmp_path}/xdg/agentmem/memory.db"
    assert (tmp_path / "xdg" / "agentmem").is_dir()


def test_environment_picks_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMORY_BACKEND", "memory")
    assert resolve_store_url() == "memory://"
    monkeypatch.setenv("AGENTMEM_URL", "memory://team")
    assert resolve_store_url() == "memory://team"
    assert resolve_store_url("sqlite", sqlite_path=tmp_path / "a.db") == f"sqlite://{tmp_path}/a.db"
    assert resolve_store_url(url="memory://x") == "memory://x"


def test_redis_means_redis_with_sqlite_fallback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MEMORY_BACKEND", "redis")
    monkeypatch.setenv("REDIS_HOST", "cache.local")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_DB", "2")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss/word")
    url = resolve_store_url(sqlite_path=tmp_path / "fb.db")
    parts = urlsplit(url)
    assert parts.scheme == "failover"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "primary": "redis://:p%40ss%2Fword@cache.local:6380/2",
        "fallback": f"sqlite://{tmp_path}/fb.db",
    }
    assert redis_url("::1", 1, 0, "") == "redis://[::1]:1/0"


def test_bad_configuration_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="unknown memory backend 'mongo'"):
        resolve_store_url("mongo")
    monkeypatch.setenv("REDIS_PORT", "six")
    with pytest.raises(ConfigurationError, match="REDIS_PORT must be an integer"):
        resolve_store_url("redis")


@pytest.mark.asyncio
async def test_sqlite_default_opens_and_says_redis_is_not_in_use(tmp_path: Path) -> None:
    async with await create_memory_adapter(agent_id="a1", enable_pubsub=False) as memory:
        assert memory.store.url.startswith("sqlite://")
        assert memory.redis_manager.available is False
        assert memory.backend_status.state == "direct"
        stats = await memory.get_stats()
        assert stats["backend"]["redis_available"] is False
        assert stats["working_memory"]["capacity"] == 50


# -- the embedder hook ------------------------------------------------------------------


async def letters(texts: Sequence[str]) -> list[list[float]]:
    """A toy embedder: letter counts (deterministic, no model)."""
    return [[float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


@pytest.fixture
def toy_embedder_plugin() -> Iterator[None]:
    @hookimpl
    def register_embedders(register):  # type: ignore[no-untyped-def]
        register("letters", letters, description="letter counts")

    register_plugin(SimpleNamespace(register_embedders=register_embedders), name="toy-embedder")
    yield
    reset_plugins()


def test_no_embedder_by_default() -> None:
    assert embedders() == {}
    assert resolve_embedder(None) is None
    with pytest.raises(ConfigurationError, match="no embedder named 'x'"):
        resolve_embedder("x")


@pytest.mark.asyncio
async def test_a_plugin_embedder_is_used_when_it_is_the_only_one(toy_embedder_plugin: None) -> None:
    assert list(embedders()) == ["letters"]
    assert resolve_embedder(None) is letters
    assert resolve_embedder(False) is None
    async with await create_memory_adapter("memory", enable_pubsub=False) as memory:
        assert memory._retriever.embedder is letters
        await memory.save_episode("zzz zebra buzz", "task", True, 1.0)
        await memory.save_episode("aaa banana", "task", True, 1.0)
        # Both match "task" equally by keyword; the letters decide.
        found = await memory.search_episodes("task zz")
        assert found[0].task_prompt == "zzz zebra buzz"


@pytest.mark.asyncio
async def test_bad_identities_are_rejected_up_front() -> None:
    from agentmem.errors import InvalidInput
    from agentmem.inmemory import InMemoryStore
    from agentmem.memory import AgentMemory

    store = InMemoryStore()
    for kwargs in (
        {"agent_id": ""},
        {"agent_id": "a" * 101},
        {"namespace": "a/b"},
        {"namespace": "n" * 200, "agent_id": "a" * 90},
        {"session_id": "s" * 101},
        {"working_capacity": 0},
    ):
        with pytest.raises(InvalidInput):
            AgentMemory(store, **kwargs)  # type: ignore[arg-type]
    await store.close()
