"""Increments and compare-and-set through a FailoverStore outage (memory:// stores,
failures injected by FaultyStore): deltas replay exactly, conflicts are never silent."""

from __future__ import annotations

import asyncio

import pytest

from agentmem import open_store
from agentmem.errors import ConflictError
from agentmem.inmemory import InMemoryStore
from agentmem.routing import (
    CompareAndSetWhileDegraded,
    FailoverStore,
    ReplayConflict,
    RoutingState,
    failover_url,
)
from agentmem.routing.outbox import OUTBOX_KIND
from agentmem.store import Record, Ref
from tests.routing.faults import FaultyStore

pytestmark = pytest.mark.asyncio

REF = Ref("skill", "team", "deploy")


def make(primary: FaultyStore, **kw: object) -> FailoverStore:
    options: dict[str, object] = {
        "call_timeout": 0.2,
        "probe_initial": 0.01,
        "probe_max": 0.05,
        "probe_jitter": 0.01,
        "epoch_check_interval": None,
        "journal": "test",
        "owns_stores": False,
    }
    options.update(kw)
    return FailoverStore(primary, InMemoryStore(), **options)  # type: ignore[arg-type]


async def test_increments_of_two_agents_through_an_outage_add_up_exactly() -> None:
    shared = InMemoryStore()
    views = [FaultyStore(shared), FaultyStore(shared)]
    agents = [make(view) for view in views]
    try:
        for agent in agents:
            await agent.increment(REF, add={"runs": 1})
        assert agents[0].capabilities.increment
        for view in views:
            view.set("down")
        for agent in agents:
            for _ in range(5):
                got = await agent.increment(REF, add={"runs": 1, "secs": 0.5})
            assert agent.state is not RoutingState.HEALTHY
            # The journal holds the deltas, not the state.
            page = await agent.fallback.scan(OUTBOX_KIND, "test")
            assert [r.body["op"] for r in page.records] == ["increment"] * 5
            assert page.records[0].body["delta"]["add"] == {"runs": 1, "secs": 0.5}
        assert got.body["runs"] == 7  # the local view: 2 before + 5 of its own
        for view in views:
            view.set("up")
        for agent in agents:
            assert await agent.wait_until_healthy(within=10)
            assert agent.stats.pending == 0 and agent.stats.lost == 0
        final = await shared.get(REF)
        assert final is not None and final.body == {"runs": 12, "secs": 5.0}
        # A fallback holds the primary's copy as of its recovery, not its own local view:
        # the first agent recovered before the second replayed.
        first, second = [await agent.fallback.get(REF) for agent in agents]
        assert first is not None and first.body == {"runs": 7, "secs": 2.5}
        assert second is not None and second.body == final.body
        assert second.version == final.version
        assert (await agents[0].increment(REF, add={"runs": 1})).body["runs"] == 13
    finally:
        for agent in agents:
            await agent.close()


async def test_a_replayed_delta_is_applied_once_even_if_the_timed_out_call_landed() -> None:
    primary = FaultyStore()
    async with make(primary) as store:
        await store.increment(REF, add={"n": 1})
        primary.set("hang")  # the call times out; its op id goes to the journal with it
        await store.increment(REF, add={"n": 1}, op_id="op-x")
        assert store.state is not RoutingState.HEALTHY
        # The hung primary applied it after all (as a slow server may), with the same op id.
        await primary.inner.increment(REF, add={"n": 1}, op_id="op-x")
        primary.set("up")
        assert await store.wait_until_healthy(within=10)
        final = await primary.inner.get(REF)
        assert final is not None and final.body == {"n": 2}


async def cas_increment(store: FailoverStore, ref: Ref) -> None:
    while True:
        current = await store.get(ref)
        assert current is not None
        try:
            await store.put(
                Record(ref=ref, body={"n": current.body["n"] + 1}),
                expected_version=current.version,
            )
            return
        except ConflictError:
            await asyncio.sleep(0)


