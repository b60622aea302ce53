"""agentmem-mcp: agentmem as a Model Context Protocol server.

Run ``agentmem-mcp`` (or ``agentmem mcp``, or ``python -m agentmem_mcp``) from an MCP
client's configuration; it serves agentmem's memory tools over stdio (default) or
streamable HTTP, configured like the library (``MEMORY_BACKEND``, ``AGENTMEM_URL``,
``REDIS_*``, ``AGENTMEM_SQLITE_PATH``) plus ``AGENTMEM_AGENT_ID`` and
``AGENTMEM_NAMESPACE``. In Python::

    from agentmem_mcp import MemoryServer, ServerConfig

    async with MemoryServer(ServerConfig(backend="sqlite")) as server:
        await server.run()
"""

from agentmem_mcp.config import ServerConfig, config_from_args
from agentmem_mcp.server import MemoryServer
from agentmem_mcp.uris import parse_record_uri, record_uri

__version__ = "0.1.0"

__all__ = [
    "MemoryServer",
    "ServerConfig",
    "__version__",
    "config_from_args",
    "main",
    "parse_record_uri",
    "record_uri",
]


def main(argv: list[str] | None = None, *, prog: str = "agentmem-mcp") -> int:
    """Run the server from command-line flags; returns the exit status."""
    from agentmem_mcp.cli import main as cli_main

    return cli_main(argv, prog=prog)
