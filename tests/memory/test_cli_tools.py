"""The store tools of the agentmem command (stats, search, export, import) on real SQLite
files, and the JSON-Lines mapping export and import share."""

from __future__ import annotations

import asyncio
import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentmem import open_store
from agentmem.cli import main
from agentmem.errors import InvalidInput
from agentmem.jsonl import decode_value, dumps_record, encode_value, loads_record
from agentmem.memory.factory import sqlite_url
from agentmem.store import Record, Ref
from agentmem.testing import scaled_examples
from agentmem.testing.strategies import bodies, names, plain_values, utc_datetimes

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _put(url: str, *records: Record) -> None:
    async def put() -> None:
        async with await open_store(url) as store:
            for record in records:
                await store.put(record)

    asyncio.run(put())


def _all(url: str, kind: str, namespace: str) -> list[Record]:
    async def scan() -> list[Record]:
        found: list[Record] = []
        async with await open_store(url) as store:
            cursor: str | None = None
            while True:
                page = await store.scan(kind, namespace, limit=7, cursor=cursor)
                found += page.records
                cursor = page.cursor
                if cursor is None:
                    return found

    return asyncio.run(scan())


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "source.db")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_stats_counts_each_kind_of_a_namespace(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _put(
        url,
        *(Record(ref=Ref("episodic", "team", f"e{i}")) for i in range(3)),
        *(Record(ref=Ref("skill", "team", f"s{i}")) for i in range(2)),
        Record(ref=Ref("working", "team/agent/a1", "w1")),
        Record(ref=Ref("episodic", "other", "elsewhere")),
    )
    status, out, _ = _run(capsys, "stats", "--url", url, "--namespace", "team", "--agent-id", "a1")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"{url}  namespace team"
    counts = {line.split()[0]: int(line.split()[1]) for line in lines[1:]}
    assert counts == {"working": 1, "episodic": 3, "semantic": 0, "skill": 2, "session": 0}
    assert "(namespace team/agent/a1)" in lines[1]


def test_stats_uses_the_environment_like_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MEMORY_BACKEND", "AGENTMEM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTMEM_SQLITE_PATH", str(tmp_path / "env.db"))
    _put(sqlite_url(tmp_path / "env.db"), Record(ref=Ref("semantic", "shared", "p1")))
    status, out, _ = _run(capsys, "stats")
    assert status == 0
    assert out.splitlines()[0].startswith(f"sqlite://{tmp_path}/env.db")
    assert "semantic         1" in out


def test_search_prints_ranked_hits_with_the_first_line_of_text(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _put(
        url,
        Record(ref=Ref("skill", "shared", "deploy"), text="deploy deploy service\nsecond line"),
        Record(ref=Ref("skill", "shared", "rollback"), text="rollback a failed deploy"),
        Record(ref=Ref("skill", "shared", "unrelated"), text="read the logs"),
    )
    status, out, _ = _run(capsys, "search", "deploy", "--kind", "skill", "--url", url)
    assert status == 0
    rows = [line.split(None, 2) for line in out.splitlines()]
    assert [row[1:] for row in rows] == [
        ["deploy", "deploy deploy service"],
        ["rollback", "rollback a failed deploy"],
    ]
    scores = [float(row[0]) for row in rows]
    assert scores[0] > scores[1] > 0

    status, out, _ = _run(
        capsys, "search", "deploy", "--kind", "skill", "--url", url, "--limit", "1"
    )
    assert [line.split()[1] for line in out.splitlines()] == ["deploy"]

    status, out, err = _run(capsys, "search", "nothing", "--kind", "skill", "--url", url)
    assert (status, out, err) == (0, "", "no hits\n")


def _awkward_records() -> list[Record]:
    """Records whose bodies hold everything JSON has no type for."""
    return [
        Record(
            ref=Ref("episodic", "shared", f"ep-{i:03d}"),
            text=f"task {i}\nwith a second line ünïcödé \u2028 separator",
            tags={"ops", f"t{i % 3}"},
            expires_at=T0 + timedelta(days=3650, microseconds=i) if i % 2 else None,
            body={
                "blob": bytes(range(i % 256)) + b"\x00\xff",
                "when": T0 + timedelta(seconds=i),
                "nested": [{"at": T0, "raw": b"", "$bytes": "not a marker"}, {"$dict": {}}],
                "marker_lookalike": {"$bytes": "AAEC"},
                "floats": [1.0, -0.0, math.inf, 1e308],
                "big": 2**64 - 1,
                "none": None,
                "flag": True,
            },
        )
        for i in range(30)
    ]


def test_export_then_import_into_another_file_keeps_every_field(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _awkward_records()
    _put(url, *records)
    _put(url, *records[:5])  # versions 2 for some, so versions must travel too
    export = tmp_path / "episodic.jsonl"
    status, _, err = _run(
        capsys, "export", "--url", url, "--kind", "episodic", "--namespace", "shared",
        "-o", str(export),
    )  # fmt: skip
    assert status == 0
    assert err == f"exported 30 records to {export}\n"
    lines = export.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 31
    assert all(json.loads(line)["ref"]["kind"] == "episodic" for line in lines[:-1])

    target = sqlite_url(tmp_path / "target.db")
    status, out, _ = _run(capsys, "import", str(export), "--url", target)
    assert status == 0
    assert out == "imported 30 of 30 records (0 already as new or newer)\n"

    original = _all(url, "episodic", "shared")
    copied = _all(target, "episodic", "shared")
    assert copied == original
    assert [r.version for r in copied[:6]] == [2, 2, 2, 2, 2, 1]
    assert copied[0].body["when"] == T0
    assert copied[0].body["nested"][0] == {"at": T0, "raw": b"", "$bytes": "not a marker"}
    assert copied[0].body["marker_lookalike"] == {"$bytes": "AAEC"}

    status, out, _ = _run(capsys, "import", str(export), "--url", target)
    assert (status, out) == (0, "imported 0 of 30 records (30 already as new or newer)\n")


def test_export_to_stdout_and_import_from_stdin(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(url, *_awkward_records()[:3])
    status, out, _ = _run(capsys, "export", "--url", url, "--kind", "episodic")
    assert status == 0
    assert len(out.splitlines()) == 3

    monkeypatch.setattr("sys.stdin", io.StringIO(out))
    target = sqlite_url(tmp_path / "target.db")
    status, imported, _ = _run(capsys, "import", "-", "--url", target)
    assert (status, imported) == (0, "imported 3 of 3 records (0 already as new or newer)\n")
    assert _all(target, "episodic", "shared") == _all(url, "episodic", "shared")


def test_bad_url_exits_2_with_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "stats", "--url", "nosuch://somewhere")
    assert (status, out) == (2, "")
    assert err.startswith("agentmem: no agentmem backend handles URL scheme 'nosuch'")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_import_files_exit_2_naming_the_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(capsys, "import", str(tmp_path / "missing.jsonl"), "--url", url)
    assert status == 2
    assert err == f"agentmem: cannot open {tmp_path / 'missing.jsonl'}: No such file or directory\n"

    good = dumps_record(Record(ref=Ref("skill", "shared", "a"), version=1, created_at=T0))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(good + "\n\n{not json\n", encoding="utf-8")
    status, _, err = _run(capsys, "import", str(broken), "--url", url)
    assert status == 2
    assert err.startswith(f"agentmem: {broken}:3: not JSON")

    broken.write_text('{"ref": {"kind": "skill", "namespace": "s", "id": "x"}}\n')
    status, _, err = _run(capsys, "import", str(broken), "--url", url)
    assert (status, err) == (2, f"agentmem: {broken}:1: missing field 'body'\n")


# --- the JSON-Lines mapping on its own --------------------------------------------------

_marker_keys = st.sampled_from(["$bytes", "$datetime", "$float", "$dict", "$", "$other"])
_marker_lookalikes = st.dictionaries(_marker_keys, plain_values, min_size=1, max_size=2)
_bodies_with_lookalikes = bodies | st.dictionaries(
    st.text(max_size=5), _marker_lookalikes | plain_values, max_size=4
)


@st.composite
def _records(draw: st.DrawFn) -> Record:
    return Record(
        ref=Ref(draw(st.sampled_from(["episodic", "skill"])), draw(names), draw(names)),
        body=draw(_bodies_with_lookalikes),
        text=draw(st.text(max_size=60)),
        tags=draw(st.frozensets(names, max_size=4)),
        expires_at=draw(st.none() | utc_datetimes),
        version=draw(st.integers(min_value=1, max_value=2**40)),
        created_at=draw(st.none() | utc_datetimes),
        updated_at=draw(st.none() | utc_datetimes),
    )


@settings(max_examples=scaled_examples(300))
@given(_records())
@example(Record(ref=Ref("skill", "s", "x"), body={"k": {"$bytes": "AAEC"}}, version=1))
@example(Record(ref=Ref("skill", "s", "x"), body={"k": {"$dict": {"$float": "inf"}}}, version=1))
def test_jsonl_mapping_round_trips_every_field(record: Record) -> None:
    line = dumps_record(record)
    assert line.splitlines() == [line]
    json.loads(line)  # strict JSON: any reader can parse it
    assert loads_record(line) == record


def test_values_json_has_no_type_for_are_markers() -> None:
    offset = timezone(timedelta(hours=5, minutes=30))
    value = {"b": b"\x00\x01", "d": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=offset), "n": -math.inf}
    assert encode_value(value) == {
        "b": {"$bytes": "AAE="},
        "d": {"$datetime": "2025-01-02T03:04:05.000006+05:30"},
        "n": {"$float": "-inf"},
    }
    decoded = decode_value(encode_value(value))
    assert decoded == value and decoded["d"].utcoffset() == timedelta(hours=5, minutes=30)
    nan: Any = decode_value(encode_value(math.nan))
    assert math.isnan(nan)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"$bytes": "***"}', "not valid base64"),
        ('{"$datetime": "yesterday"}', "not an ISO-8601 datetime"),
        ('{"$float": "big"}', "unknown or malformed marker"),
        ('{"$surprise": 1}', "unknown or malformed marker"),
    ],
)
def test_malformed_markers_are_refused(line: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_value(json.loads(line))


def test_naive_datetimes_in_bodies_round_trip_naive() -> None:
    # Bodies may hold naive datetimes (the codec keeps them naive); so does an export.
    body = {"at": datetime(2025, 1, 1, 9, 30), "utc": datetime(2025, 1, 1, tzinfo=UTC)}
    encoded = json.loads(json.dumps(encode_value(body)))
    assert encoded["at"] == {"$datetime": "2025-01-01T09:30:00"}
    back = decode_value(encoded)
    assert back == body and back["at"].tzinfo is None and back["utc"].tzinfo is not None
