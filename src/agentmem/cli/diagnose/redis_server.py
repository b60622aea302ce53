"""A Redis server's persistence and eviction policy, through the store's redis-py client
(the core never imports redis: the client is reached as ``store.redis``)."""

from __future__ import annotations

from typing import Any

from agentmem.cli.diagnose.findings import Finding
from agentmem.cli.urls import display_url
from agentmem.store import MemoryStore

__all__ = ["check_redis"]

_EVICTING_ALL = ("allkeys-lru", "allkeys-lfu", "allkeys-random")


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
