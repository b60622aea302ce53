"""Benchmark agentmem-redis beside raw redis-py doing the same commands (not a test).

Run:  python backends/redis/bench/bench_redis.py [--url redis://host:port/0] [--big 100000]

Without --url it starts a private server (no persistence) on a free port: redis-server, or
the binary AGENTMEM_REDIS_SERVER names (`nox -s servers` prints Redis 8's and Valkey 9's). Prints
p50/p99 latency and throughput of get, put, get_many(100), put_many(100) and search for
the store and for raw redis-py with the same payloads, and their ratios. Search runs on
Zipf-distributed text at 10k and 100k records, to show how its cost grows.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from agentmem import Record, Ref
from agentmem import text as textmod
from agentmem_redis import RedisStore, open_redis_store

VOCABULARY = [f"w{i}" for i in range(50_000)]
CUM_WEIGHTS = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(VOCABULARY))))


def zipf_text(rng: random.Random) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUM_WEIGHTS, k=rng.randint(20, 80)))


def start_server() -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="agentmem-bench-")
    # The same setting as the tests' fixtures: `nox -s servers` prints one per server.
    name = os.environ.get("AGENTMEM_REDIS_SERVER") or "redis-server"
    server = shutil.which(name)
    if server is None:
        raise SystemExit(f"{name} is not an executable (set AGENTMEM_REDIS_SERVER)")
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0", directory


async def timed(
    op: Callable[[], Awaitable[Any]], n: int, concurrency: int = 16
) -> dict[str, float]:
    """p50/p99 of sequential calls, and ops/s with ``concurrency`` tasks."""
    for _ in range(min(20, n)):
        await op()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - start)
    samples.sort()
    count = max(n, concurrency * 5)
    todo = iter(range(count))

    async def worker() -> None:
        for _ in todo:
            await op()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "p50": statistics.median(samples) * 1e3,
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3,
        "ops": count / elapsed,
    }


def row(name: str, ours: dict[str, float], raw: dict[str, float] | None) -> None:
    line = (
        f"{name:<34} p50 {ours['p50']:8.3f} ms  p99 {ours['p99']:8.3f} ms  {ours['ops']:9.0f} ops/s"
    )
    if raw:
        line += (
            f" | raw p50 {raw['p50']:7.3f} ms {raw['ops']:9.0f} ops/s"
            f" | ratio p50 x{ours['p50'] / raw['p50']:.2f} ops x{ours['ops'] / raw['ops']:.2f}"
        )
    print(line, flush=True)


async def bench_basic(store: RedisStore, raw: aioredis.Redis, rng: random.Random) -> None:
    ns = "bench-basic"
    records = [
        Record(
            ref=Ref("episodic", ns, f"r{i}"),
            text=zipf_text(rng),
            body={"i": i, "note": zipf_text(rng)},
        )
        for i in range(1000)
    ]
    await store.put_many(records)
    keys = [store.layout.record_key(r.ref) for r in records]
    blobs = await raw.mget(keys)
    cycle = itertools.cycle(range(1000))

    async def get() -> None:
        await store.get(records[next(cycle)].ref)

    async def raw_get() -> None:
        await raw.get(keys[next(cycle)])

    row("get", await timed(get, 3000), await timed(raw_get, 3000))

    async def put() -> None:
        await store.put(records[next(cycle)])

    async def raw_put() -> None:
        i = next(cycle)
        await raw.set(keys[i], blobs[i])

    row("put", await timed(put, 3000), await timed(raw_put, 3000))

    batches = [list(range(s, s + 100)) for s in range(0, 1000, 100)]
    bcycle = itertools.cycle(batches)

    async def get_many() -> None:
        await store.get_many([records[i].ref for i in next(bcycle)])

    async def raw_get_many() -> None:
        await raw.mget([keys[i] for i in next(bcycle)])

    row("get_many(100)", await timed(get_many, 500), await timed(raw_get_many, 500))

    async def put_many() -> None:
        await store.put_many([records[i] for i in next(bcycle)])

    async def raw_put_many() -> None:
        pipe = raw.pipeline(transaction=False)
        for i in next(bcycle):
            pipe.set(keys[i], blobs[i])
        await pipe.execute()

    row("put_many(100)", await timed(put_many, 300), await timed(raw_put_many, 300))


async def bench_search(
    store: RedisStore, raw: aioredis.Redis, size: int, rng: random.Random
) -> None:
    ns = f"bench-search-{size}"
    have = await store.count("episodic", ns)
    start = time.perf_counter()
    for s in range(have, size, 500):
        await store.put_many(
            [
                Record(ref=Ref("episodic", ns, f"d{i:07}"), text=zipf_text(rng))
                for i in range(s, min(size, s + 500))
            ]
        )
    print(f"-- {size} Zipf records loaded in {time.perf_counter() - start:.1f}s", flush=True)
    base = store.layout.base(0)
    coll = f"episodic:{ns}"
    queries = {
        "rare term": "w31337",
        "mid term": "w400",
        "common 2 terms": "w0 w1",
        "common + rare": "w2 w4242",
        "5 mixed terms": "w3 w40 w500 w7000 w20",
    }
    for label, query in queries.items():
        terms = textmod.query_terms(query)
        postings = [f"{base}:t:{coll}:{t}" for t in terms]
        df = [await raw.zcard(p) for p in postings]

        async def search(q: str = query) -> None:
            await store.search("episodic", ns, q, limit=10)

        async def naive(p: list[str] = postings) -> None:
            # The naive inverted index: union every posting of every term, take the top 10.
            top = await raw.zunion(p, withscores=True)
            best = sorted(top, key=lambda m: -m[1])[:10]
            if best:
                await raw.mget([f"{base}:r:{coll}:{m[0].decode()}" for m in best])

        n = 200 if max(df) < 20_000 else 20
        row(
            f"search {size // 1000}k {label} df={max(df)}",
            await timed(search, n, 4),
            await timed(naive, n, 4),
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url")
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    proc = None
    url = args.url
    if url is None:
        proc, url, _ = start_server()
    try:
        store = await open_redis_store(url, prefix="bench", warn_persistence=False)
        raw = aioredis.Redis.from_url(url, socket_timeout=300)
        rng = random.Random(42)
        print(f"agentmem-redis vs raw redis-py on {url} (ratio = agentmem / raw)")
        await bench_basic(store, raw, rng)
        for size in (10_000, args.big):
            await bench_search(store, raw, size, rng)
        await store.close()
        await raw.aclose()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
