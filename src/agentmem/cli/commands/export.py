"""``agentmem export --kind KIND``: one kind's live records as JSON Lines."""

from __future__ import annotations

import argparse
import sys

from agentmem.cli.common import (
    add_kind_option,
    add_namespace_option,
    check_kind,
    open_cli_store,
    report_partial,
    store_options,
    store_url,
    text_file,
)
from agentmem.cli.health import degraded_notice
from agentmem.cli.output import warn
from agentmem.cli.progress import progress, progress_shown

NAME = "export"
HELP = "write one kind's records as JSON Lines"
PARENTS = (store_options,)

PAGE = 500


def configure(parser: argparse.ArgumentParser) -> None:
    add_kind_option(parser, required=True)
    add_namespace_option(parser)
    parser.add_argument("-o", "--output", default="-", help="the file to write (default: stdout)")


async def run(args: argparse.Namespace) -> int:
    from agentmem.jsonl import write_records

    check_kind(args.kind, any_kind=args.any_kind)
    target = "stdout" if args.output == "-" else args.output
    written = 0
    async with open_cli_store(store_url(args)) as store:
        total = await store.count(args.kind, args.namespace) if progress_shown() else None
        with text_file(args.output, "w") as out, progress("export", total) as bar:
            cursor: str | None = None
            try:
                while True:
                    page = await store.scan(args.kind, args.namespace, limit=PAGE, cursor=cursor)
                    written += write_records(page.records, out)
                    bar.advance(len(page.records))
                    cursor = page.cursor
                    if cursor is None:
                        break
            except BaseException as exc:
                report_partial(exc, f"{written} records were written to {target} before this")
                raise
        notice = degraded_notice(store)
    print(f"exported {written} records to {target}", file=sys.stderr)
    if notice:
        warn(notice)
    return 0
