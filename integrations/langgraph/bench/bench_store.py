"""AgentMemStore beside LangGraph's InMemoryStore, SqliteStore and AsyncSqliteStore.

Same payloads for every store: N puts (one item each, 8 namespaces), N gets, and S filtered
searches of one namespace; prints each operation's p50 and its ratio to InMemoryStore's and
SqliteStore's. agentmem runs on memory:// and on a SQLite file (and on a Redis URL given
with --redis). Usage: python integrations/langgraph/bench/bench_store.py [-n 1000] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore
from langgraph.store.sqlite.aio import AsyncSqliteStore

from agentmem_langgraph import AgentMemStore, AsyncAgentMemStore


def payload(n: int) -> tuple[tuple[str, ...], str, dict[str, Any]]:
    return (
        ("users", f"u{n % 8}", "memories"),
        f"m{n}",
        {"text": f"memory number {n} about topic {n % 13}", "n": n % 10, "tags": ["a", "b"]},
    )


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def run_sync(store: BaseStore, count: int, searches: int) -> dict[str, float]:
    put, get, search = [], [], []
    for n in range(count):
        ns, key, value = payload(n)
        t = time.perf_counter()
        store.put(ns, key, value)
        put.append(time.perf_counter() - t)
    for n in range(count):
        ns, key, _ = payload(n)
        t = time.perf_counter()
        assert store.get(ns, key) is not None
        get.append(time.perf_counter() - t)
    for n in range(searches):
        t = time.perf_counter()
        store.search(("users", f"u{n % 8}"), filter={"n": {"$gte": 5}}, limit=10)
        search.append(time.perf_counter() - t)
    return {"put": p50(put), "get": p50(get), "search": p50(search)}


async def run_async(store: BaseStore, count: int, searches: int) -> dict[str, float]:
    put, get, search = [], [], []
    for n in range(count):
        ns, key, value = payload(n)
        t = time.perf_counter()
        await store.aput(ns, key, value)
        put.append(time.perf_counter() - t)
    for n in range(count):
        ns, key, _ = payload(n)
        t = time.perf_counter()
        assert await store.aget(ns, key) is not None
        get.append(time.perf_counter() - t)
    for n in range(searches):
        t = time.perf_counter()
        await store.asearch(("users", f"u{n % 8}"), filter={"n": {"$gte": 5}}, limit=10)
        search.append(time.perf_counter() - t)
    return {"put": p50(put), "get": p50(get), "search": p50(search)}


@contextmanager
def sqlite_store(path: Path) -> Iterator[SqliteStore]:
    with SqliteStore.from_conn_string(str(path)) as store:
        store.setup()
        yield store


async def async_sqlite(path: Path, count: int, searches: int) -> dict[str, float]:
    async with AsyncSqliteStore.from_conn_string(str(path)) as store:
        await store.setup()
        return await run_async(store, count, searches)


async def async_agentmem(url: str, count: int, searches: int) -> dict[str, float]:
    async with AsyncAgentMemStore.from_conn_string(url) as store:
        return await run_async(store, count, searches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="puts and gets per store")
    parser.add_argument("-s", type=int, default=100, help="searches per store")
    parser.add_argument("--redis", help="also run agentmem on this redis:// URL (a test server)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-lg-"))
    runs: dict[str, Callable[[], dict[str, float]]] = {
        "InMemoryStore": lambda: run_sync(InMemoryStore(), args.n, args.s),
        "SqliteStore": lambda: _with(sqlite_store(tmp / "lg.db"), args.n, args.s),
        "AsyncSqliteStore": lambda: asyncio.run(async_sqlite(tmp / "lg-async.db", args.n, args.s)),
        "AgentMemStore memory://": lambda: _with(
            AgentMemStore.from_conn_string("memory://"), args.n, args.s
        ),
        "AgentMemStore sqlite://": lambda: _with(
            AgentMemStore.from_conn_string(f"sqlite:///{tmp / 'am.db'}"), args.n, args.s
        ),
        "AsyncAgentMemStore sqlite://": lambda: asyncio.run(
            async_agentmem(f"sqlite:///{tmp / 'am-async.db'}", args.n, args.s)
        ),
    }
    if args.redis:
        runs["AgentMemStore redis://"] = lambda: _with(
            AgentMemStore.from_conn_string(args.redis), args.n, args.s
        )
        runs["AsyncAgentMemStore redis://"] = lambda: asyncio.run(
            async_agentmem(args.redis, args.n, args.s)
        )
    results = {name: run() for name, run in runs.items()}
    base, sql = results["InMemoryStore"], results["SqliteStore"]
    print(f"{args.n} puts, {args.n} gets, {args.s} filtered searches (8 namespaces); p50 in us")
    print(f"{'store':30} {'op':7} {'p50 us':>9} {'x InMemory':>11} {'x Sqlite':>9}")
    for name, figures in results.items():
        for op, value in figures.items():
            print(f"{name:30} {op:7} {value:9.1f} {value / base[op]:11.2f} {value / sql[op]:9.2f}")


def _with(opened: AbstractContextManager[BaseStore], count: int, searches: int) -> dict[str, float]:
    with opened as store:
        return run_sync(store, count, searches)


if __name__ == "__main__":
    main()
