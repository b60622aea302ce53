"""``agentmem migrate SRC DST``: copy every kind from one store to another.

Records are read page by page with ``scan`` and written with ``import_many``, so versions
and timestamps are kept and a record the target already holds at an equal or newer version
is left alone. After each page a checkpoint file records where to continue, so the same
command run again after an interruption resumes there (``--restart`` starts over).

The store API has no listing of namespaces, so the namespaces are named: the shared kinds
(and agentmem-mcp's ``memory``) in each ``--namespace``, and ``working`` for each
``--agent-id`` in each namespace.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agentmem.cli.checkpoint import Checkpoint, default_checkpoint_path, pair_id
from agentmem.cli.common import (
    KNOWN_KINDS,
    add_json_option,
    check_kind,
    open_cli_store,
    report_partial,
)
from agentmem.cli.health import degraded_notice
from agentmem.cli.output import print_json, warn
from agentmem.cli.progress import progress, progress_shown
from agentmem.cli.urls import display_url
from agentmem.errors import InvalidInput
from agentmem.store import MemoryStore

NAME = "migrate"
HELP = "copy every kind from one store to another (versions kept, resumable)"
PARENTS = ()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="the store URL to copy from")
    parser.add_argument("target", metavar="DST", help="the store URL to copy into")
    parser.add_argument(
        "--namespace",
        action="append",
        help="a namespace to copy (repeatable; default: shared)",
    )
    parser.add_argument(
        "--agent-id",
        action="append",
        default=[],
        help="copy this agent's working memory too (repeatable)",
    )
    parser.add_argument(
        "--kind",
        action="append",
        help=f"a kind to copy (repeatable; default: {', '.join(KNOWN_KINDS)})",
    )
    parser.add_argument("--any-kind", action="store_true", help="accept kinds of your own")
    parser.add_argument("--batch", type=int, default=500, help="records per page (default: 500)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="where progress is kept (default: ./agentmem-migrate-<id>.json; removed at the end)",
    )
    parser.add_argument(
        "--restart", action="store_true", help="ignore an existing checkpoint and start over"
    )
    add_json_option(parser)


def collections(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (kind, namespace) pairs to copy, in a fixed order (the checkpoint relies on it)."""
    from agentmem.memory.config import DEFAULT_NAMESPACE, WORKING, working_namespace

    kinds = args.kind or list(KNOWN_KINDS)
    for kind in kinds:
        check_kind(kind, any_kind=args.any_kind)
    pairs: list[tuple[str, str]] = []
    for namespace in args.namespace or [DEFAULT_NAMESPACE]:
        for kind in kinds:
            if kind == WORKING:
                pairs += [(kind, working_namespace(namespace, a)) for a in args.agent_id]
            else:
                pairs.append((kind, namespace))
    return pairs


async def _copy(
    source: MemoryStore,
    target: MemoryStore,
    todo: list[tuple[str, str]],
    state: Checkpoint,
    path: Path,
    batch: int,
) -> None:
    total = None
    if progress_shown():
        total = sum([await source.count(kind, ns) for kind, ns in todo])
    with progress("migrate", total) as bar:
        for kind, namespace in todo:
            cursor = state.resume_cursor(kind, namespace)
            while True:
                page = await source.scan(kind, namespace, limit=batch, cursor=cursor)
                if page.records:
                    state.written += await target.import_many(page.records)
                    state.copied += len(page.records)
                    bar.advance(len(page.records))
                cursor = page.cursor
                if cursor is None:
                    break
                state.current, state.cursor = [kind, namespace], cursor
                state.save(path)
            state.done.append([kind, namespace])
            state.current, state.cursor = None, None
            state.save(path)


async def run(args: argparse.Namespace) -> int:
    if not 1 <= args.batch <= 10_000:
        raise InvalidInput(f"--batch must be between 1 and 10000, got {args.batch}")
    if args.source == args.target:
        raise InvalidInput("SRC and DST are the same URL: nothing to copy")
    pairs = collections(args)
    pair = pair_id(args.source, args.target)
    path = args.checkpoint or default_checkpoint_path(args.source, args.target)
    state = None if args.restart else Checkpoint.load(path, pair)
    if state is not None:
        print(
            f"agentmem: resuming from {path}: {state.copied} records already copied",
            file=sys.stderr,
        )
    state = state or Checkpoint(pair=pair)
    todo = [(kind, ns) for kind, ns in pairs if not state.is_done(kind, ns)]
    async with open_cli_store(args.source) as source, open_cli_store(args.target) as target:
        try:
            await _copy(source, target, todo, state, path, args.batch)
        except BaseException as exc:
            report_partial(
                exc,
                f"{state.copied} records were copied ({state.written} written) and "
                f"{len(state.done)} of {len(pairs)} collections are complete; run the same "
                f"command again to resume from {path}",
            )
            raise
        notices = [n for n in (degraded_notice(source), degraded_notice(target)) if n]
        urls = display_url(source.url), display_url(target.url)
    path.unlink(missing_ok=True)
    summary: dict[str, Any] = {
        "source": urls[0],
        "target": urls[1],
        "collections": len(pairs),
        "copied": state.copied,
        "written": state.written,
        "skipped": state.copied - state.written,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"copied {state.copied} records from {urls[0]} to {urls[1]} "
            f"({state.written} written, {state.copied - state.written} already as new or "
            f"newer) in {len(pairs)} collections"
        )
    for notice in notices:
        warn(notice)
    return 0
