"""create_memory_adapter(): pick the store from arguments or the environment and open it.

Resolution, first match wins:

1. ``url=`` (any store URL, e.g. ``"redis://cache:6379/0"`` or ``"memory://team"``).
2. ``backend=None`` and ``AGENTMEM_URL`` set: that URL.
3. ``backend`` (or ``MEMORY_BACKEND`` when None; default ``"sqlite"``):

   - ``"sqlite"``: ``sqlite_path`` / ``AGENTMEM_SQLITE_PATH`` / the default file
     ``$XDG_DATA_HOME/agentmem/memory.db`` (``~/.local/share/agentmem/memory.db``).
   - ``"memory"``: a private in-process store (nothing survives the process).
   - ``"redis"``: Redis from ``redis_host``/``redis_port``/``redis_db``/``redis_password``
     (or ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``, ``REDIS_PASSWORD``; default
     localhost:6379/0) with a SQLite file as fallback and second copy (``sqlite_path`` /
     ``AGENTMEM_SQLITE_PATH``, else one file *per agent*,
     ``$XDG_DATA_HOME/agentmem/fallback/<agent_id>.db``, claimed by this process: a
     second process of the same agent gets ``<agent_id>-1.db``; so two agents on one host
     never share an outbox): a
     :class:`~agentmem.routing.FailoverStore` that mirrors every write Redis acknowledged
     into SQLite, answers from SQLite while Redis is down, journals writes and replays
     them when Redis is back (see :func:`redis_with_fallback_url`).
   - any other scheme a plugin registered: ``"<scheme>://"``.

Store options (``**store_options`` and their environment variables) are routed to the
store each belongs to by :mod:`agentmem.memory.settings`; the adapter's own arguments are
checked before any store is opened, so a refused argument leaves nothing open.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from agentmem.codec import Codec
from agentmem.errors import ConfigurationError
from agentmem.hookspecs import Embedder
from agentmem.memory.adapter import AgentMemory, check_adapter_arguments
from agentmem.memory.config import DEFAULT_NAMESPACE, TTLSpec
from agentmem.memory.fallback_slot import claim_fallback_file
from agentmem.memory.ranking import RankingWeights
from agentmem.memory.settings import (
    env_compress_threshold,
    env_ttls,
    env_working_capacity,
    split_store_options,
)
from agentmem.plugins import backends, open_store
from agentmem.routing import failover_url

__all__ = [
    "backend_name",
    "create_memory_adapter",
    "default_fallback_path",
    "default_sqlite_path",
    "redis_url",
    "redis_with_fallback_url",
    "resolve_store_url",
    "sqlite_url",
]

log = logging.getLogger("agentmem.memory")


def default_sqlite_path() -> Path:
    """``AGENTMEM_SQLITE_PATH``, else ``$XDG_DATA_HOME/agentmem/memory.db``."""
    configured = os.environ.get("AGENTMEM_SQLITE_PATH")
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "agentmem" / "memory.db"


def default_fallback_path(agent_id: str = "default") -> Path:
    """The Redis fallback file of one agent: ``AGENTMEM_SQLITE_PATH`` if set, else
    ``$XDG_DATA_HOME/agentmem/fallback/<agent_id>.db``.

    One file per agent because a fallback file holds one outbox: two agents sharing it
    would replay each other's entries while their writes are still under way.
    """
    configured = os.environ.get("AGENTMEM_SQLITE_PATH")
    if configured:
        return Path(configured).expanduser()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", agent_id)[:64].lstrip(".") or "agent"
    if safe != agent_id:  # keep ids that sanitise alike apart
        safe += "-" + hashlib.sha256(agent_id.encode()).hexdigest()[:8]
    return default_sqlite_path().parent / "fallback" / f"{safe}.db"


def _own_fallback(agent_id: str) -> Path:
    # A configured path is the caller's choice; the default one is claimed per process.
    if os.environ.get("AGENTMEM_SQLITE_PATH"):
        return default_fallback_path(agent_id)
    return claim_fallback_file(default_fallback_path(agent_id))


def _query(options: Mapping[str, str] | None) -> str:
    return "?" + urlencode(sorted(options.items())) if options else ""


def sqlite_url(
    path: str | os.PathLike[str] | None = None, options: Mapping[str, str] | None = None
) -> str:
    """The ``sqlite://`` URL of a file (the default file when None); creates its folder.
    ``options`` become the URL's query (``busy_timeout``, ...)."""
    file = Path(path).expanduser() if path is not None else default_sqlite_path()
    file = file.absolute()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the folder of SQLite file {file}: {exc.strerror or exc}; "
            "pass sqlite_path= or set AGENTMEM_SQLITE_PATH to a writable place"
        ) from exc
    return "sqlite://" + quote(str(file), safe="/") + _query(options)


