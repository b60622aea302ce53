"""``agentmem stats``: how many live records of each memory kind a namespace holds."""

from __future__ import annotations

import argparse
import asyncio

from agentmem.cli.common import (
    add_json_option,
    add_namespace_option,
    open_cli_store,
    store_options,
    store_url,
)
from agentmem.cli.health import degraded_notice, routing_state
from agentmem.cli.output import print_json, warn
from agentmem.cli.urls import display_url

NAME = "stats"
HELP = "count the records of each kind in a namespace"
PARENTS = (store_options,)


def configure(parser: argparse.ArgumentParser) -> None:
    add_namespace_option(parser)
    parser.add_argument(
        "--agent-id", help="count this agent's working memory (its own namespace) as 'working'"
    )
    add_json_option(parser)


async def run(args: argparse.Namespace) -> int:
    from agentmem.memory.config import (
        EPISODIC,
        SEMANTIC,
        SESSION,
        SHARED_KINDS,
        SKILL,
        WORKING,
        working_namespace,
    )

    working_ns = args.namespace
    if args.agent_id:
        working_ns = working_namespace(args.namespace, args.agent_id)
    where = {kind: args.namespace for kind in SHARED_KINDS} | {WORKING: working_ns}
    order = [WORKING, EPISODIC, SEMANTIC, SKILL, SESSION]
    async with open_cli_store(store_url(args)) as store:
        counts = await asyncio.gather(*(store.count(kind, where[kind]) for kind in order))
        url = display_url(store.url)
        notice = degraded_notice(store)
        routing = routing_state(store)
    if args.json:
        print_json(
            {
                "url": url,
                "namespace": args.namespace,
                "working_namespace": working_ns,
                "counts": dict(zip(order, counts, strict=True)),
                "degraded": notice is not None,
                "routing": routing,
            }
        )
    else:
        print(f"{url}  namespace {args.namespace}")
        for kind, count in zip(order, counts, strict=True):
            suffix = f"  (namespace {working_ns})" if kind == WORKING and args.agent_id else ""
            print(f"{kind:<9} {count:>8}{suffix}")
    if notice:
        warn(notice)
    return 0
