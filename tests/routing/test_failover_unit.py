"""FailoverStore over real memory:// stores, with failures injected by FaultyStore."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from agentmem import open_store
from agentmem.errors import ConfigurationError, ConflictError, CorruptRecord, InvalidInput
from agentmem.inmemory import InMemoryStore
from agentmem.routing import FailoverStore, RoutingState, failover_url
from agentmem.routing.epoch import PRIMARY_EPOCH_REF
from agentmem.routing.outbox import OUTBOX_KIND
from agentmem.store import Record, Ref
from tests.routing.faults import FaultyStore

pytestmark = pytest.mark.asyncio

KIND, NS = "episodic", "team"


def rec(i: int | str, text: str = "fixed the deploy", **body: object) -> Record:
    return Record(ref=Ref(KIND, NS, f"r{i}"), text=text, body=dict(body))


def make(
    primary: FaultyStore, fallback: InMemoryStore | None = None, **kw: object
) -> FailoverStore:
    options: dict[str, object] = {
        "call_timeout": 0.2,
        "probe_initial": 0.01,
        "probe_max": 0.05,
        "probe_jitter": 0.01,
        "epoch_check_interval": None,
        "journal": "test",
    }
    options.update(kw)
    return FailoverStore(primary, fallback or InMemoryStore(), **options)  # type: ignore[arg-type]


async def test_healthy_writes_reach_primary_and_mirror_into_fallback() -> None:
    primary = FaultyStore()
    async with make(primary) as store:
        stored = await store.put(rec(1, n=1))
        again = await store.put(rec(1, n=2))
        assert (stored.version, again.version) == (1, 2)
        in_primary = await primary.inner.get(again.ref)
        in_fallback = await store.fallback.get(again.ref)
        assert in_primary is not None
        assert in_fallback is not None
        assert in_primary.version == in_fallback.version == 2
        assert in_fallback.body == {"n": 2}
        assert store.state is RoutingState.HEALTHY
        assert store.available
        assert store.stats.failovers == 0
        assert store.stats.pending == 0


async def test_outage_answers_from_fallback_and_replays_on_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agentmem.routing")
    primary = FaultyStore()
    async with make(primary) as store:
        await store.put(rec(1, n=1))
        primary.set("down")
        during = await store.put(rec(1, n=2))
        await store.put_many([rec(2), rec(3)])
        assert during.version == 2  # numbered by the fallback, continuing the mirror
        assert store.state is not RoutingState.HEALTHY
        assert not store.available
        assert store.stats.failovers == 1
        assert store.stats.pending == 3
        got = await store.get(during.ref)
        assert got is not None
        assert got.body == {"n": 2}
        assert [h.ref.id for h in await store.search(KIND, NS, "deploy")] == ["r1", "r2", "r3"]
        assert any(
            r.levelno == logging.WARNING and "answering from fallback" in r.message
            for r in caplog.records
        )

        primary.set("up")
        assert await store.wait_until_healthy(within=10)
        assert store.stats.pending == 0
        assert store.stats.replayed == 3
        replayed = await primary.inner.get(during.ref)
        assert replayed is not None
        assert replayed.version == 2
        assert replayed.body == {"n": 2}
        assert await primary.inner.count(KIND, NS) == 3
        assert any(r.levelno == logging.INFO and "recovered" in r.message for r in caplog.records)
        # Back on the primary: new writes go there and continue its versions.
        after = await store.put(rec(1, n=3))
        assert after.version == 3
        assert (await primary.inner.get(after.ref)).version == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("error", "make_bad_call"),
    [
        (ConflictError, "cas"),
        (InvalidInput, "bad-kind"),
        (CorruptRecord, "corrupt"),
    ],
)
async def test_only_backend_unavailable_opens_the_circuit(
    error: type[Exception], make_bad_call: str
) -> None:
    primary = FaultyStore()
    async with make(primary) as store:
        await store.put(rec(1))
        if make_bad_call == "cas":
            call = store.put(rec(1), expected_version=7)
        elif make_bad_call == "bad-kind":
            call = store.count("Not-A-Kind", NS)
        else:
            primary.set("corrupt")
            call = store.get(Ref(KIND, NS, "r1"))
        with pytest.raises(error):
            await call
        assert store.state is RoutingState.HEALTHY
        assert store.stats.failovers == 0


async def test_hung_primary_costs_one_timeout_then_calls_skip_it() -> None:
    primary = FaultyStore()
    # A probe that would wait a minute: the test sees only the routing of calls.
    async with make(primary, probe_initial=60, probe_max=60) as store:
        await store.put(rec(0))
        primary.set("hang")
        calls_before = primary.calls
        await store.put(rec(1))  # waits call_timeout once, then goes to the fallback
        assert store.state is not RoutingState.HEALTHY
        hung_calls = primary.calls - calls_before
        for i in range(2, 30):
            await store.put(rec(i))
            assert await store.get(rec(i).ref) is not None
        # The probe made at most one attempt; no caller went to the hung primary again.
        assert primary.calls - calls_before <= hung_calls + 1
        assert store.stats.pending == 29


async def test_hung_primary_resumed_converges() -> None:
    primary = FaultyStore()
    async with make(primary) as store:
        primary.set("hang")
        for i in range(10):
            await store.put(rec(i))
        primary.set("up")  # SIGCONT
        assert await store.wait_until_healthy(within=10)
        assert await primary.inner.count(KIND, NS) == 10


async def test_outbox_survives_a_restart_of_the_failover_store() -> None:
    primary = FaultyStore()
    fallback_name = "outbox-restart"
    first = make(primary, InMemoryStore(fallback_name), owns_stores=False)
    await first.put(rec(1))
    primary.set("down")
    await first.put(rec(2))
    await first.delete(rec(1).ref)
    assert first.stats.pending == 2
    await first.close()  # the process ends before the primary returns
    assert await primary.inner.count(KIND, NS) == 1

    primary.set("up")
    async with make(primary, InMemoryStore(fallback_name)) as second:
        await second.get(rec(2).ref)  # first call loads the outbox and starts recovery
        assert await second.wait_until_healthy(within=10)
        assert await primary.inner.get(rec(2).ref) is not None
        assert await primary.inner.get(rec(1).ref) is None
        assert second.stats.replayed == 2
        assert await second.fallback.count(OUTBOX_KIND, "test") == 0


async def test_conflict_resolved_by_version_and_loser_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agentmem.routing")
    shared = FaultyStore()
    async with make(shared) as a, make(shared) as b:
        await a.put(rec("x", n=0))  # both agents know x at v1
        await b.import_many([await shared.inner.get(rec("x").ref)])  # type: ignore[list-item]
        shared.set("down")
        await a.put(rec("x", who="a", n=1))  # v2 in a's fallback
        await a.put(rec("x", who="a", n=2))  # v3 in a's fallback
        await a.put(rec("only-a"))
        await b.put(rec("x", who="b", n=1))  # v2 in b's fallback: loses to a's v3
        await b.put(rec("only-b"))
        shared.set("up")
        assert await a.wait_until_healthy(within=10)
        assert await b.wait_until_healthy(within=10)
        for store in (a, b):
            x = await store.get(rec("x").ref)
            assert x is not None
            assert x.version == 3
            assert x.body == {"who": "a", "n": 2}
            assert await store.get(rec("only-a").ref) is not None
            assert await store.get(rec("only-b").ref) is not None
        assert a.stats.lost + b.stats.lost == 1
        lost = [r.message for r in caplog.records if "write lost" in r.message]
        assert len(lost) == 1
        assert "r" + "x" in lost[0]
        assert "'who': 'b'" in lost[0]


async def test_tie_keeps_the_copy_already_in_the_primary(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agentmem.routing")
    shared = FaultyStore()
    async with make(shared) as a, make(shared) as b:
        shared.set("down")
        await a.put(rec("t", who="a"))
        await b.put(rec("t", who="b"))
        shared.set("up")
        assert await a.wait_until_healthy(within=10)
        assert await b.wait_until_healthy(within=10)
        winner = await shared.inner.get(rec("t").ref)
        assert winner is not None
        assert winner.version == 1
        loser = "b" if winner.body["who"] == "a" else "a"
        assert any(
            "write lost" in r.message and f"'who': '{loser}'" in r.message for r in caplog.records
        )


async def test_delete_during_outage_is_replayed_unless_a_newer_write_won(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agentmem.routing")
    shared = FaultyStore()
    async with make(shared) as a:
        await a.put(rec("d1"))
        await a.put(rec("d2"))
        shared.set("down")
        assert await a.delete(rec("d1").ref)
        assert await a.delete_many([rec("d2").ref]) == 1
        # Another agent, still connected, updates d2 during a's outage.
        await shared.inner.put(rec("d2", who="other"))
        shared.set("up")
        assert await a.wait_until_healthy(within=10)
        assert await shared.inner.get(rec("d1").ref) is None
        kept = await shared.inner.get(rec("d2").ref)
        assert kept is not None
        assert kept.body == {"who": "other"}
        assert any("replayed delete lost" in r.message for r in caplog.records)


async def test_emptied_primary_is_refilled_with_live_records() -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    primary = FaultyStore(InMemoryStore(clock=clock))
    fallback = InMemoryStore(clock=clock)
    async with make(primary, fallback, clock=clock) as store:
        await store.put(rec(1, text="postgres migration"))
        await store.put(
            Record(
                ref=Ref(KIND, NS, "short"),
                text="postgres cache",
                expires_at=now[0] + timedelta(minutes=5),
            )
        )
        await store.put(Record(ref=Ref("semantic", "other", "s1"), text="retry with backoff"))
        primary.wipe()  # restart without persistence
        primary.inner = InMemoryStore(clock=clock)
        now[0] += timedelta(minutes=10)  # "short" has expired meanwhile
        await store.check_primary()
        assert await store.wait_until_healthy(within=10)
        assert store.stats.refills == 1
        hits = await primary.inner.search(KIND, NS, "postgres")
        assert [h.ref.id for h in hits] == ["r1"]
        assert await primary.inner.get(Ref("semantic", "other", "s1")) is not None
        assert await primary.inner.get(PRIMARY_EPOCH_REF) is not None


async def test_write_into_emptied_primary_is_not_overwritten_by_refill() -> None:
    primary = FaultyStore()
    async with make(primary) as store:
        for n in range(3):
            await store.put(rec(1, n=n))  # v3 everywhere
        primary.wipe()
        new = await store.put(rec(1, n=99))  # the empty primary numbers it v1
        assert new.version == 1
        assert await store.wait_until_healthy(within=10)
        final = await primary.inner.get(rec(1).ref)
        assert final is not None
        assert final.body == {"n": 99}
        assert final.version > 3


async def test_concurrent_writers_across_flapping_primary_lose_nothing() -> None:
    primary = FaultyStore()
    acknowledged: dict[Ref, int] = {}

    async def writer(store: FailoverStore, w: int) -> None:
        for i in range(60):
            stored = await store.put(rec(f"{w}-{i % 15}", n=i))
            acknowledged[stored.ref] = i
            await asyncio.sleep(0)

    async with make(primary) as store:
        tasks = [asyncio.create_task(writer(store, w)) for w in range(6)]
        for mode in ("down", "up", "hang", "up", "down", "up") * 3:
            await asyncio.sleep(0.01)
            primary.set(mode)  # type: ignore[arg-type]
        await asyncio.gather(*tasks)
        primary.set("up")
        assert await store.wait_until_healthy(within=20)
        assert store.stats.pending == 0
        print(f"acknowledged refs={len(acknowledged)} failovers={store.stats.failovers}")
        for ref, n in acknowledged.items():
            got = await primary.inner.get(ref)
            mirrored = await store.fallback.get(ref)
            assert got is not None, ref
            assert mirrored is not None, ref
            assert got.body == mirrored.body == {"n": n}, ref


async def test_watch_follows_the_primary_and_waits_out_an_outage() -> None:
    primary = FaultyStore()
    async with make(primary) as store, store.watch(KIND, NS) as changes:
        await store.put(rec(1))
        first = await changes.next(5)
        assert first is not None
        assert first.ref == rec(1).ref
        primary.set("down")
        await store.put(rec(2))
        assert await changes.next(0.2) is None  # no exception during the outage
        primary.set("up")
        assert await store.wait_until_healthy(within=10)
        replayed = await changes.next(5)
        assert replayed is not None
        assert replayed.ref == rec(2).ref


async def test_failover_url_opens_and_reports_state() -> None:
    url = failover_url("memory://fo-primary", "memory://fo-fallback", call_timeout=0.3)
    async with await open_store(url) as store:
        assert isinstance(store, FailoverStore)
        await store.put(rec(1))
        assert store.available
        assert "failover://" in store.url
        assert "fo-primary" in store.url


@pytest.mark.parametrize(
    "url",
    [
        "failover://?primary=memory%3A%2F%2F",
        "failover://?primary=memory%3A%2F%2F&fallback=memory%3A%2F%2F&bogus=1",
        "failover://?primary=memory%3A%2F%2F&fallback=memory%3A%2F%2F&call_timeout=soon",
        "failover://?primary=nosuch%3A%2F%2Fx&fallback=memory%3A%2F%2F",
        "failover://?primary=memory%3A%2F%2F%3Fx%3D1&fallback=memory%3A%2F%2F",
        "failover://host?primary=memory%3A%2F%2F&fallback=memory%3A%2F%2F",
        "failover://?primary=memory&fallback=memory%3A%2F%2F",
    ],
)
async def test_bad_failover_urls_fail_at_open(url: str) -> None:
    with pytest.raises(ConfigurationError):
        await open_store(url)
