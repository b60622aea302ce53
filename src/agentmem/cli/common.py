"""What the subcommands share: exit statuses, store options, kinds, files, partial reports."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import IO, Final

from agentmem.errors import AgentMemError, InvalidInput
from agentmem.store import MemoryStore

__all__ = [
    "CLI_ORIGIN",
    "EXIT_ERROR",
    "EXIT_PROBLEMS",
    "KNOWN_KINDS",
    "UsageError",
    "add_json_option",
    "add_kind_option",
    "add_namespace_option",
    "check_kind",
    "open_cli_store",
    "report_partial",
    "store_options",
    "store_url",
    "text_file",
]

EXIT_ERROR: Final = 2
"""Exit status for errors agentmem reports on purpose (argparse uses 2 for usage errors)."""

EXIT_PROBLEMS: Final = 1
"""Exit status of ``doctor`` when it found something wrong."""

CLI_ORIGIN: Final = "agentmem-cli"
"""The origin the command's writes carry (what watchers see as the writing agent)."""

KNOWN_KINDS: Final = ("episodic", "memory", "semantic", "session", "skill", "working")
"""The kinds agentmem itself writes: AgentMemory's five and agentmem-mcp's ``memory``."""


class UsageError(AgentMemError):
    """A command-line mistake found after parsing (reported like argparse's, exit 2)."""


def store_options() -> argparse.ArgumentParser:
    """Options every store-reading command shares (the demo's resolution rules)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--backend",
        help="sqlite (default), redis, memory or a plugin scheme (default: $MEMORY_BACKEND)",
    )
    options.add_argument("--url", help="a full store URL (default: $AGENTMEM_URL)")
    options.add_argument("--sqlite-path", help="the SQLite file (default: $AGENTMEM_SQLITE_PATH)")
    return options


def add_namespace_option(parser: argparse.ArgumentParser) -> None:
    from agentmem.memory.config import DEFAULT_NAMESPACE

    parser.add_argument(
        "--namespace", default=DEFAULT_NAMESPACE, help=f"default: {DEFAULT_NAMESPACE}"
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (for scripts)"
    )


def add_kind_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--kind", required=required, help=f"one of {', '.join(KNOWN_KINDS)}")
    parser.add_argument(
        "--any-kind",
        action="store_true",
        help="accept a --kind agentmem does not know (a kind your own code writes)",
    )


def check_kind(kind: str | None, *, any_kind: bool = False) -> None:
    """Refuse a kind agentmem does not write, naming the valid ones (a typo such as
    ``episodes`` would otherwise read as an empty store)."""
    if kind is None or kind in KNOWN_KINDS:
        return
    if any_kind:
        from agentmem.store import check_kind_namespace

        check_kind_namespace(kind, "_")
        return
    raise UsageError(
        f"unknown kind {kind!r}; valid kinds: {', '.join(KNOWN_KINDS)} "
        "(--any-kind accepts a kind of your own)"
    )


def store_url(args: argparse.Namespace) -> str:
    """The store URL the arguments (or the environment) name."""
    from agentmem.memory.factory import resolve_store_url

    return resolve_store_url(args.backend, url=args.url, sqlite_path=args.sqlite_path)


@asynccontextmanager
async def open_cli_store(url: str) -> AsyncIterator[MemoryStore]:
    """The store at ``url``, writing as :data:`CLI_ORIGIN`, closed on exit."""
    from agentmem.plugins import open_store

    async with await open_store(url, origin=CLI_ORIGIN) as store:
        yield store


@contextmanager
def text_file(path: str, mode: str) -> Iterator[IO[str]]:
    """``path`` opened as UTF-8 text, or stdin/stdout for ``-``; I/O errors are user errors."""
    # Reading: undecodable bytes become lone surrogates that the reader reports with
    # their line number (strict decoding fails a whole buffer, at no known line).
    errors = "surrogateescape" if mode == "r" else "strict"
    if path == "-":
        if mode == "r":
            if isinstance(sys.stdin, io.TextIOWrapper):
                sys.stdin.reconfigure(errors=errors)
            yield sys.stdin
        else:
            yield sys.stdout
        return
    try:
        file = open(path, mode, encoding="utf-8", errors=errors)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInput(f"cannot open {path}: {exc.strerror or exc}") from None
    with file:
        yield file


def report_partial(exc: BaseException, summary: str) -> None:
    """Say what a failed or interrupted command had already done.

    An error gets the summary as a note (printed after its one-line message); an
    interruption (Ctrl-C cancels the command's task) has no message, so it is printed now.
    """
    if isinstance(exc, Exception):
        exc.add_note(summary)
    else:
        print(f"agentmem: {summary}", file=sys.stderr)
