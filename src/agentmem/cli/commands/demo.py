"""``agentmem demo``: run the README scenario in a fresh namespace and print what happened."""

from __future__ import annotations

import argparse
import secrets

from agentmem.cli.common import store_options
from agentmem.store import MemoryStore

NAME = "demo"
HELP = "run the README scenario and print what happened"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent-id", default="demo-agent", help="the agent's id")
    parser.add_argument("--keep", action="store_true", help="keep the demo's records")


PARENTS = (store_options,)


async def run(args: argparse.Namespace) -> int:
    from agentmem.memory import create_memory_adapter
    from agentmem.memory.demo import run_scenario

    namespace = f"demo-{secrets.token_hex(4)}"
    memory = await create_memory_adapter(
        args.backend,
        agent_id=args.agent_id,
        url=args.url,
        sqlite_path=args.sqlite_path,
        namespace=namespace,
        enable_pubsub=False,
    )
    async with memory:
        try:
            print(f"agentmem demo on {memory.redis_manager.description} (namespace {namespace})")
            print(f"redis in use: {memory.redis_manager.available}")
            await run_scenario(memory)
        finally:
            # Also when the output pipe closed early (agentmem demo | head -1): the demo
            # leaves nothing behind unless asked to.
            if not args.keep:
                await _remove(memory.store, namespace, args.agent_id)
        if not args.keep:
            print("demo records removed (use --keep to keep them)")
    return 0


async def _remove(store: MemoryStore, namespace: str, agent_id: str) -> None:
    from agentmem.memory.config import SHARED_KINDS, WORKING, working_namespace

    for kind in (*sorted(SHARED_KINDS), WORKING):
        ns = working_namespace(namespace, agent_id) if kind == WORKING else namespace
        while True:
            page = await store.scan(kind, ns, limit=500)
            if not page.records:
                break
            await store.delete_many([r.ref for r in page.records])