def _env_int(name: str, given: int | None, default: int) -> int:
    if given is not None:
        return given
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None


def redis_url(
    host: str | None = None,
    port: int | None = None,
    db: int | None = None,
    password: str | None = None,
    options: Mapping[str, str] | None = None,
) -> str:
    """``redis://[:password@]host:port/db`` from arguments or ``REDIS_*`` variables;
    ``options`` become the URL's query (``max_connections``, ``socket_timeout``, ...)."""
    host = host or os.environ.get("REDIS_HOST") or "localhost"
    port = _env_int("REDIS_PORT", port, 6379)
    db = _env_int("REDIS_DB", db, 0)
    password = password if password is not None else os.environ.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"redis://{auth}{netloc}:{port}/{db}" + _query(options)


def redis_with_fallback_url(redis: str, sqlite: str, **settings: str | float) -> str:
    """The one place that decides what ``backend="redis"`` means: Redis as primary,
    SQLite as fallback and second copy (FailoverStore mirrors acknowledged writes).

    The journal (the outbox's namespace in the SQLite file) is derived by ``failover://``
    from the Redis URL as configured, without its password or client tuning (pool size,
    timeouts), so a start with Redis down (the primary is then opened on first use) uses
    the same one. ``settings`` are the failover store's options (``call_timeout``, ...).
    """
    return failover_url(redis, sqlite, **settings)


def backend_name(backend: str | None = None, *, url: str | None = None) -> str | None:
    """The backend name the rules pick (``sqlite``, ``redis``, ``memory``, a plugin
    scheme), or None when a URL (``url=`` or ``AGENTMEM_URL``) names the store."""
    if url or (backend is None and os.environ.get("AGENTMEM_URL")):
        return None
    return (backend or os.environ.get("MEMORY_BACKEND") or "sqlite").strip().lower()


def resolve_store_url(
    backend: str | None = None,
    *,
    url: str | None = None,
    redis_host: str | None = None,
    redis_port: int | None = None,
    redis_db: int | None = None,
    redis_password: str | None = None,
    sqlite_path: str | os.PathLike[str] | None = None,
    redis_options: Mapping[str, str] | None = None,
    sqlite_options: Mapping[str, str] | None = None,
    failover_options: Mapping[str, str] | None = None,
    agent_id: str = "default",
) -> str:
    """The store URL the factory opens (rules in the module docstring).

    For ``backend="redis"``, ``redis_options``, ``sqlite_options`` and
    ``failover_options`` go into the query of the URL of the store they belong to.
    """
    if url:
        return url
    if backend is None and os.environ.get("AGENTMEM_URL"):
        return os.environ["AGENTMEM_URL"]
    name = (backend or os.environ.get("MEMORY_BACKEND") or "sqlite").strip().lower()
    if name == "sqlite":
        return sqlite_url(sqlite_path)
    if name == "memory":
        return "memory://"
    if name == "redis":
        return redis_with_fallback_url(
            redis_url(redis_host, redis_port, redis_db, redis_password, redis_options),
            sqlite_url(
                sqlite_path if sqlite_path is not None else _own_fallback(agent_id),
                sqlite_options,
            ),
            **(failover_options or {}),
        )
    if name in backends():
        return f"{name}://"
    raise ConfigurationError(
        f"unknown memory backend {name!r}: use 'sqlite', 'redis', 'memory', a URL "
        f"(url= or AGENTMEM_URL), or one of the installed schemes: {sorted(backends())}"
    )


