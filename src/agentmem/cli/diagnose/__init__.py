"""The checks behind ``agentmem doctor``: each one a :class:`Finding` (ok, warn or fail).

What is checked depends on the store, found by what it is rather than by importing any
backend: a failover store's state and outbox, a Redis server's persistence and eviction
policy (through the store's redis-py client), a SQLite file's schema version (read with the
standard library, read-only, before the store opens and migrates it), and corrupt records
(deleted when asked: ``agentmem doctor --delete-corrupt``).
"""

from __future__ import annotations

from agentmem.cli.common import open_cli_store
from agentmem.cli.diagnose.corruption import list_corrupt_records, remove_corrupt_records
from agentmem.cli.diagnose.failover import check_failover
from agentmem.cli.diagnose.findings import Finding
from agentmem.cli.diagnose.redis_server import check_redis
from agentmem.cli.diagnose.sqlite_file import check_sqlite_file
from agentmem.cli.urls import display_url, inner_urls
from agentmem.errors import AgentMemError, BackendUnavailable
from agentmem.routing import FailoverStore, RoutingState, TieredStore
from agentmem.store import MemoryStore

__all__ = ["Finding", "diagnose", "list_corrupt_records", "remove_corrupt_records"]


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


async def diagnose(url: str, *, delete_corrupt: bool = False) -> list[Finding]:
    """Every check that applies to the store at ``url``; with ``delete_corrupt``, the
    corrupt records found are deleted (and reported as fixed)."""
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
            shown = ", ".join(str(ref) for ref in corrupt[:5])
            more = f" (and {len(corrupt) - 5} more)" if len(corrupt) > 5 else ""
            if corrupt and delete_corrupt:
                deleted = await remove_corrupt_records(store, corrupt)
                findings.append(
                    Finding(
                        "corrupt records",
                        "ok",
                        f"{len(corrupt)} found, {deleted} deleted: {shown}{more}",
                        where,
                    )
                )
            elif corrupt:
                findings.append(
                    Finding(
                        "corrupt records",
                        "fail",
                        f"{len(corrupt)} found: {shown}{more}; "
                        "delete them with agentmem doctor --delete-corrupt",
                        where,
                    )
                )
            else:
                findings.append(Finding("corrupt records", "ok", "none found", where))
    except AgentMemError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        findings.append(Finding("open", "fail", message, display_url(url)))
    return findings
