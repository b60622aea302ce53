"""``agentmem import FILE``: write records from a JSON Lines export, versions kept.

Records go to the store in batches with ``import_many``, which skips every record the
store already holds at an equal or newer version, so importing twice is harmless. When a
line is malformed or the store fails, every record before that point is in the store and
the message says which line to resume from (``--start-line``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass

from agentmem.cli.common import (
    add_json_option,
    open_cli_store,
    report_partial,
    store_options,
    store_url,
    text_file,
)
from agentmem.cli.health import degraded_notice
from agentmem.cli.output import print_json, warn
from agentmem.cli.progress import progress, progress_shown
from agentmem.errors import InvalidInput
from agentmem.store import MemoryStore, Record

NAME = "import"
HELP = "write records from a JSON Lines export"
PARENTS = (store_options,)

BATCH = 500


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the JSON Lines file ('-' for stdin)")
    parser.add_argument(
        "--start-line",
        type=int,
        default=1,
        metavar="N",
        help="skip the lines before line N (to resume an import that stopped)",
    )
    add_json_option(parser)


@dataclass
class _Tally:
    start: int
    read: int = 0
    written: int = 0
    done_through: int = 0
    """The last line whose record is in the store (everything from ``start`` up to it is)."""

    def summary(self, source: str) -> str | None:
        if self.done_through < self.start:
            return None  # nothing done: the error alone says it all
        return (
            f"lines {self.start}-{self.done_through} of {source} are in the store "
            f"({self.written} written, {self.read - self.written} already as new or newer); "
            f"resume with --start-line {self.done_through + 1}"
        )


def _count_lines(path: str) -> int | None:
    """Lines in a regular file (a fast binary pass), for the progress bar's total."""
    if path == "-" or not os.path.isfile(path):
        return None
    count = 0
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            count += chunk.count(b"\n")
    return count


async def _flush(store: MemoryStore, batch: list[Record], last_line: int, tally: _Tally) -> None:
    if batch:
        tally.written += await store.import_many(batch)
        tally.read += len(batch)
        batch.clear()
    tally.done_through = last_line


def _parse(line: str) -> Record:
    from agentmem.jsonl import loads_record

    try:
        # The file is read with surrogateescape, so bytes that are not UTF-8 arrive here,
        # on their own line, instead of failing a whole read buffer at an unknown line.
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("not UTF-8 text") from None
    return loads_record(line)


async def _import(
    store: MemoryStore, lines: Iterable[str], path: str, source: str, tally: _Tally
) -> None:
    total = _count_lines(path) if progress_shown() else None
    with progress("import", None if total is None else max(0, total - tally.start + 1)) as bar:
        batch: list[Record] = []
        number = tally.start - 1
        for number, line in enumerate(lines, start=1):
            if number < tally.start:
                continue
            bar.advance(1)
            if not line.strip():
                continue
            try:
                record = _parse(line)
            except InvalidInput as exc:
                # Write what came before the bad line, so the report is exact.
                await _flush(store, batch, number - 1, tally)
                raise InvalidInput(f"{source}:{number}: {exc}") from None
            batch.append(record)
            if len(batch) == BATCH:
                await _flush(store, batch, number, tally)
        await _flush(store, batch, number, tally)


async def run(args: argparse.Namespace) -> int:
    if args.start_line < 1:
        raise InvalidInput(f"--start-line must be 1 or more, got {args.start_line}")
    source = "<stdin>" if args.file == "-" else args.file
    tally = _Tally(start=args.start_line, done_through=args.start_line - 1)
    async with open_cli_store(store_url(args)) as store:
        with text_file(args.file, "r") as lines:
            try:
                await _import(store, lines, args.file, source, tally)
            except BaseException as exc:
                summary = tally.summary(source)
                if summary:
                    report_partial(exc, summary)
                raise
        notice = degraded_notice(store)
    skipped = tally.read - tally.written
    if args.json:
        print_json(
            {
                "file": source,
                "read": tally.read,
                "written": tally.written,
                "skipped": skipped,
                "last_line": tally.done_through,
            }
        )
    else:
        print(
            f"imported {tally.written} of {tally.read} records ({skipped} already as new or newer)"
        )
    if notice:
        warn(notice)
    return 0
