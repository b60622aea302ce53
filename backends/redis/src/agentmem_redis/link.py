"""One redis-py client (single node or cluster), its bounded pool and our Lua scripts.

Everything that talks to Redis goes through :class:`RedisLink`, so pooling, waiting for
a free connection, script loading and error translation live in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff

from agentmem import BackendUnavailable
from agentmem_redis.config import RedisOptions
from agentmem_redis.errors import translate, translating
from redis import exceptions as rx

__all__ = ["SCRIPT_NAMES", "RedisLink", "Script"]

log = logging.getLogger("agentmem.redis")

SCRIPT_NAMES: Final = (
    "write",
    "delete",
    "count",
    "stats",
    "scan",
    "search",
    "vecfill",
    "vsetfill",
)


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script: the shared helpers followed by its own body, and its SHA1."""

    name: str
    source: str
    sha: str


def _load_scripts() -> dict[str, Script]:
    folder = resources.files("agentmem_redis") / "lua"
    common = (folder / "common.lua").read_text(encoding="utf-8")
    out: dict[str, Script] = {}
    for name in SCRIPT_NAMES:
        source = common + "\n" + (folder / f"{name}.lua").read_text(encoding="utf-8")
        sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        out[name] = Script(name, source, sha)
    return out


SCRIPTS: Final = _load_scripts()

ScriptCall = tuple[str, Sequence[str], Sequence[Any]]
"""(script name, keys, args) for :meth:`RedisLink.run_scripts`."""


