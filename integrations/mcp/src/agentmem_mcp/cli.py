"""The ``agentmem-mcp`` command (also ``agentmem mcp`` and ``python -m agentmem_mcp``).

stdout is the protocol on stdio, so everything else (logs, errors) goes to stderr. The
server stops cleanly on stdin EOF (the client went away), SIGTERM and SIGINT: tools in
flight are cancelled, the change-feed follower stopped, the store closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from agentmem import AgentMemError
from agentmem_mcp.config import ServerConfig, config_from_args
from agentmem_mcp.server import MemoryServer

__all__ = ["EXIT_ERROR", "main"]

log = logging.getLogger("agentmem.mcp")

EXIT_ERROR = 2
"""Exit status for a configuration the server cannot start with (like argparse's)."""
CLOSE_TIMEOUT = 10.0
"""Seconds closing the store may take after SIGTERM/SIGINT before the process exits anyway."""


def _configure_logging(level: str) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    root = logging.getLogger()
    # stderr only: on stdio, stdout carries the protocol.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(numeric)


async def serve(config: ServerConfig) -> None:
    """Open the memory, serve until the transport ends or a signal arrives, clean up."""
    loop = asyncio.get_running_loop()
    async with MemoryServer(config) as server:
        stopping: list[asyncio.Task[None]] = []

        def on_signal(signum: int) -> None:
            if config.transport == "streamable-http":
                log.info("%s received: stopping", signal.Signals(signum).name)
                server.request_stop()  # run() returns, then the store is closed below
            elif not stopping:
                stopping.append(loop.create_task(_terminate(server, signum)))

        handled: list[signal.Signals] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
                handled.append(signum)
        log.info("agentmem MCP server ready on %s", config.transport)
        try:
            await server.run()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
    log.info("agentmem MCP server stopped")


async def _terminate(server: MemoryServer, signum: int) -> None:
    """Close the store, then leave at once.

    Cancelling the stdio transport is not enough: the SDK reads stdin in a worker thread
    that stays blocked in read() until the client closes the pipe, and neither the
    transport's task group nor interpreter shutdown would finish before that. So the
    store is closed here (bounded) and the process exits without waiting for the reader.
    """
    log.info("%s received: stopping", signal.Signals(signum).name)
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await server.close()
    except Exception:
        log.exception("closing the memory store failed")
    finally:
        log.info("agentmem MCP server stopped")
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)


def main(argv: Sequence[str] | None = None, *, prog: str = "agentmem-mcp") -> int:
    """Entry point of ``agentmem-mcp``; returns the exit status."""
    config = config_from_args(sys.argv[1:] if argv is None else argv, prog=prog)
    _configure_logging(config.log_level)
    try:
        asyncio.run(serve(config))
    except AgentMemError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        pass
    return 0