async def create_memory_adapter(
    backend: str | None = None,
    agent_id: str = "default",
    session_id: str | None = None,
    enable_pubsub: bool = True,
    redis_host: str | None = None,
    redis_port: int | None = None,
    redis_db: int | None = None,
    redis_password: str | None = None,
    url: str | None = None,
    sqlite_path: str | os.PathLike[str] | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    working_capacity: int | None = None,
    ttls: TTLSpec | None = None,
    compress_threshold: int | None = None,
    embedder: str | Embedder | bool | None = None,
    ranking: RankingWeights | None = None,
    **store_options: Any,
) -> AgentMemory:
    """Open the store (see the module docstring) and return an initialized AgentMemory.

    >>> import asyncio
    >>> async def demo():
    ...     async with await create_memory_adapter("memory", agent_id="a1") as memory:
    ...         step = await memory.add_step("read the logs", "found a timeout")
    ...         return step.step_number
    >>> asyncio.run(demo())
    1

    ``store_options`` go to the store each belongs to (for ``backend="redis"``:
    ``max_connections=`` to Redis, ``busy_timeout=`` to SQLite, ``call_timeout=`` to the
    failover store; see :mod:`agentmem.memory.settings`). ``working_capacity``, ``ttls``
    and ``compress_threshold`` default to ``AGENTMEM_WORKING_CAPACITY``,
    ``AGENTMEM_TTL_<KIND>`` and ``AGENTMEM_COMPRESS_THRESHOLD``. The store writes as
    ``agent_id`` (the origin carried by its changes, which is how notifications skip the
    agent's own).
    """
    capacity = env_working_capacity(working_capacity)
    lifetimes = env_ttls(ttls)
    # Everything the adapter would refuse is refused before a store is opened.
    check_adapter_arguments(
        agent_id=agent_id,
        namespace=namespace,
        working_capacity=capacity,
        ttls=lifetimes,
        session_id=session_id,
    )
    name = backend_name(backend, url=url)
    split = split_store_options(name if name in ("redis", "sqlite") else None, store_options)
    threshold = env_compress_threshold(compress_threshold)
    if threshold is not None:
        if "codec" in split.keywords:
            raise ConfigurationError("pass either codec= or compress_threshold=, not both")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ConfigurationError(
                f"compress_threshold must be an int >= 0 (bytes), got {threshold!r}"
            )
        split.keywords["codec"] = Codec(compress_threshold=threshold)
    target = resolve_store_url(
        backend,
        url=url,
        redis_host=redis_host,
        redis_port=redis_port,
        redis_db=redis_db,
        redis_password=redis_password,
        sqlite_path=sqlite_path,
        redis_options=split.redis,
        sqlite_options=split.sqlite,
        failover_options=split.failover,
        agent_id=agent_id,
    )
    store = await open_store(target, origin=agent_id, **split.keywords)
    try:
        memory = AgentMemory(
            store,
            agent_id=agent_id,
            session_id=session_id,
            namespace=namespace,
            working_capacity=capacity,
            ttls=lifetimes,
            enable_pubsub=enable_pubsub,
            embedder=embedder,
            ranking=ranking,
        )
    except BaseException:
        await store.close()
        raise
    try:
        await memory.initialize()
    except BaseException:
        await memory.close()
        raise
    log.info("agent memory for %s opened on %s", agent_id, store.url)
    return memory
