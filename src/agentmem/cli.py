"""The ``agentmem`` command.

- ``agentmem demo``: run the README scenario and print what happened. It uses the
  embedded SQLite default (no server needed); ``MEMORY_BACKEND=redis`` (with
  ``REDIS_HOST``/``REDIS_PORT``/...) runs it on Redis with the SQLite fallback, and
  ``AGENTMEM_URL`` on any store. The demo writes into a fresh namespace and removes what
  it wrote when it ends (``--keep`` leaves it).
- ``agentmem backends``: the URL schemes that can be opened, with the distribution and
  version that provides each, and plugins that failed to load.
- ``agentmem stats``: how many live records of each memory kind a namespace holds.
- ``agentmem search QUERY --kind KIND``: ranked hits (score, id, first line of text).
- ``agentmem export --kind KIND`` / ``agentmem import FILE``: records as JSON Lines
  (:mod:`agentmem.jsonl`); import keeps versions and skips records already as new.
- ``agentmem mcp [FLAGS]``: the MCP server of the separate ``agentmem-mcp`` distribution
  (``agentmem mcp --help`` lists its flags).

Every command but ``backends`` finds its store the way :func:`create_memory_adapter` does
(``--url``, ``AGENTMEM_URL``, ``--backend``/``MEMORY_BACKEND``, ``--sqlite-path``...; see
:func:`agentmem.memory.factory.resolve_store_url`). Errors agentmem raises on purpose are
printed as one line on stderr with exit status 2, like argparse's usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import IO

from agentmem.errors import AgentMemError, InvalidInput
from agentmem.store import MemoryStore

__all__ = ["main"]

EXIT_ERROR = 2
"""Exit status for errors agentmem reports on purpose (argparse uses 2 for usage errors)."""

CLI_ORIGIN = "agentmem-cli"
"""The origin the command's writes carry (what watchers see as the writing agent)."""

IMPORT_BATCH = 500
EXPORT_PAGE = 500


