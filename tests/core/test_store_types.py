"""Value types of the contract (Ref, Record) and ChangeStream over the memory store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given

from agentmem.changes import ChangeStream
from agentmem.errors import InvalidInput
from agentmem.inmemory import InMemoryStore
from agentmem.store import (
    MAX_ID_LENGTH,
    MAX_NAMESPACE_LENGTH,
    MAX_TAG_LENGTH,
    WATCH_FROM_START,
    Change,
    Record,
    Ref,
)
from agentmem.testing.strategies import names

# -- Ref ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    ["", "Episodic", "1st", "_x", "has-dash", "has space", "k" * 33, "é", "a.b", None, 5],
)
def test_bad_kinds_are_invalid_input(kind: Any) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        Ref(kind, "ns", "id")


@pytest.mark.parametrize("kind", ["a", "episodic", "skill_v2", "k" * 32, "x9"])
def test_good_kinds(kind: str) -> None:
    assert Ref(kind, "ns", "id").kind == kind


BAD_NAMES = {
    "empty": "",
    "newline": "a\nb",
    "nul": "a\x00b",
    "tab": "\t",
    "delete": "a\x7f",
    "c1-control": "a\x85",
    "lone-surrogate": "a\ud800",
    "not-a-str": 42,
    "bytes": b"id",
    "none": None,
}


@pytest.mark.parametrize("value", BAD_NAMES.values(), ids=list(BAD_NAMES))
@pytest.mark.parametrize("field", ["namespace", "id"])
def test_bad_ids_and_namespaces_are_invalid_input(field: str, value: Any) -> None:
    args = {"kind": "skill", "namespace": "ns", "id": "id", field: value}
    with pytest.raises(InvalidInput, match=field):
        Ref(**args)


def test_length_limits_of_ids_and_namespaces() -> None:
    assert Ref("skill", "n" * MAX_NAMESPACE_LENGTH, "i" * MAX_ID_LENGTH)
    with pytest.raises(InvalidInput, match="namespace"):
        Ref("skill", "n" * (MAX_NAMESPACE_LENGTH + 1), "id")
    with pytest.raises(InvalidInput, match="id"):
        Ref("skill", "ns", "i" * (MAX_ID_LENGTH + 1))


@given(namespace=names, rid=names)
def test_any_text_without_controls_is_a_valid_address(namespace: str, rid: str) -> None:
    ref = Ref("episodic", namespace, rid)
    assert (ref.namespace, ref.id) == (namespace, rid)


def test_refs_are_hashable_ordered_values() -> None:
    a, b = Ref("skill", "ns", "a"), Ref("skill", "ns", "b")
    assert a == Ref("skill", "ns", "a")
    assert len({a, b, Ref("skill", "ns", "a")}) == 2
    assert sorted([b, a]) == [a, b]
    with pytest.raises(AttributeError):
        a.id = "c"  # type: ignore[misc]


def test_invalid_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        Ref("BAD", "ns", "id")


# -- Record ------------------------------------------------------------------------------

REF = Ref("semantic", "shared", "k1")


@pytest.mark.parametrize(
    "tags",
    [{"b", "a"}, ["a", "b", "a"], ("b", "a"), frozenset({"a", "b"}), iter(["a", "b"])],
    ids=["set", "list", "tuple", "frozenset", "iterator"],
)
def test_tags_are_normalised_to_a_frozenset(tags: Any) -> None:
    record = Record(ref=REF, tags=tags)
    assert record.tags == frozenset({"a", "b"})
    assert isinstance(record.tags, frozenset)


def test_a_str_as_tags_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="single str"):
        Record(ref=REF, tags="network")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tags",
    [[""], ["ok", "bad\ntag"], ["t" * (MAX_TAG_LENGTH + 1)], [1], [None]],
    ids=["empty", "control", "too-long", "int", "none"],
)
def test_bad_tags_are_rejected(tags: Any) -> None:
    with pytest.raises(InvalidInput, match="tag"):
        Record(ref=REF, tags=tags)


@pytest.mark.parametrize("field", ["expires_at", "created_at", "updated_at"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    naive: dict[str, Any] = {field: datetime(2030, 1, 1)}
    with pytest.raises(InvalidInput, match=field):
        Record(ref=REF, **naive)
    as_text: dict[str, Any] = {field: "2030-01-01T00:00:00Z"}
    with pytest.raises(InvalidInput, match=field):
        Record(ref=REF, **as_text)


def test_aware_datetimes_are_normalised_to_utc() -> None:
    local = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    record = Record(ref=REF, expires_at=local, created_at=local, updated_at=local)
    for value in (record.expires_at, record.created_at, record.updated_at):
        assert value == local
        assert value is not None and value.tzinfo is UTC
        assert value.hour == 6 and value.minute == 30 and value.microsecond == 123456


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ref": ("semantic", "shared", "k1")},
        {"ref": REF, "body": ["not", "a", "dict"]},
        {"ref": REF, "body": None},
        {"ref": REF, "text": None},
        {"ref": REF, "text": b"bytes"},
        {"ref": REF, "version": -1},
        {"ref": REF, "version": 1.0},
    ],
    ids=["ref-tuple", "body-list", "body-none", "text-none", "text-bytes", "neg-version", "float"],
)
def test_malformed_record_fields_are_invalid_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        Record(**kwargs)


def test_record_copies_its_body_and_expiry_is_inclusive() -> None:
    body = {"pattern": "retry"}
    now = datetime(2030, 1, 1, tzinfo=UTC)
    record = Record(ref=REF, body=body, expires_at=now)
    body["pattern"] = "changed"
    assert record.body == {"pattern": "retry"}
    assert record.is_expired(now)
    assert not record.is_expired(now - timedelta(microseconds=1))
    assert not Record(ref=REF).is_expired(now)


def test_stored_keeps_caller_fields_and_sets_bookkeeping() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    record = Record(ref=REF, body={"a": 1}, text="t", tags={"x"}, expires_at=now)
    stored = record.stored(version=4, created_at=now, updated_at=now)
    assert (stored.ref, stored.body, stored.text, stored.tags, stored.expires_at) == (
        REF,
        {"a": 1},
        "t",
        frozenset({"x"}),
        now,
    )
    assert (stored.version, stored.created_at, stored.updated_at) == (4, now, now)
    assert record.version == 0


# -- ChangeStream ------------------------------------------------------------------------

aio = pytest.mark.asyncio


@pytest_asyncio.fixture
async def store() -> AsyncIterator[InMemoryStore]:
    async with InMemoryStore(origin="agent-a") as opened:
        yield opened


def rec(rid: str, kind: str = "episodic", namespace: str = "team") -> Record:
    return Record(ref=Ref(kind, namespace, rid), text=f"record {rid}")


@aio
async def test_next_returns_none_on_timeout(store: InMemoryStore) -> None:
    async with store.watch() as stream:
        assert await stream.next(0.05) is None
        assert await stream.next(0) is None


@aio
async def test_next_delivers_a_put_and_advances_the_cursor(store: InMemoryStore) -> None:
    async with store.watch() as stream:
        start = stream.cursor
        assert start is not None
        stored = await store.put(rec("a"))
        change = await stream.next(10)
        assert change is not None
        assert (change.op, change.ref, change.version, change.origin) == (
            "put",
            stored.ref,
            1,
            "agent-a",
        )
        assert stream.cursor == change.cursor != start
        await store.delete(stored.ref)
        deleted = await stream.next(10)
        assert deleted is not None
        assert (deleted.op, deleted.version) == ("delete", 1)
        assert stream.cursor == deleted.cursor != change.cursor


@aio
async def test_stream_without_since_starts_at_the_first_read(store: InMemoryStore) -> None:
    await store.put(rec("before"))
    stream = store.watch()
    assert stream.cursor is None
    assert await stream.next(0.05) is None  # "before" is history, not news
    await store.put(rec("after"))
    change = await stream.next(10)
    assert change is not None and change.ref.id == "after"
    await stream.aclose()


@aio
async def test_resume_from_a_cursor_and_replay_from_start(store: InMemoryStore) -> None:
    async with store.watch() as stream:
        for rid in "abc":
            await store.put(rec(rid))
        first = await stream.next(10)
    assert first is not None and first.ref.id == "a"
    async with store.watch(since=first.cursor) as resumed:
        seen = [await resumed.next(10) for _ in range(2)]
    assert [c.ref.id for c in seen if c] == ["b", "c"]
    async with store.watch(since=WATCH_FROM_START) as replay:
        everything = [await replay.next(10) for _ in range(3)]
    assert [c.ref.id for c in everything if c] == ["a", "b", "c"]


@aio
async def test_filters_by_kind_and_namespace(store: InMemoryStore) -> None:
    async with store.watch(kind="skill", namespace="team") as stream:
        await store.put(rec("other-kind", kind="episodic"))
        await store.put(rec("other-ns", kind="skill", namespace="elsewhere"))
        await store.put(rec("wanted", kind="skill"))
        change = await stream.next(10)
        assert change is not None and change.ref.id == "wanted"
        assert await stream.next(0.05) is None
        # Skipped changes still move the cursor, so a resume does not re-read them.
        assert stream.cursor == change.cursor


@aio
async def test_aclose_ends_async_iteration(store: InMemoryStore) -> None:
    stream = store.watch()
    await stream.start()
    seen: list[Change] = []

    async def consume() -> None:
        async for change in stream:
            seen.append(change)

    consumer = asyncio.create_task(consume())
    await store.put(rec("a"))
    while not seen:
        await asyncio.sleep(0.01)
    await stream.aclose()
    await asyncio.wait_for(consumer, timeout=10)
    assert [c.ref.id for c in seen] == ["a"]


@aio
async def test_closed_stream_yields_nothing_more(store: InMemoryStore) -> None:
    async with store.watch() as stream:
        await store.put(rec("a"))
    # Leaving the block closed the stream: pending changes are not delivered.
    assert [change async for change in stream] == []
    assert await stream.next(1) is None


@aio
async def test_since_must_be_a_cursor_string(store: InMemoryStore) -> None:
    with pytest.raises(InvalidInput):
        ChangeStream(store, since=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.watch(kind="Not A Kind")


@pytest.mark.parametrize("version", [True, -1, 1.0, "1"])
def test_record_version_must_be_a_plain_non_negative_int(version: Any) -> None:
    with pytest.raises(InvalidInput):
        Record(ref=Ref("episodic", "ns", "id"), version=version)
