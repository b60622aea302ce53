"""A subprocess agent for the fault suite: a failover store that writes until told to stop.

``python -m tests.routing.fault_agent <failover url> <name>``: prints ``READY``, writes
``episodic/faults/<name>-<n>`` records (a few ms apart) from the ``GO`` line on stdin
until the ``STOP`` line, waits for the circuit to close, then prints one JSON line:
the acknowledged ids, errors seen by callers, and the store's counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys

from agentmem import open_store
from agentmem.routing import FailoverStore
from agentmem.store import Record, Ref


async def run(url: str, name: str) -> None:
    store = await open_store(url, origin=name)
    assert isinstance(store, FailoverStore)
    loop = asyncio.get_running_loop()
    async with store:
        await store.ping()
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        stop = loop.run_in_executor(None, sys.stdin.readline)
        acked: list[str] = []
        errors: list[str] = []
        n = 0
        while not stop.done():
            ref = Ref("episodic", "faults", f"{name}-{n}")
            n += 1
            try:
                await store.put(Record(ref=ref, text=f"write {n}", body={"n": n}))
            except Exception as exc:  # counted: the suite requires none
                errors.append(repr(exc))
            else:
                acked.append(ref.id)
            await asyncio.sleep(random.uniform(0.001, 0.006))
        healthy = await store.wait_until_healthy(within=90)
        stats = store.stats
        print(
            json.dumps(
                {
                    "acked": acked,
                    "errors": errors,
                    "healthy": healthy,
                    "pending": stats.pending,
                    "refills": stats.refills,
                    "failovers": stats.failovers,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(sys.argv[1], sys.argv[2]))
