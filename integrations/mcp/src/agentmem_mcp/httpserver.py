"""The streamable-HTTP transport: uvicorn, without uvicorn's own signal handling.

uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would end the process
before the memory store is closed; the command handles the signals itself and asks the
server to stop (``should_exit``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from agentmem_mcp.config import ServerConfig

__all__ = ["HTTPServer", "http_server"]


class HTTPServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_server(app: Starlette, config: ServerConfig) -> HTTPServer:
    """Serve ``app`` on the configured host and port."""
    level = config.log_level.lower()
    return HTTPServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=level if level in ("debug", "info", "warning", "error") else "warning",
        )
    )
