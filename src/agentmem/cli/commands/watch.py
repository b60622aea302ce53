"""``agentmem watch``: tail the change feed, one line per change, each with its cursor.

``--since CURSOR`` resumes right after a change printed earlier (``--since start`` replays
everything the store still retains). On exit the cursor to resume from is printed on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from agentmem.cli.common import (
    add_json_option,
    add_kind_option,
    check_kind,
    open_cli_store,
    store_options,
    store_url,
)
from agentmem.cli.output import print_json
from agentmem.cli.urls import display_url
from agentmem.errors import InvalidInput
from agentmem.store import WATCH_FROM_START, Change

NAME = "watch"
HELP = "print changes as they happen (resumable from a printed cursor)"
PARENTS = (store_options,)


def configure(parser: argparse.ArgumentParser) -> None:
    add_kind_option(parser, required=False)
    parser.add_argument("--namespace", help="only changes in this namespace (default: all)")
    parser.add_argument(
        "--since",
        metavar="CURSOR",
        help="resume after this cursor ('start': everything retained; default: from now)",
    )
    parser.add_argument("--count", type=int, help="stop after this many changes")
    parser.add_argument(
        "--timeout", type=float, help="stop after this many seconds (default: run until Ctrl-C)"
    )
    add_json_option(parser)


def _show(change: Change, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "cursor": change.cursor,
                "op": change.op,
                "kind": change.ref.kind,
                "namespace": change.ref.namespace,
                "id": change.ref.id,
                "version": change.version,
                "origin": change.origin,
                "at": change.at,
            },
            flush=True,
        )
        return
    ref = change.ref
    print(
        f"{change.cursor}  {change.op:<6}  {ref.kind}  {ref.namespace}  {ref.id}  "
        f"v{change.version}  by {change.origin}  at {change.at.isoformat()}",
        flush=True,
    )


async def run(args: argparse.Namespace) -> int:
    check_kind(args.kind, any_kind=args.any_kind)
    if args.count is not None and args.count < 1:
        raise InvalidInput(f"--count must be 1 or more, got {args.count}")
    since = WATCH_FROM_START if args.since == "start" else args.since
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    seen = 0
    async with open_cli_store(store_url(args)) as store:
        stream = store.watch(args.kind, args.namespace, since=since)
        async with stream:
            # Resuming from the last change *printed*: the stream may have read further
            # (buffered or filtered out), and a filtered-out change needs no replay.
            resume = stream.cursor
            print(f"agentmem: watching {display_url(store.url)} after {resume}", file=sys.stderr)
            try:
                while args.count is None or seen < args.count:
                    wait = 1.0 if deadline is None else deadline - time.monotonic()
                    if wait <= 0:
                        break
                    change = await stream.next(timeout=min(wait, 1.0))
                    if change is None:
                        continue
                    _show(change, args.json)
                    resume = change.cursor
                    seen += 1
            except asyncio.CancelledError:
                # Ctrl-C is how a watch normally ends: this is the top-level task, so
                # ending it normally (status 0) instead of re-raising is safe here.
                print(f"agentmem: stopped; resume with --since {resume}", file=sys.stderr)
                return 0
    print(f"agentmem: {seen} changes; resume with --since {resume}", file=sys.stderr)
    return 0
