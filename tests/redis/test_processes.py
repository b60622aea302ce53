"""Two store instances in two processes on one Redis: puts, search and watch cross over."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentmem import Record, Ref
from tests.redis.conftest import StoreFactory
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]

PEER = textwrap.dedent(
    """
    import asyncio, json, sys
    from agentmem import Record, Ref, open_store

    async def main(url, prefix, action, ns, arg):
        opening = open_store(url, prefix=prefix, origin="peer", warn_persistence=False)
        async with await opening as s:
            if action == "put":
                for rid in arg.split(","):
                    text = f"peer wrote {rid} deploy"
                    await s.put(Record(ref=Ref("episodic", ns, rid), text=text))
                print(json.dumps({"ok": True}))
            elif action == "read":
                got = await s.get(Ref("episodic", ns, arg))
                hits = await s.search("episodic", ns, "rollback")
                print(json.dumps({"text": got and got.text, "hits": [h.ref.id for h in hits]}))

    asyncio.run(main(*sys.argv[1:]))
    """
)


def peer(url: str, prefix: str, action: str, ns: str, arg: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PEER, url, prefix, action, ns, arg],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def test_put_in_one_process_is_seen_by_get_search_and_watch_in_the_other(
    redis_server: RedisServer, open_store_on: StoreFactory, prefix: str
) -> None:
    store = await open_store_on(redis_server.url)
    ns = "cross"
    async with store.watch(namespace=ns) as changes:
        peer(redis_server.url, prefix, "put", ns, "p1,p2")
        assert (await store.get(Ref("episodic", ns, "p1"))).text == "peer wrote p1 deploy"  # type: ignore[union-attr]
        assert {h.ref.id for h in await store.search("episodic", ns, "deploy")} == {"p1", "p2"}
        first = await changes.next(10)
        second = await changes.next(10)
    assert first is not None
    assert second is not None
    assert [(c.ref.id, c.origin, c.op) for c in (first, second)] == [
        ("p1", "peer", "put"),
        ("p2", "peer", "put"),
    ]
    # and the other way round
    await store.put(Record(ref=Ref("episodic", ns, "mine"), text="rollback the release"))
    assert peer(redis_server.url, prefix, "read", ns, "mine") == {
        "text": "rollback the release",
        "hits": ["mine"],
    }


async def test_a_disconnected_watcher_gets_what_it_missed(
    redis_server: RedisServer, open_store_on: StoreFactory, prefix: str
) -> None:
    watcher = await open_store_on(redis_server.url)
    ns = "missed"
    async with watcher.watch(namespace=ns) as changes:
        peer(redis_server.url, prefix, "put", ns, "a")
        seen = await changes.next(10)
        assert seen is not None
        cursor = changes.cursor
    await watcher.close()  # the watcher goes away for a while ...
    peer(redis_server.url, prefix, "put", ns, "b,c,d")
    back = await open_store_on(redis_server.url)  # ... and comes back with its cursor
    assert cursor is not None
    async with back.watch(namespace=ns, since=cursor) as resumed:
        got = [await resumed.next(10) for _ in range(3)]
        assert await resumed.next(0.2) is None
    assert [c.ref.id for c in got if c is not None] == ["b", "c", "d"]