async def test_compare_and_set_conflicts_at_replay_are_reported_once_per_write() -> None:
    shared = InMemoryStore()
    views = [FaultyStore(shared), FaultyStore(shared)]
    seen: list[list[ReplayConflict]] = [[], []]

    async def async_callback(conflict: ReplayConflict) -> None:
        seen[1].append(conflict)

    agents = [
        make(views[0], on_conflict=seen[0].append),
        make(views[1], on_conflict=async_callback),
    ]
    try:
        await agents[0].put(Record(ref=REF, body={"n": 0}))
        await agents[1].get(REF)
        await agents[1].put(Record(ref=REF, body={"n": 0}), expected_version=1)
        acked = 0
        for view in views:
            view.set("down")
        for agent, writes in zip(agents, (3, 2), strict=True):
            for _ in range(writes):
                await cas_increment(agent, REF)
                acked += 1
        for view in views:
            view.set("up")
        for agent in agents:
            assert await agent.wait_until_healthy(within=10)
        final = await shared.get(REF)
        assert final is not None
        reported = sum(agent.stats.conflicts for agent in agents)
        assert [len(s) for s in seen] == [a.stats.conflicts for a in agents]
        assert final.body["n"] == acked - reported
        # Agent 0 took its writes on a fallback copy that was a version behind the primary:
        # all three are reported, with both versions; agent 1's two are carried.
        assert (len(seen[0]), len(seen[1])) == (3, 0)
        first = seen[0][0]
        assert first.ref == REF and first.expected_version == 1
        assert first.ours is not None and first.ours.body == {"n": 3}
        assert first.theirs is not None and first.theirs.version == 2
        assert agents[0].conflicts == seen[0]
        # Agent 0's fallback was replaced by the primary's copy: it continues from there.
        await cas_increment(agents[0], REF)
        after = await shared.get(REF)
        assert after is not None and after.body["n"] == final.body["n"] + 1
    finally:
        for agent in agents:
            await agent.close()


async def test_strict_refuses_compare_and_set_while_degraded_but_takes_plain_writes() -> None:
    primary = FaultyStore()
    async with make(primary, strict=True) as store:
        stored = await store.put(Record(ref=REF, body={"n": 0}))
        primary.set("down")
        with pytest.raises(CompareAndSetWhileDegraded):
            await store.put(Record(ref=REF, body={"n": 1}), expected_version=stored.version)
        with pytest.raises(CompareAndSetWhileDegraded):
            await store.delete(REF, expected_version=stored.version)
        assert store.stats.pending == 0
        await store.put(Record(ref=REF, body={"n": 2}))
        await store.increment(REF, add={"n": 1})
        primary.set("up")
        assert await store.wait_until_healthy(within=10)
        got = await primary.inner.get(REF)
        assert got is not None and got.body == {"n": 3} and store.stats.conflicts == 0


async def test_failover_url_strict_and_on_conflict_option(tmp_path: object) -> None:
    seen: list[ReplayConflict] = []
    url = failover_url("memory://", "memory://") + "&strict=1"
    async with await open_store(url, on_conflict=seen.append) as store:
        assert isinstance(store, FailoverStore) and store.strict
    async with await open_store(failover_url("memory://", "memory://")) as store:
        assert isinstance(store, FailoverStore) and not store.strict


async def test_a_compare_and_set_delete_overtaken_by_a_newer_write_is_reported() -> None:
    shared = InMemoryStore()
    views = [FaultyStore(shared), FaultyStore(shared)]
    seen: list[ReplayConflict] = []
    deleter, writer = make(views[0], on_conflict=seen.append), make(views[1])
    try:
        first = await deleter.put(Record(ref=REF, body={"n": 0}))
        views[0].set("down")
        assert await deleter.delete(REF, expected_version=first.version)
        await writer.put(Record(ref=REF, body={"n": 1}), expected_version=first.version)
        views[0].set("up")
        assert await deleter.wait_until_healthy(within=10)
        kept = await shared.get(REF)
        assert kept is not None and kept.body == {"n": 1}
        assert deleter.stats.conflicts == 1 and deleter.stats.lost == 0
        (conflict,) = seen
        assert conflict.ours is None and conflict.theirs == kept
        assert conflict.expected_version == first.version
    finally:
        await deleter.close()
        await writer.close()
