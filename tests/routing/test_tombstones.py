"""A delete survives an empty restart and another agent's refill; a re-created record is
not overwritten by a stale copy (issue 9, item 5). Real redis-server, real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.routing import FailoverStore
from agentmem.store import Record, Ref
from tests.routing.test_redis_faults import open_agent
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.asyncio

X = Ref("episodic", "tomb", "x")
Y = Ref("episodic", "tomb", "y")


async def refill_now(agent: FailoverStore) -> None:
    await agent.check_primary()
    assert await agent.wait_until_healthy(within=30)


@pytest.mark.parametrize("first", ["stale-agent", "deleting-agent"])
async def test_delete_stays_deleted_and_recreated_stays_new_after_an_empty_restart(
    redis_server_factory: type[RedisServer], tmp_path: Path, first: str
) -> None:
    server = redis_server_factory().start()
    stale = await open_agent(server, tmp_path, "stale")
    deleter = await open_agent(server, tmp_path, "deleter")
    async with stale, deleter:
        for n in range(3):
            await stale.put(Record(ref=X, body={"by": "stale", "n": n}))
            await stale.put(Record(ref=Y, body={"by": "stale", "n": n}))
        assert await deleter.delete(X)
        assert await deleter.delete(Y)
        recreated = await deleter.put(Record(ref=Y, body={"by": "deleter", "new": True}))
        assert recreated.version == 1
        server.restart(empty=True)
        order = [stale, deleter] if first == "stale-agent" else [deleter, stale]
        for agent in order:
            await refill_now(agent)
        async with await open_store(server.url) as direct:
            x, y = await direct.get_many([X, Y])
        print(
            f"\n{first} refills first: deleted x {'back' if x else 'stays deleted'}, "
            f"re-created y {y.body if y else None}"
        )
        assert x is None
        assert y is not None and y.body == {"by": "deleter", "new": True}
        assert sum(a.stats.refills for a in order) == 2


async def test_delete_during_an_outage_stays_deleted_after_an_empty_restart(
    redis_server_factory: type[RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory().start()
    stale = await open_agent(server, tmp_path, "stale2")
    deleter = await open_agent(server, tmp_path, "deleter2")
    async with stale, deleter:
        await stale.put(Record(ref=X, body={"by": "stale"}))  # v1, also in stale's SQLite
        await deleter.put(Record(ref=X, body={"by": "deleter"}))  # v2
        server.kill()
        assert await deleter.delete(X)  # degraded: journalled, tombstone at v2
        assert not deleter.available
        server.restart(empty=True)
        await refill_now(stale)  # brings its v1 back for a moment
        assert await deleter.wait_until_healthy(within=30)
        async with await open_store(server.url) as direct:
            assert await direct.get(X) is None
