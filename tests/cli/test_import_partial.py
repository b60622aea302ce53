"""An import that stops part way says exactly what is in the store and where to resume."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from agentmem.jsonl import dumps_record
from agentmem.memory.factory import sqlite_url
from agentmem.store import Record
from tests.cli.support import AGENTMEM, cli_env, records, run_cli, scan_all

T = datetime(2025, 1, 1, tzinfo=UTC)


def _records(n: int = 1500) -> list[Record]:
    return records("episodic", "shared", n)


def test_a_bad_line_reports_the_records_written_and_the_line_to_resume_from(
    tmp_path: Path,
) -> None:
    good = [dumps_record(r.stored(version=3, created_at=T, updated_at=T)) for r in _records()]
    lines = [*good[:1234], "{not json", *good[1234:]]
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = sqlite_url(tmp_path / "m.db")

    result = run_cli(tmp_path, "import", "export.jsonl", "--url", url)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "agentmem: export.jsonl:1235: not JSON: Expecting property name enclosed in double "
        "quotes at column 2",
        "agentmem: lines 1-1234 of export.jsonl are in the store (1234 written, 0 already as "
        "new or newer); resume with --start-line 1235",
    ]
    assert len(scan_all(url, "episodic", "shared")) == 1234

    # Fixed, and resumed where it said.
    lines[1234] = ""
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli(tmp_path, "import", "export.jsonl", "--url", url, "--start-line", "1235")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported 266 of 266 records (0 already as new or newer)\n"
    stored = scan_all(url, "episodic", "shared")
    assert len(stored) == 1500 and {r.version for r in stored} == {3}


def test_fifty_thousand_lines_then_a_bad_one(tmp_path: Path) -> None:
    """The issue's case, at its size: line 50,001 is bad, 50,000 records are written."""
    line = dumps_record(_records(1)[0].stored(version=1, created_at=T, updated_at=T))
    head, _, tail = line.partition('"id": "r00000"')
    with open(tmp_path / "big.jsonl", "w", encoding="utf-8") as out:
        for i in range(50_000):
            out.write(f'{head}"id": "n{i:06d}"{tail}\n')
        out.write('{"ref": {"kind": "episodic"}}\n')
    url = sqlite_url(tmp_path / "m.db")
    started = time.perf_counter()
    result = run_cli(tmp_path, "import", "big.jsonl", "--url", url, timeout=300)
    elapsed = time.perf_counter() - started
    print(f"import of 50,000 records into SQLite: {elapsed:.1f}s")
    assert result.returncode == 2
    assert result.stderr.splitlines()[1] == (
        "agentmem: lines 1-50000 of big.jsonl are in the store (50000 written, 0 already as "
        "new or newer); resume with --start-line 50001"
    )
    assert "big.jsonl:50001:" in result.stderr.splitlines()[0]


def test_bytes_that_are_not_utf8_name_their_line_even_on_stdin(tmp_path: Path) -> None:
    good = [dumps_record(r.stored(version=1, created_at=T, updated_at=T)) for r in _records(3)]
    data = (good[0] + "\n" + good[1] + "\n").encode() + b'{"x": "\xff"}\n' + good[2].encode()
    url = sqlite_url(tmp_path / "m.db")
    result = subprocess.run(
        [AGENTMEM, "import", "-", "--url", url],
        input=data,
        capture_output=True,
        env=cli_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "agentmem: <stdin>:3: not UTF-8 text",
        "agentmem: lines 1-2 of <stdin> are in the store (2 written, 0 already as new or "
        "newer); resume with --start-line 3",
    ]
