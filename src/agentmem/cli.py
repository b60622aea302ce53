"""The ``agentmem`` command.

- ``agentmem demo``: run the README scenario and print what happened. It uses the
  embedded SQLite default (no server needed); ``MEMORY_BACKEND=redis`` (with
  ``REDIS_HOST``/``REDIS_PORT``/...) runs it on Redis with the SQLite fallback, and
  ``AGENTMEM_URL`` on any store. The demo writes into a fresh namespace and removes what
  it wrote when it ends (``--keep`` leaves it).
- ``agentmem backends``: the URL schemes that can be opened, with the distribution and
  version that provides each, and plugins that failed to load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys

from agentmem.errors import AgentMemError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentmem", description="Durable, shared memory for AI agents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the README scenario and print what happened")
    demo.add_argument(
        "--backend",
        help="sqlite (default), redis, memory or a plugin scheme (default: $MEMORY_BACKEND)",
    )
    demo.add_argument("--url", help="a full store URL (default: $AGENTMEM_URL)")
    demo.add_argument("--sqlite-path", help="the SQLite file (default: $AGENTMEM_SQLITE_PATH)")
    demo.add_argument("--agent-id", default="demo-agent", help="the agent's id")
    demo.add_argument("--keep", action="store_true", help="keep the demo's records")
    commands.add_parser("backends", help="list the installed backends")
    return parser


async def _demo(args: argparse.Namespace) -> None:
    from agentmem.memory import create_memory_adapter
    from agentmem.memory.config import SHARED_KINDS, WORKING, working_namespace
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
        print(f"agentmem demo on {memory.redis_manager.description} (namespace {namespace})")
        print(f"redis in use: {memory.redis_manager.available}")
        await run_scenario(memory)
        if not args.keep:
            store = memory.store
            for kind in (*sorted(SHARED_KINDS), WORKING):
                ns = working_namespace(namespace, args.agent_id) if kind == WORKING else namespace
                while True:
                    page = await store.scan(kind, ns, limit=500)
                    if not page.records:
                        break
                    await store.delete_many([r.ref for r in page.records])
            print("demo records removed (use --keep to keep them)")


def _backends() -> None:
    from agentmem.plugins import backends, plugin_failures

    found = backends()
    width = max((len(s) for s in found), default=6)
    for scheme, info in sorted(found.items()):
        print(f"{scheme:<{width}}  {info.distribution} {info.version}  {info.description}")
    for failure in plugin_failures():
        print(
            f"failed: {failure.entry_point} from {failure.distribution}: {failure.error!r}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentmem`` command; returns the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        if args.command == "demo":
            asyncio.run(_demo(args))
        elif args.command == "backends":
            _backends()
    except AgentMemError as exc:
        print(f"agentmem: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
