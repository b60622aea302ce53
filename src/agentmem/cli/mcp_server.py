"""``agentmem mcp``: hand every flag to agentmem-mcp, imported only when asked for."""

from __future__ import annotations

import importlib
import sys

from agentmem.cli.common import EXIT_ERROR

__all__ = ["HELP", "run_mcp"]

HELP = "serve the memory over MCP (pip install agentmem-mcp)"


def run_mcp(argv: list[str]) -> int:
    """Run the MCP server's own command line with ``argv``; exit 2 naming the package
    when it is not installed."""
    try:
        server = importlib.import_module("agentmem_mcp")
    except ImportError as exc:
        missing = exc.name == "agentmem_mcp"
        reason = "is not installed" if missing else f"cannot be imported ({exc})"
        print(f"agentmem: the MCP server {reason}: pip install agentmem-mcp", file=sys.stderr)
        return EXIT_ERROR
    return int(server.main(argv, prog="agentmem mcp"))
