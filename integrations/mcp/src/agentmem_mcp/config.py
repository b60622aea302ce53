"""Server configuration: the library's environment variables, plus a flag for each.

Resolution follows :func:`agentmem.create_memory_adapter` (``--url``/``AGENTMEM_URL``,
then ``--backend``/``MEMORY_BACKEND``, ``--sqlite-path``/``AGENTMEM_SQLITE_PATH``,
``--redis-*``/``REDIS_*``); a flag wins over its variable. Two additions are the
server's own:

- ``--agent-id``/``AGENTMEM_AGENT_ID`` (default ``mcp``) and
  ``--namespace``/``AGENTMEM_NAMESPACE`` (default ``shared``).
- With ``backend=redis`` and no SQLite path configured, every server process takes its
  own fallback file, ``$XDG_DATA_HOME/agentmem/mcp/fallback-<n>.db``: the lowest slot
  ``n`` whose lock no live process holds. The library's default would put every process
  on one fallback file and one outbox journal, which the failover store does not support
  (docs/failover.md, "One failover store per journal"); a restarted server takes the
  lowest free slot again, so it usually finds (and replays) what its predecessor
  journalled.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_MAX_CONTENT_CHARS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_RESOURCE_KINDS",
    "FallbackSlot",
    "ServerConfig",
    "build_parser",
    "claim_fallback_slot",
    "config_from_args",
]

log = logging.getLogger("agentmem.mcp")

Transport = Literal["stdio", "streamable-http"]

DEFAULT_AGENT_ID = "mcp"
DEFAULT_NAMESPACE = "shared"
DEFAULT_MAX_CONTENT_CHARS = 100_000
"""Largest ``content`` (characters) a tool accepts: big enough for a long note, small
enough that one call cannot fill a model's context when it is read back."""
DEFAULT_TOOL_TIMEOUT = 30.0
DEFAULT_RESOURCE_KINDS = ("memory", "episodic", "semantic", "skill")
"""Kinds that ``resources/list`` enumerates (in the server's namespace)."""
MAX_FALLBACK_SLOTS = 64


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server needs to open its memory and serve it.

    ``backend``, ``url``, ``sqlite_path`` and ``redis_*`` are passed to
    :func:`agentmem.create_memory_adapter` as they are (None means "the environment
    decides"); use :func:`config_from_args` to build one from flags and variables.
    """

    backend: str | None = None
    url: str | None = None
    sqlite_path: str | None = None
    redis_host: str | None = None
    redis_port: int | None = None
    redis_db: int | None = None
    redis_password: str | None = None
    agent_id: str = DEFAULT_AGENT_ID
    namespace: str = DEFAULT_NAMESPACE
    session_id: str | None = None
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    http_path: str = "/mcp"
    max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS
    tool_timeout: float = DEFAULT_TOOL_TIMEOUT
    resource_kinds: tuple[str, ...] = DEFAULT_RESOURCE_KINDS
    per_process_fallback: bool = True
    """Give each process its own fallback file when ``backend=redis`` has no SQLite path."""
    log_level: str = "WARNING"

    def uses_redis_with_fallback(self, environ: Mapping[str, str] | None = None) -> bool:
        """True when the store will be Redis with a SQLite fallback and no file was named."""
        env = os.environ if environ is None else environ
        if self.url or (self.backend is None and env.get("AGENTMEM_URL")):
            return False
        name = (self.backend or env.get("MEMORY_BACKEND") or "sqlite").strip().lower()
        return name == "redis" and not self.sqlite_path and not env.get("AGENTMEM_SQLITE_PATH")


def _data_home(environ: Mapping[str, str]) -> Path:
    configured = environ.get("XDG_DATA_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "share"


@dataclass
class FallbackSlot:
    """A fallback file this process holds the lock of (released by :meth:`release`)."""

    path: Path
    index: int
    _lock: IO[bytes] | None

    def release(self) -> None:
        """Drop the lock; closing the file releases it (so does process exit)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def claim_fallback_slot(
    directory: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> FallbackSlot:
    """Lock the lowest free ``fallback-<n>.db`` in ``directory`` for this process.

    The lock is an exclusive ``flock`` on ``fallback-<n>.lock``, held until
    :meth:`FallbackSlot.release` or process exit (a killed process releases it too, so a
    crashed server's file is reused, outbox included, by the next server that starts).
    """
    env = os.environ if environ is None else environ
    folder = directory or _data_home(env) / "agentmem" / "mcp"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one shared slot, as the library does
        log.warning("no flock on this platform: MCP server processes share %s", folder)
        return FallbackSlot(folder / "fallback-0.db", 0, None)
    for index in range(MAX_FALLBACK_SLOTS):
        lock = open(folder / f"fallback-{index}.lock", "ab")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return FallbackSlot(folder / f"fallback-{index}.db", index, lock)
    raise RuntimeError(
        f"all {MAX_FALLBACK_SLOTS} fallback slots in {folder} are taken by running servers; "
        "give this one its own file with --sqlite-path"
    )


def build_parser(prog: str = "agentmem-mcp") -> argparse.ArgumentParser:
    """The command-line flags of ``agentmem-mcp`` (and ``agentmem mcp``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Serve agentmem over the Model Context Protocol (stdio or streamable HTTP). "
            "Every flag defaults to the environment variable named in its help."
        ),
    )
    store = parser.add_argument_group("memory store")
    store.add_argument(
        "--backend",
        help="sqlite, redis (Redis + SQLite fallback), memory, or a plugin scheme "
        "($MEMORY_BACKEND; default sqlite)",
    )
    store.add_argument("--url", help="a full store URL ($AGENTMEM_URL)")
    store.add_argument(
        "--sqlite-path",
        help="the SQLite file ($AGENTMEM_SQLITE_PATH); with --backend redis, the fallback file "
        "(default: one per server process under $XDG_DATA_HOME/agentmem/mcp/)",
    )
    store.add_argument("--redis-host", help="$REDIS_HOST (default localhost)")
    store.add_argument("--redis-port", type=int, help="$REDIS_PORT (default 6379)")
    store.add_argument("--redis-db", type=int, help="$REDIS_DB (default 0)")
    store.add_argument(
        "--redis-password",
        help="$REDIS_PASSWORD (prefer the variable: flags are visible in the process list)",
    )
    agent = parser.add_argument_group("agent")
    agent.add_argument(
        "--agent-id",
        help=f"who this server writes as ($AGENTMEM_AGENT_ID; default {DEFAULT_AGENT_ID})",
    )
    agent.add_argument(
        "--namespace",
        help=f"the shared namespace ($AGENTMEM_NAMESPACE; default {DEFAULT_NAMESPACE})",
    )
    agent.add_argument(
        "--session-id", help="continue this session (its working memory) instead of a new one"
    )
    serve = parser.add_argument_group("transport")
    serve.add_argument(
        "--transport",
        choices=["stdio", "streamable-http"],
        default=None,
        help="$AGENTMEM_MCP_TRANSPORT (default stdio)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--path", default="/mcp", help="HTTP endpoint path (default /mcp)")
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-content-chars",
        type=int,
        default=DEFAULT_MAX_CONTENT_CHARS,
        help=f"largest text a tool accepts (default {DEFAULT_MAX_CONTENT_CHARS})",
    )
    limits.add_argument(
        "--tool-timeout",
        type=float,
        default=DEFAULT_TOOL_TIMEOUT,
        help=f"seconds before a tool call fails as timed out (default {DEFAULT_TOOL_TIMEOUT:g})",
    )
    limits.add_argument(
        "--resource-kinds",
        default=",".join(DEFAULT_RESOURCE_KINDS),
        help="comma-separated kinds that resources/list enumerates "
        f"(default {','.join(DEFAULT_RESOURCE_KINDS)})",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level ($AGENTMEM_MCP_LOG_LEVEL; default WARNING)",
    )
    return parser


def config_from_args(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    prog: str = "agentmem-mcp",
) -> ServerConfig:
    """Parse flags (``argv``; ``sys.argv[1:]`` when None) over the environment."""
    env = os.environ if environ is None else environ
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.max_content_chars < 1:
        parser.error("--max-content-chars must be at least 1")
    if not args.tool_timeout > 0:
        parser.error("--tool-timeout must be positive")
    kinds = tuple(k.strip() for k in args.resource_kinds.split(",") if k.strip())
    transport = args.transport or env.get("AGENTMEM_MCP_TRANSPORT") or "stdio"
    if transport not in ("stdio", "streamable-http"):
        parser.error(f"AGENTMEM_MCP_TRANSPORT must be stdio or streamable-http, not {transport!r}")
    return ServerConfig(
        backend=args.backend,
        url=args.url,
        sqlite_path=args.sqlite_path,
        redis_host=args.redis_host,
        redis_port=args.redis_port,
        redis_db=args.redis_db,
        redis_password=args.redis_password,
        agent_id=args.agent_id or env.get("AGENTMEM_AGENT_ID") or DEFAULT_AGENT_ID,
        namespace=args.namespace or env.get("AGENTMEM_NAMESPACE") or DEFAULT_NAMESPACE,
        session_id=args.session_id,
        transport="streamable-http" if transport == "streamable-http" else "stdio",
        host=args.host,
        port=args.port,
        http_path=args.path,
        max_content_chars=args.max_content_chars,
        tool_timeout=args.tool_timeout,
        resource_kinds=kinds,
        log_level=args.log_level or env.get("AGENTMEM_MCP_LOG_LEVEL") or "WARNING",
    )
