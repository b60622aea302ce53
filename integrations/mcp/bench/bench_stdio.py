"""Tool-call round trips to agentmem-mcp over stdio (a benchmark, not a test).

Run:  python integrations/mcp/bench/bench_stdio.py [--calls 300] [--backends sqlite,memory]
      (or ``nox -s bench_mcp``)

For each backend it starts a real server process (this file with ``--serve``: the
agentmem-mcp server plus one extra tool, ``noop``), connects the SDK's client over stdio
and times sequential calls, one in flight at a time:

- ``noop``: a tool that does nothing: the baseline, i.e. what the transport, JSON-RPC,
  argument validation and result serialization cost by themselves;
- ``add_memory``: one new record per call;
- ``search_memory``: a two-word query over the records written (Zipf-distributed words).

It prints p50/p99/mean per tool and what each costs beyond the baseline, measured in the
same run. Nothing is asserted: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

VOCABULARY = [f"w{i}" for i in range(5_000)]
CUM_WEIGHTS = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(VOCABULARY))))


def zipf_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUM_WEIGHTS, k=words))


class Nothing(BaseModel):
    """The no-op tool's (structured) result, like every agentmem-mcp tool has."""

    ok: bool


async def noop() -> Nothing:
    """Do nothing (the benchmark's baseline)."""
    return Nothing(ok=True)


def serve(argv: list[str]) -> int:
    """The server side: agentmem-mcp with a no-op tool added (the baseline)."""
    from agentmem_mcp import MemoryServer, config_from_args

    async def run() -> None:
        async with MemoryServer(config_from_args(argv)) as server:
            server.mcp.add_tool(noop, name="noop", structured_output=True)
            await server.run()  # until the client closes stdin

    asyncio.run(run())
    return 0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def time_calls(client: Any, tool: str, arguments: list[dict[str, Any]]) -> list[float]:
    samples = []
    for args in arguments:
        started = time.perf_counter()
        result = await client.call_tool(tool, args)
        samples.append(time.perf_counter() - started)
        if result.is_error:
            raise SystemExit(f"{tool} failed: {result.content}")
    return samples


async def bench_backend(backend: str, calls: int, folder: Path) -> list[tuple[str, list[float]]]:
    from mcp import Client, StdioServerParameters

    args = [__file__, "--serve", "--backend", backend, "--namespace", "bench"]
    if backend == "sqlite":
        args += ["--sqlite-path", str(folder / "bench.db")]
    params = StdioServerParameters(command=sys.executable, args=args, env=None)
    rng = random.Random(7)
    results: list[tuple[str, list[float]]] = []
    async with Client(params, cache=None) as client:
        warm = [{"content": zipf_text(rng, 30)} for _ in range(30)]
        await time_calls(client, "noop", [{}] * 30)
        await time_calls(client, "add_memory", warm)
        await time_calls(client, "search_memory", [{"query": "w1 w2"}] * 10)
        results.append(("noop", await time_calls(client, "noop", [{}] * calls)))
        adds = [{"content": zipf_text(rng, 30), "tags": ["bench"]} for _ in range(calls)]
        results.append(("add_memory", await time_calls(client, "add_memory", adds)))
        queries = [{"query": zipf_text(rng, 2), "limit": 10} for _ in range(calls)]
        results.append(("search_memory", await time_calls(client, "search_memory", queries)))
    return results


async def main_async(calls: int, backends: list[str]) -> None:
    print(f"agentmem-mcp over stdio: {calls} sequential calls per tool (one in flight)")
    print(
        f"{'backend':<8} {'tool':<14} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 - noop':>11}"
    )
    with tempfile.TemporaryDirectory(prefix="agentmem-mcp-bench-") as tmp:
        for backend in backends:
            results = await bench_backend(backend, calls, Path(tmp))
            baseline = statistics.median(results[0][1])
            for tool, samples in results:
                p50 = statistics.median(samples)
                p99 = percentile(samples, 0.99)
                print(
                    f"{backend:<8} {tool:<14} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f}"
                    f" {statistics.fmean(samples) * 1e3:>8.2f} {(p50 - baseline) * 1e3:>+10.2f}"
                )


def main() -> int:
    if "--serve" in sys.argv:
        return serve([a for a in sys.argv[1:] if a != "--serve"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per tool")
    parser.add_argument("--backends", default="sqlite,memory", help="comma-separated")
    args = parser.parse_args()
    asyncio.run(main_async(args.calls, [b.strip() for b in args.backends.split(",") if b.strip()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
