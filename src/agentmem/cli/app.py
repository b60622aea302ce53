"""Parsing, dispatch and the exits every subcommand shares.

Exit statuses: 0 done; 1 ``doctor`` found a problem; 2 an error agentmem reports on purpose
(one line on stderr, then notes saying what was already done) or a usage error; 130
interrupted; 141 stdout closed early (``agentmem export | head``), quietly, like a tool
killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from agentmem.cli.commands import COMMANDS
from agentmem.cli.common import EXIT_ERROR, UsageError
from agentmem.cli.mcp_server import HELP as MCP_HELP
from agentmem.cli.mcp_server import run_mcp
from agentmem.errors import AgentMemError

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The ``agentmem`` parser: one subparser per module of :mod:`agentmem.cli.commands`."""
    parser = argparse.ArgumentParser(
        prog="agentmem", description="Durable, shared memory for AI agents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        sub = commands.add_parser(
            module.NAME, help=module.HELP, parents=[make() for make in module.PARENTS]
        )
        module.configure(sub)
        sub.set_defaults(run=module.run)
    commands.add_parser("mcp", help=MCP_HELP)
    return parser


def _one_line(exc: BaseException) -> str:
    # One line: a multi-line message would read like a traceback.
    return " ".join(str(exc).split()) or type(exc).__name__


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentmem`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mcp"]:
        return run_mcp(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="agentmem: %(levelname)s: %(message)s [%(name)s]",
    )
    try:
        status: int = asyncio.run(args.run(args))
    except UsageError as exc:
        print(f"agentmem {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except AgentMemError as exc:
        print(f"agentmem: {_one_line(exc)}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(f"agentmem: {note}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        # The machine's word, not a bug of ours: a full disk, a vanished output directory.
        print(f"agentmem: {_one_line(exc)}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(f"agentmem: {note}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("agentmem: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return status
