"""URL forms for the routing stores, registered through the plugin hook like any backend.

``tiered://?fast=<url>&durable=<url>``
    :class:`~agentmem.routing.TieredStore` over the two stores the (percent-encoded)
    URLs name, e.g. ``tiered://?fast=redis%3A%2F%2Fhost%3A6379%2F0&durable=sqlite%3A%2F%2F%2Fm.db``.

``failover://?primary=<url>&fallback=<url>[&call_timeout=0.5][&probe_initial=0.05]``
``[&probe_max=5][&probe_jitter=0.1][&epoch_check_interval=5][&journal=NAME][&strict=1]``
    :class:`~agentmem.routing.FailoverStore`. ``strict=1`` refuses compare-and-set while
    degraded; the keyword option ``on_conflict=`` (a callback, given to ``open_store``)
    receives each :class:`~agentmem.routing.ReplayConflict`. The fallback is opened first, then the
    primary: a primary URL that is wrong (bad URL, wrong password, missing plugin)
    raises :class:`~agentmem.errors.ConfigurationError` at open and is never replaced
    by the fallback silently. A primary that is down at open (``BackendUnavailable``)
    is opened later, on first use: the store starts degraded, on its fallback.

Build the URL with :func:`tiered_url` / :func:`failover_url` to get the encoding right.
Keyword options given to ``open_store`` (``origin=``, ...) go to both inner stores.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agentmem.errors import BackendUnavailable, ConfigurationError
from agentmem.flags import parse_flag
from agentmem.hookspecs import BackendRegistrar, hookimpl
from agentmem.plugins import open_store
from agentmem.routing.deferred import DeferredStore
from agentmem.routing.failover import FailoverStore
from agentmem.routing.journal import journal_name, legacy_journal_names
from agentmem.routing.redact import redact_text, redact_url
from agentmem.routing.tiered import TieredStore
from agentmem.routing.urls import failover_url, tiered_url
from agentmem.store import MemoryStore

log = logging.getLogger("agentmem.routing")

__all__ = ["failover_url", "open_failover_store", "open_tiered_store", "tiered_url"]

_FLOAT_OPTIONS = ("call_timeout", "probe_initial", "probe_max", "probe_jitter")


def _query(url: str, scheme: str, required: tuple[str, str], allowed: set[str]) -> dict[str, str]:
    parts = urlsplit(url)
    example = f"{scheme}://?{required[0]}=<url-encoded URL>&{required[1]}=<url-encoded URL>"
    if parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError(f"{scheme} URL takes only query parameters: {example}")
    try:
        raw = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot parse {scheme} URL {redact_url(url)!r}: {exc}; use {example}"
        ) from exc
    unknown = set(raw) - allowed - set(required)
    if unknown:
        raise ConfigurationError(
            f"unknown {scheme} URL parameter(s) {sorted(unknown)}; known: "
            f"{sorted(allowed | set(required))}"
        )
    query: dict[str, str] = {}
    for key, values in raw.items():
        if len(values) != 1 or not values[0]:
            raise ConfigurationError(f"{scheme} URL parameter {key!r} needs exactly one value")
        query[key] = values[0]
    missing = [key for key in required if key not in query]
    if missing:
        raise ConfigurationError(f"{scheme} URL lacks {missing}: write it as {example}")
    for key in required:
        if "://" not in query[key]:
            raise ConfigurationError(
                f"{scheme} URL parameter {key}={redact_url(query[key])!r} is not a store URL; "
                f"percent-encode "
                f"it, e.g. with agentmem.routing.{scheme}_url()"
            )
    return query


async def _open_pair(
    first: str, second: str, options: dict[str, Any]
) -> tuple[MemoryStore, MemoryStore]:
    a = await open_store(first, **options)
    try:
        b = await open_store(second, **options)
    except BaseException:
        await a.close()
        raise
    return a, b


async def open_tiered_store(url: str, **options: Any) -> TieredStore:
    """Opener for ``tiered://?fast=...&durable=...``."""
    query = _query(url, "tiered", ("fast", "durable"), set())
    durable, fast = await _open_pair(query["durable"], query["fast"], options)
    return TieredStore(fast, durable)


async def open_failover_store(url: str, **options: Any) -> FailoverStore:
    """Opener for ``failover://?primary=...&fallback=...``."""
    allowed = {*_FLOAT_OPTIONS, "epoch_check_interval", "journal", "strict"}
    query = _query(url, "failover", ("primary", "fallback"), allowed)
    settings: dict[str, Any] = {}
    for key in _FLOAT_OPTIONS:
        if key in query:
            settings[key] = _float(query, key)
    if "epoch_check_interval" in query:
        value = query["epoch_check_interval"]
        settings["epoch_check_interval"] = (
            None if value in ("0", "off", "none") else _float(query, "epoch_check_interval")
        )
    if "journal" in query:
        settings["journal"] = query["journal"]
    else:
        # Named from the URL as configured, so the same whether the primary is up or
        # down at open; what older releases journalled under other names is moved in.
        settings["journal"] = journal_name(query["primary"])
        settings["legacy_journals"] = legacy_journal_names(query["primary"])
    if "strict" in query:
        try:
            settings["strict"] = parse_flag(query["strict"])
        except ValueError:
            raise ConfigurationError(
                f"failover URL parameter strict={query['strict']!r}: use strict=1 or 0"
            ) from None
    # Options of the failover store itself, not of its inner stores.
    options = dict(options)
    if "on_conflict" in options:
        settings["on_conflict"] = options.pop("on_conflict")
    # Fallback first: a broken fallback is found before the primary is touched, and a
    # primary that cannot be opened (wrong password, bad URL) fails here, loudly.
    fallback = await open_store(query["fallback"], **options)
    try:
        primary = await _open_primary(query["primary"], query["fallback"], options)
    except BaseException:
        await fallback.close()
        raise
    try:
        return FailoverStore(primary, fallback, origin=options.get("origin"), **settings)
    except BaseException:
        await primary.close()
        await fallback.close()
        raise


async def _open_primary(url: str, fallback_url: str, options: dict[str, Any]) -> MemoryStore:
    """Open the primary; one that is down (not misconfigured) is opened later, on first use,
    so the failover store starts degraded on its fallback instead of not starting."""
    try:
        return await open_store(url, **options)
    except BackendUnavailable as exc:
        log.warning(
            "%s unavailable at start (%s): starting on %s, will switch when it answers",
            redact_url(url),
            redact_text(str(exc)),
            redact_url(fallback_url),
        )
        return DeferredStore(url, **options)


def _float(query: dict[str, str], key: str) -> float:
    try:
        return float(query[key])
    except ValueError as exc:
        raise ConfigurationError(
            f"failover URL parameter {key}={query[key]!r} is not a number"
        ) from exc


@hookimpl
def register_backends(register: BackendRegistrar) -> None:
    register("tiered", open_tiered_store, description="fast shared store over a durable one")
    register("failover", open_failover_store, description="primary store with a fallback")
