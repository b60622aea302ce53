"""A subprocess agent for the outbox tests: writes through a store URL, then dies by kill -9.

Usage: ``python -m tests.routing.outbox_worker <url> <namespace> <writes> <wait-for-go>``

Prints ``OPEN`` once the store answers, waits for a ``GO`` line on stdin when asked (so
the test can stop Redis first), writes, prints the number of acknowledged writes, and
kills itself with SIGKILL: no close, no flush, the outbox stays as it is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from agentmem import open_store
from agentmem.store import Record, Ref


async def run(url: str, namespace: str, writes: int, wait_for_go: bool) -> None:
    store = await open_store(url, origin="worker")
    await store.ping()
    print("OPEN", flush=True)
    if wait_for_go:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    acked = 0
    for i in range(writes):
        await store.put(Record(ref=Ref("episodic", namespace, f"r{i}"), body={"i": i}))
        acked += 1
    print(f"ACKED {acked}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    url, namespace, writes, wait = sys.argv[1:5]
    asyncio.run(run(url, namespace, int(writes), wait == "1"))


if __name__ == "__main__":
    main()
