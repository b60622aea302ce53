"""``agentmem search QUERY --kind KIND``: ranked hits (score, id, first line of text)."""

from __future__ import annotations

import argparse
import sys

from agentmem.cli.common import (
    add_json_option,
    add_kind_option,
    add_namespace_option,
    check_kind,
    open_cli_store,
    store_options,
    store_url,
)
from agentmem.cli.health import degraded_notice
from agentmem.cli.output import print_json, record_summary, warn

NAME = "search"
HELP = "ranked keyword search"
PARENTS = (store_options,)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="plain words (there is no query syntax)")
    add_kind_option(parser, required=True)
    add_namespace_option(parser)
    parser.add_argument("--limit", type=int, default=10, help="how many hits (default: 10)")
    add_json_option(parser)


async def run(args: argparse.Namespace) -> int:
    check_kind(args.kind, any_kind=args.any_kind)
    async with open_cli_store(store_url(args)) as store:
        hits = await store.search(args.kind, args.namespace, args.query, limit=args.limit)
        notice = degraded_notice(store)
    if args.json:
        print_json(
            {
                "kind": args.kind,
                "namespace": args.namespace,
                "query": args.query,
                "degraded": notice is not None,
                "hits": [{"score": h.score, **record_summary(h.record)} for h in hits],
            }
        )
    else:
        for hit in hits:
            first_line = hit.record.text.strip().partition("\n")[0]
            print(f"{hit.score:8.4f}  {hit.ref.id}  {first_line}")
        if not hits:
            print("no hits", file=sys.stderr)
    if notice:
        warn(notice)
    return 0