class RedisLink:
    """A connected client with a bounded pool: callers wait (up to ``pool_timeout``) for a
    free connection instead of failing."""

    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self.cluster = options.cluster
        self.client: Redis | RedisCluster
        common: dict[str, Any] = {
            "username": options.username,
            "password": options.password,
            "socket_timeout": options.socket_timeout,
            "socket_connect_timeout": options.connect_timeout,
            "health_check_interval": options.health_check_interval,
            "client_name": options.client_name,
        }
        if options.cluster:
            # redis-py's cluster client fails at once when a node's pool is full; the
            # semaphore makes callers wait instead, and keeps every node under the bound.
            self._gate: asyncio.Semaphore | None = asyncio.Semaphore(options.max_connections)
            ssl = {"ssl": True, **options.ssl_kwargs()} if options.tls else {}
            self.client = RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in options.hosts],
                max_connections=options.max_connections,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
                **common,
                **ssl,
            )
        else:
            self._gate = None
            kwargs: dict[str, Any] = dict(common, db=options.db, retry=Retry(NoBackoff(), 0))
            connection_class: type[Connection] | type[UnixDomainSocketConnection]
            if options.unix_path is not None:
                connection_class = UnixDomainSocketConnection
                kwargs["path"] = options.unix_path
            else:
                host, port = options.hosts[0]
                kwargs.update(host=host, port=port)
                connection_class = SSLConnection if options.tls else Connection
                if options.tls:
                    kwargs.update(options.ssl_kwargs())
            pool = BlockingConnectionPool(
                connection_class=connection_class,
                max_connections=options.max_connections,
                timeout=options.pool_timeout,
                **kwargs,
            )
            self.client = Redis(connection_pool=pool)
        # Connections for blocking feed reads, outside the pool: no socket timeout (so no
        # per-command ``asyncio.wait_for``, which on Python 3.11 can drop a cancellation
        # that arrives as a send completes, CPython gh-86296); each read is bounded by
        # ``asyncio.timeout`` instead. Idle ones are kept for the next read.
        self._feed_idle: list[AbstractConnection] = []
        self._feed_busy: set[AbstractConnection] = set()
        self._closed = False

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for a free connection (cluster: the gate), for commands run on ``client``."""
        return self._slot()

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._gate is None:
            yield
            return
        try:
            await asyncio.wait_for(self._gate.acquire(), self.options.pool_timeout)
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"no free Redis connection within {self.options.pool_timeout}s "
                f"(max_connections={self.options.max_connections})"
            ) from exc
        try:
            yield
        finally:
            self._gate.release()

    async def command(self, what: str, *args: Any, **options: Any) -> Any:
        """Run one command; errors come out as agentmem errors."""
        async with self._slot():
            with translating(what):
                return await self.client.execute_command(*args, **options)

    async def pipeline(self, what: str, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Run commands in one pipeline (not a transaction); a failed command's slot in
        the result holds its exception instead of raising."""
        if not commands:
            return []
        async with self._slot():
            with translating(what):
                pipe = self.client.pipeline(transaction=False)
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute(raise_on_error=False))

    def _feed_connection(self) -> AbstractConnection:
        if self._feed_idle:
            return self._feed_idle.pop()
        assert isinstance(self.client, Redis)
        pool = self.client.connection_pool
        kwargs = dict(pool.connection_kwargs, socket_timeout=None)
        connection: AbstractConnection = pool.connection_class(**kwargs)
        return connection

    async def blocking_read(self, what: str, block: float, *args: Any) -> Any:
        """Run one blocking command (``XREAD ... BLOCK``) on a feed connection of its own
        (single node only), bounded by ``asyncio.timeout(block + socket_timeout)``.

        Returns the raw reply (RESP2 lists, or RESP3 maps). Cancellation ends the call at
        once; a connection left mid-command (cancelled, timed out, failed) is closed, never
        reused. Feed reads do not take connections from the bounded pool.
        """
        if self._closed:
            raise BackendUnavailable("the Redis connection is closed")
        connection = self._feed_connection()
        self._feed_busy.add(connection)
        reusable = False
        try:
            with translating(what):
                async with asyncio.timeout(block + self.options.socket_timeout):
                    await connection.send_command(*args)
                    reply = await connection.read_response()
            reusable = True
            return reply
        finally:
            self._feed_busy.discard(connection)
            if reusable and not self._closed:
                self._feed_idle.append(connection)
            else:
                await connection.disconnect(nowait=True)

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script (on every primary of a cluster)."""
        for script in SCRIPTS.values():
            await self.command("loading scripts", "SCRIPT LOAD", script.source)

    async def run_scripts(self, what: str, calls: Sequence[ScriptCall]) -> list[Any]:
        """EVALSHA each call in one pipeline; reload scripts once if the server lost them.

        Returns one result per call; a call that failed holds its agentmem error.
        """
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for attempt in range(2):
            commands = []
            for index in pending:
                name, keys, args = calls[index]
                commands.append(("EVALSHA", SCRIPTS[name].sha, len(keys), *keys, *args))
            replies = await self.pipeline(what, commands)
            missing = []
            for index, reply in zip(pending, replies, strict=True):
                if isinstance(reply, rx.NoScriptError) and attempt == 0:
                    missing.append(index)
                elif isinstance(reply, BaseException):
                    results[index] = translate(reply, what)
                else:
                    results[index] = reply
            if not missing:
                break
            log.info("Redis lost agentmem's scripts (restart or SCRIPT FLUSH); reloading")
            await self.load_scripts()
            pending = missing
        return results

    async def run_script(
        self, what: str, name: str, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        """One script call; raises its error."""
        (result,) = await self.run_scripts(what, [(name, keys, args)])
        if isinstance(result, BaseException):
            raise result
        return result

    async def primaries_config(self, *names: str) -> list[dict[str, str]]:
        """CONFIG GET on the server (every primary of a cluster)."""
        out = []
        if isinstance(self.client, RedisCluster):
            nodes: list[Any] = list(self.client.get_primaries())
        else:
            nodes = [None]
        for node in nodes:
            kwargs = {"target_nodes": node} if node is not None else {}
            reply = await self.command("CONFIG GET", "CONFIG GET", *names, **kwargs)
            out.append(_as_str_dict(reply))
        return out

    async def close(self) -> None:
        """Close every connection (the pool's, or every cluster node's, and the feed's)."""
        self._closed = True
        feed = [*self._feed_idle, *self._feed_busy]
        self._feed_idle.clear()
        for connection in feed:
            await connection.disconnect(nowait=True)
        with translating("closing"):
            if isinstance(self.client, RedisCluster):
                await self.client.aclose()
            else:
                await self.client.aclose()
                await self.client.connection_pool.disconnect()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _as_str_dict(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    items = list(reply or [])
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}
