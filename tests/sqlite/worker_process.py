"""One of the processes in test_multiprocess.py: writes, counts with CAS and watches.

Run as ``python worker_process.py DB NAME OTHER N INCREMENTS``; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from pathlib import Path

from agentmem import WATCH_FROM_START, ConflictError, Record, Ref
from agentmem_sqlite import SQLiteStore

BATCH = 5


async def _writes(store: SQLiteStore, name: str, n: int) -> None:
    for i in range(n):
        ref = Ref("episodic", "shared", f"{name}-{i}")
        await store.put(Record(ref=ref, text=f"written by {name} number {i}", body={"i": i}))
        if i % 10 == 0:
            await store.put_many(
                [
                    Record(ref=Ref("episodic", "shared", f"{name}-batch-{i}-{j}"), body={"j": j})
                    for j in range(BATCH)
                ]
            )


async def _increments(store: SQLiteStore, increments: int) -> int:
    ref = Ref("skill", "shared", "counter")
    conflicts = 0
    for _ in range(increments):
        while True:
            current = await store.get(ref)
            value = current.body["n"] if current else 0
            try:
                await store.put(
                    Record(ref=ref, body={"n": value + 1}),
                    expected_version=current.version if current else 0,
                )
                break
            except ConflictError:
                conflicts += 1
    return conflicts


async def _watch(store: SQLiteStore, other: str, n: int) -> int:
    wanted = {f"{other}-{i}" for i in range(n)}
    deadline = time.monotonic() + 120
    async with store.watch("episodic", "shared", since=WATCH_FROM_START) as stream:
        while wanted and time.monotonic() < deadline:
            change = await stream.next(1.0)
            if change is not None and change.origin == other:
                wanted.discard(change.ref.id)
    return n - len(wanted)


async def main(db: str, name: str, other: str, n: int, increments: int) -> dict[str, object]:
    store = await SQLiteStore.open(f"sqlite://{db}", origin=name, sweep_interval=0)
    errors: list[str] = []
    try:
        # Start together so the writes really contend.
        Path(f"{db}.{name}.ready").touch()
        while not Path(f"{db}.{other}.ready").exists():
            await asyncio.sleep(0.01)
        results = await asyncio.gather(
            _writes(store, name, n),
            _increments(store, increments),
            _watch(store, other, n),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                errors.append("".join(traceback.format_exception(result)))
        seen = results[2] if isinstance(results[2], int) else -1
        conflicts = results[1] if isinstance(results[1], int) else -1
    finally:
        await store.close()
    return {"name": name, "errors": errors, "seen_other": seen, "conflicts": conflicts}


if __name__ == "__main__":
    db, name, other, n, increments = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(db, name, other, int(n), int(increments)))))
