"""Exact vector search latency: ``nearest`` over N records of D dimensions per backend.

    python benchmarks/bench_nearest.py [--records 10000] [--dims 384] [--queries 50]

Prints p50/p99 of ``nearest(limit=10)`` on memory://, sqlite:// and redis:// (a
redis-server it starts on a free loopback port) and the bytes one stored vector takes.
Exact search scans the whole collection, so latency grows linearly with N.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_locomo import start_redis

from agentmem import open_store
from agentmem.store import Record, Ref
from agentmem.vectors import Embedding


def unit(rng: random.Random, dims: int) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


async def run(url: str, records: list[Record], queries: list[list[float]]) -> list[float]:
    async with await open_store(url) as store:
        for start in range(0, len(records), 1000):
            await store.put_many(records[start : start + 1000])
        timings = []
        for query in queries:
            started = time.perf_counter()
            await store.nearest(query, kind="episodic", namespace="bench", limit=10)
            timings.append((time.perf_counter() - started) * 1000)
        return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--backends", default="memory,sqlite,redis")
    args = parser.parse_args()
    rng = random.Random(7)
    records = [
        Record(
            ref=Ref("episodic", "bench", f"r{i:07}"),
            embedding=Embedding.quantize(unit(rng, args.dims)),
        )
        for i in range(args.records)
    ]
    queries = [unit(rng, args.dims) for _ in range(args.queries)]
    print(
        f"{args.records} records x {args.dims} dims; a vector takes {args.dims + 9} bytes "
        "in the record (int8 codes + float64 scale + framing)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-nearest-") as tmp:
        for backend in args.backends.split(","):
            process = None
            if backend == "redis":
                process, url = start_redis(Path(tmp))
            else:
                url = "memory://" if backend == "memory" else f"sqlite:///{tmp}/n.db"
            try:
                timings = await run(url, records, queries)
            finally:
                if process is not None:
                    process.terminate()
                    process.wait(10)
            p99 = statistics.quantiles(timings, n=100)[98]
            print(f"{backend:7} p50 {statistics.median(timings):8.1f} ms   p99 {p99:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
