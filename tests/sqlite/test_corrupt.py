"""A corrupt row in the SQLite file (bad bytes, or bad values in its columns) is skipped by
reads of many records, reported once, raised by get, and found and removed by
agentmem.corruption; no sqlite3, JSON or type error escapes."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from agentmem import CorruptRecord, Record, Ref
from agentmem.cli.diagnose import diagnose
from agentmem.corruption import corrupt_count, delete_corrupt, find_corrupt
from agentmem_sqlite import SQLiteStore

pytestmark = pytest.mark.asyncio

NS = "corrupt"
DAMAGE = {
    "bad-bytes": ("blob", b"\x11garbage"),
    "tags-not-json": ("tags", "not json ["),
    "tags-not-array": ("tags", '{"a": 1}'),
    "tags-not-strings": ("tags", "[1, {}]"),
    "text-in-version": ("version", "seven"),
    "text-in-expires_at": ("expires_at", "tomorrow"),
    "text-in-created_at": ("created_at", "long ago"),
    "text-in-updated_at": ("updated_at", "just now"),
    "text-in-doc_len": ("doc_len", "long"),
}


async def fill(store: SQLiteStore) -> list[Ref]:
    refs = [Ref("episodic", NS, f"ep-{i}") for i in range(4)]
    await store.put_many(
        [Record(ref=ref, text=f"deploy the web app {ref.id}", tags={"deploy"}) for ref in refs]
    )
    return refs


def damage(path: Path, ref: Ref, column: str, value: object) -> None:
    # Another program (or a disk) wrote this; the store only ever sees the file.
    with sqlite3.connect(path) as conn:
        changed = conn.execute(
            f"UPDATE records SET {column} = ? WHERE kind = ? AND namespace = ? AND id = ?",
            (value, ref.kind, ref.namespace, ref.id),
        ).rowcount
    assert changed == 1


@pytest.mark.parametrize("what", list(DAMAGE))
async def test_reads_of_many_skip_the_corrupt_row_and_get_raises(
    store: SQLiteStore, db_path: Path, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    refs = await fill(store)
    bad, good = refs[1], [r for r in refs if r != refs[1]]
    column, value = DAMAGE[what]
    damage(db_path, bad, column, value)
    caplog.set_level(logging.WARNING, logger="agentmem.corruption")

    for _ in range(2):  # logged once, however often it is met
        hits = await store.search("episodic", NS, "deploy web", limit=10)
        assert sorted(h.ref for h in hits) == good
        hits = await store.search("episodic", NS, "deploy", limit=10, tags=["deploy"])
        assert sorted(h.ref for h in hits) == good
        assert [r.ref for r in (await store.scan("episodic", NS)).records] == good
        tagged = await store.scan("episodic", NS, tags=["deploy"], limit=2)
        rest = await store.scan("episodic", NS, tags=["deploy"], cursor=tagged.cursor)
        assert [r.ref for r in tagged.records + rest.records] == good
        got = await store.get_many(refs)
        assert [r is not None for r in got] == [True, False, True, True]
    with pytest.raises(CorruptRecord):
        await store.get(bad)
    warnings = [r for r in caplog.records if r.name == "agentmem.corruption"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert f"episodic/{NS}/{bad.id}" in warnings[0].getMessage()
    assert store.corruption.count == corrupt_count(store) == 1


@pytest.mark.parametrize("what", list(DAMAGE))
async def test_writes_over_a_corrupt_row_replace_or_remove_it(
    store: SQLiteStore, db_path: Path, what: str
) -> None:
    refs = await fill(store)
    column, value = DAMAGE[what]
    damage(db_path, refs[0], column, value)
    damage(db_path, refs[1], column, value)
    damage(db_path, refs[2], column, value)
    # A put replaces the corrupt row: with intact columns its version goes on; with
    # damaged ones the row counts as absent (a fresh version 1).
    expected = 2 if column == "blob" else 1
    rewritten = await store.put(Record(ref=refs[0], text="deploy again"))
    assert rewritten.version == expected
    assert (await store.get(refs[0])) == rewritten
    (many,) = await store.put_many([Record(ref=refs[1], text="deploy once more")])
    assert many.version == expected
    # A delete removes it (silently, like an expired row).
    await store.delete(refs[2])
    assert await store.get(refs[2]) is None
    assert await store.import_many([Record(ref=refs[2], version=3, text="imported")]) == 1
    assert await store.count("episodic", NS) == 4


async def test_find_and_delete_corrupt(store: SQLiteStore, db_path: Path) -> None:
    refs = await fill(store)
    more = [Ref("episodic", NS, f"z-{i}") for i in range(1200)]  # several scan pages
    await store.put_many([Record(ref=ref, text="filler") for ref in more])
    damage(db_path, refs[0], "blob", b"\x11garbage")
    damage(db_path, refs[2], "tags", "not json")
    for ref in more[500:1100]:  # whole pages of corrupt rows do not end the scan
        damage(db_path, ref, "version", "x")
    other = Ref("skill", "elsewhere", "s1")
    await store.put(Record(ref=other, text="a skill"))
    damage(db_path, other, "expires_at", "never")
    found = await find_corrupt(store, "episodic", NS)
    assert found == sorted([refs[0], refs[2], *more[500:1100]])
    assert await find_corrupt(store) == sorted([*found, other])  # the whole store
    assert await delete_corrupt(store, [other]) == 1
    assert await delete_corrupt(store, [*found, refs[1]]) == len(found)  # refs[1] is fine
    assert await find_corrupt(store, "episodic", NS) == []
    assert await store.get(refs[1]) is not None
    assert await store.count("episodic", NS) == 4 + 1200 - len(found)


async def test_agentmem_doctor_reports_the_corrupt_records(db_path: Path) -> None:
    async with await SQLiteStore.open(f"sqlite://{db_path}") as store:
        refs = await fill(store)
    damage(db_path, refs[3], "blob", b"\x11garbage")
    findings = [f for f in await diagnose(f"sqlite://{db_path}") if f.check == "corrupt records"]
    assert [f.status for f in findings] == ["fail"]
    assert "1 found" in findings[0].detail and refs[3].id in findings[0].detail
