"""The checks behind ``agentmem doctor``: each one a :class:`Finding` (ok, warn or fail).

What is checked depends on the store, found by what it is rather than by importing any
backend: a failover store's state and outbox, a Redis server's persistence and eviction
policy (through the store's redis-py client), a SQLite file's schema version (read with the
standard library, read-only, before the store opens and migrates it), and corrupt records
when :mod:`agentmem.corruption` is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from agentmem.cli.common import open_cli_store
from agentmem.cli.urls import display_url, inner_urls
from agentmem.errors import AgentMemError, BackendUnavailable
from agentmem.routing import FailoverStore, RoutingState, TieredStore
from agentmem.store import MemoryStore

__all__ = ["Finding", "diagnose", "list_corrupt_records"]

log = logging.getLogger("agentmem.cli")

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: ``fail`` makes ``doctor`` exit non-zero."""

    check: str
    status: Status
    detail: str
    where: str = ""


_EVICTING_ALL = ("allkeys-lru", "allkeys-lfu", "allkeys-random")


def _sqlite_path(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        return None
    raw = url[len("sqlite://") :].partition("?")[0]
    return os.path.abspath(unquote(raw)) if raw else None


def _schema_version_of(path: str) -> int:
    # Read-only URI: looking must not create, migrate or lock-upgrade the file.
    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.close()
    return int(version)


def check_sqlite_file(url: str, *, role: str) -> Finding | None:
    """The file's existence and agentmem schema version, before anything opens it."""
    path = _sqlite_path(url)
    if path is None:
        return None
    where = display_url(url)
    if not os.path.exists(path):
        # The main store: a typo would silently open a new, empty store. A fallback file
        # is created on purpose on first use.
        status: Status = "fail" if role == "store" else "warn"
        return Finding(
            "sqlite file", status, f"{path} does not exist (opening creates it empty)", where
        )
    try:
        found = _schema_version_of(path)
    except sqlite3.Error as exc:
        return Finding("sqlite schema", "fail", f"cannot read {path}: {exc}", where)
    try:
        expected = int(importlib.import_module("agentmem_sqlite").SCHEMA_VERSION)
    except (ImportError, AttributeError):
        return Finding(
            "sqlite schema", "warn", f"schema version {found}; agentmem-sqlite missing", where
        )
    if found > expected:
        return Finding(
            "sqlite schema",
            "fail",
            f"schema version {found} is newer than this agentmem-sqlite ({expected}): upgrade it",
            where,
        )
    if found < expected:
        return Finding(
            "sqlite schema",
            "warn",
            f"schema version {found}; opening migrates it to {expected}",
            where,
        )
    return Finding("sqlite schema", "ok", f"schema version {found} (current)", where)


async def _redis_configs(client: Any) -> list[dict[str, str]]:
    names = ("appendonly", "save", "maxmemory-policy", "maxmemory")
    nodes: list[Any] = list(client.get_primaries()) if hasattr(client, "get_primaries") else [None]
    configs = []
    for node in nodes:
        kwargs = {"target_nodes": node} if node is not None else {}
        reply = await client.config_get(*names, **kwargs)
        configs.append(
            {
                (k.decode() if isinstance(k, bytes) else str(k)): (
                    v.decode() if isinstance(v, bytes) else str(v)
                )
                for k, v in reply.items()
            }
        )
    return configs


async def check_redis(store: MemoryStore) -> list[Finding]:
    """Persistence (AOF or RDB snapshots) and eviction policy of every primary."""
    where = display_url(store.url)
    try:
        configs = await _redis_configs(store.redis)  # type: ignore[attr-defined]
    except Exception as exc:  # redis-py's own errors: the core does not import redis
        return [Finding("redis config", "warn", f"CONFIG GET refused or failed: {exc}", where)]
    findings = []
    unpersisted = [
        c for c in configs if c.get("appendonly") == "no" and not c.get("save", "").strip()
    ]
    if unpersisted:
        findings.append(
            Finding(
                "redis persistence",
                "fail",
                f"{len(unpersisted)} of {len(configs)} server(s) have no persistence "
                "(appendonly no, no RDB save): data is lost when a server restarts; "
                "set appendonly yes",
                where,
            )
        )
    else:
        modes = {
            ("aof" if c.get("appendonly") == "yes" else f"rdb save {c.get('save')!r}")
            for c in configs
        }
        findings.append(Finding("redis persistence", "ok", ", ".join(sorted(modes)), where))
    evicting = sorted(
        {
            c.get("maxmemory-policy", "noeviction")
            for c in configs
            if c.get("maxmemory", "0") != "0" and c.get("maxmemory-policy") != "noeviction"
        }
    )
    if evicting:
        which = "any record" if any(p in _EVICTING_ALL for p in evicting) else "records with a TTL"
        findings.append(
            Finding(
                "redis eviction",
                "fail",
                f"maxmemory-policy {', '.join(evicting)} with a maxmemory limit: {which} "
                "may be evicted under memory pressure; use noeviction",
                where,
            )
        )
    else:
        policies = sorted({c.get("maxmemory-policy", "?") for c in configs})
        findings.append(
            Finding("redis eviction", "ok", f"maxmemory-policy {', '.join(policies)}", where)
        )
    return findings


async def check_failover(store: FailoverStore) -> Finding:
    """healthy with an empty outbox, or why not."""
    where = display_url(store.url)
    stats = store.stats
    if stats.state is not RoutingState.HEALTHY:
        return Finding(
            "failover",
            "fail",
            f"{stats.state}: primary {display_url(store.primary.url)} unavailable, answering "
            f"from fallback {display_url(store.fallback.url)}; {stats.pending} writes wait "
            "in the outbox",
            where,
        )
    if stats.pending:
        return Finding("failover", "warn", f"healthy; {stats.pending} writes in the outbox", where)
    return Finding("failover", "ok", "healthy; outbox empty", where)


async def list_corrupt_records(store: MemoryStore) -> list[Any] | None:
    """Corrupt records of ``store``, from ``agentmem.corruption.find_corrupt(store)``.

    The hook for the corruption scanner: None (not checked) until that module is installed.
    ``find_corrupt`` may return a list, an awaitable of one or an async iterator.
    """
    if importlib.util.find_spec("agentmem.corruption") is None:
        return None
    module = importlib.import_module("agentmem.corruption")
    result: Any = module.find_corrupt(store)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return list(result)


async def _walk(store: MemoryStore, findings: list[Finding]) -> None:
    """Checks of ``store`` and of the stores it routes to."""
    if isinstance(store, FailoverStore):
        findings.append(await check_failover(store))
        if store.state is RoutingState.HEALTHY:
            await _walk(store.primary, findings)
        await _walk(store.fallback, findings)
    elif isinstance(store, TieredStore):
        await _walk(store.fast, findings)
        await _walk(store.durable, findings)
    elif hasattr(store, "redis"):
        findings += await check_redis(store)


async def diagnose(url: str) -> list[Finding]:
    """Every check that applies to the store at ``url``."""
    findings: list[Finding] = []
    pre = check_sqlite_file(url, role="store")
    if pre is not None:
        findings.append(pre)
        if pre.status == "fail":
            return findings
    for role, inner in inner_urls(url):
        found = check_sqlite_file(inner, role=role)
        if found is not None:
            findings.append(found)
    try:
        async with open_cli_store(url) as store:
            where = display_url(store.url)
            try:
                await store.ping()
            except BackendUnavailable as exc:
                findings.append(Finding("reachable", "fail", str(exc), where))
                return findings
            findings.append(Finding("reachable", "ok", "answers ping", where))
            await _walk(store, findings)
            corrupt = await list_corrupt_records(store)
            if corrupt is None:
                findings.append(
                    Finding(
                        "corrupt records", "skip", "not checked (no agentmem.corruption)", where
                    )
                )
            elif corrupt:
                shown = ", ".join(str(item) for item in corrupt[:5])
                findings.append(
                    Finding("corrupt records", "fail", f"{len(corrupt)} found: {shown}", where)
                )
            else:
                findings.append(Finding("corrupt records", "ok", "none found", where))
    except AgentMemError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        findings.append(Finding("open", "fail", message, display_url(url)))
    return findings