def _store_options() -> argparse.ArgumentParser:
    """Options every store-reading command shares (the demo's resolution rules)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--backend",
        help="sqlite (default), redis, memory or a plugin scheme (default: $MEMORY_BACKEND)",
    )
    options.add_argument("--url", help="a full store URL (default: $AGENTMEM_URL)")
    options.add_argument("--sqlite-path", help="the SQLite file (default: $AGENTMEM_SQLITE_PATH)")
    return options


def _namespace_option(parser: argparse.ArgumentParser) -> None:
    from agentmem.memory.config import DEFAULT_NAMESPACE

    parser.add_argument(
        "--namespace", default=DEFAULT_NAMESPACE, help=f"default: {DEFAULT_NAMESPACE}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentmem", description="Durable, shared memory for AI agents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_options = _store_options()
    demo = commands.add_parser(
        "demo", parents=[store_options], help="run the README scenario and print what happened"
    )
    demo.add_argument("--agent-id", default="demo-agent", help="the agent's id")
    demo.add_argument("--keep", action="store_true", help="keep the demo's records")
    commands.add_parser("backends", help="list the installed backends")

    stats = commands.add_parser(
        "stats", parents=[store_options], help="count the records of each kind in a namespace"
    )
    _namespace_option(stats)
    stats.add_argument(
        "--agent-id", help="count this agent's working memory (its own namespace) as 'working'"
    )

    search = commands.add_parser("search", parents=[store_options], help="ranked keyword search")
    search.add_argument("query", help="plain words (there is no query syntax)")
    search.add_argument("--kind", required=True, help="episodic, semantic, skill, ...")
    _namespace_option(search)
    search.add_argument("--limit", type=int, default=10, help="how many hits (default: 10)")

    export = commands.add_parser(
        "export", parents=[store_options], help="write one kind's records as JSON Lines"
    )
    export.add_argument("--kind", required=True, help="episodic, semantic, skill, ...")
    _namespace_option(export)
    export.add_argument("-o", "--output", default="-", help="the file to write (default: stdout)")

    import_ = commands.add_parser(
        "import", parents=[store_options], help="write records from a JSON Lines export"
    )
    import_.add_argument("file", help="the JSON Lines file ('-' for stdin)")
    commands.add_parser("mcp", help="serve the memory over MCP (pip install agentmem-mcp)")
    return parser


@asynccontextmanager
async def _open(args: argparse.Namespace) -> AsyncIterator[MemoryStore]:
    """The store the arguments (or the environment) name, closed on exit."""
    from agentmem.memory.factory import resolve_store_url
    from agentmem.plugins import open_store

    url = resolve_store_url(args.backend, url=args.url, sqlite_path=args.sqlite_path)
    async with await open_store(url, origin=CLI_ORIGIN) as store:
        yield store


@contextmanager
def _text_file(path: str, mode: str) -> Iterator[IO[str]]:
    """``path`` opened as UTF-8 text, or stdin/stdout for ``-``; I/O errors are user errors."""
    if path == "-":
        yield sys.stdin if mode == "r" else sys.stdout
        return
    try:
        file = open(path, mode, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInput(f"cannot open {path}: {exc.strerror or exc}") from None
    with file:
        yield file


async def _stats(args: argparse.Namespace) -> None:
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
    async with _open(args) as store:
        counts = await asyncio.gather(*(store.count(kind, where[kind]) for kind in order))
        print(f"{store.url}  namespace {args.namespace}")
    for kind, count in zip(order, counts, strict=True):
        suffix = f"  (namespace {working_ns})" if kind == WORKING and args.agent_id else ""
        print(f"{kind:<9} {count:>8}{suffix}")


async def _search(args: argparse.Namespace) -> None:
    async with _open(args) as store:
        hits = await store.search(args.kind, args.namespace, args.query, limit=args.limit)
    for hit in hits:
        first_line = hit.record.text.strip().partition("\n")[0]
        print(f"{hit.score:8.4f}  {hit.ref.id}  {first_line}")
    if not hits:
        print("no hits", file=sys.stderr)


async def _export(args: argparse.Namespace) -> None:
    from agentmem.jsonl import write_records

    written = 0
    async with _open(args) as store:
        with _text_file(args.output, "w") as out:
            cursor: str | None = None
            while True:
                page = await store.scan(args.kind, args.namespace, limit=EXPORT_PAGE, cursor=cursor)
                written += write_records(page.records, out)
                cursor = page.cursor
                if cursor is None:
                    break
    target = "stdout" if args.output == "-" else args.output
    print(f"exported {written} records to {target}", file=sys.stderr)


async def _import(args: argparse.Namespace) -> None:
    from agentmem.jsonl import read_records

    written = read = 0
    source = "<stdin>" if args.file == "-" else args.file
    async with _open(args) as store:
        with _text_file(args.file, "r") as lines:
            batch = []
            for record in read_records(lines, source=source):
                batch.append(record)
                if len(batch) == IMPORT_BATCH:
                    written += await store.import_many(batch)
                    read += len(batch)
                    batch = []
            if batch:
                written += await store.import_many(batch)
                read += len(batch)
    print(f"imported {written} of {read} records ({read - written} already as new or newer)")


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


_COMMANDS = {"stats": _stats, "search": _search, "export": _export, "import": _import}


def _mcp(argv: list[str]) -> int:
    """``agentmem mcp``: hand every flag to agentmem-mcp, imported only when asked for."""
    import importlib

    try:
        server = importlib.import_module("agentmem_mcp")
    except ImportError as exc:
        missing = exc.name == "agentmem_mcp"
        reason = "is not installed" if missing else f"cannot be imported ({exc})"
        print(f"agentmem: the MCP server {reason}: pip install agentmem-mcp", file=sys.stderr)
        return EXIT_ERROR
    return int(server.main(argv, prog="agentmem mcp"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentmem`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mcp"]:
        return _mcp(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        if args.command == "demo":
            asyncio.run(_demo(args))
        elif args.command == "backends":
            _backends()
        else:
            asyncio.run(_COMMANDS[args.command](args))
    except AgentMemError as exc:
        # One line: a multi-line message would read like a traceback.
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"agentmem: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
