"""Which store each option of :func:`~agentmem.memory.create_memory_adapter` belongs to,
and the environment variable that sets it when the argument is not given.

``backend="redis"`` opens three stores in one (Redis, its SQLite fallback and the
failover store routing between them), so the factory cannot hand every keyword to every
store: a Redis pool size means nothing to SQLite. Each option is routed to the store
that knows it (an option known to several, like ``retention``, goes to each); an option
no store of the chosen backend knows is a :class:`~agentmem.errors.ConfigurationError`
naming the known ones. The table in docs/agent-memory.md ("Every knob") is this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from agentmem.errors import ConfigurationError
from agentmem.memory.config import DEFAULT_TTLS, DEFAULT_WORKING_CAPACITY, TTLSpec

__all__ = [
    "ENV_STORE_OPTIONS",
    "FAILOVER_OPTIONS",
    "REDIS_OPTIONS",
    "SQLITE_OPTIONS",
    "SplitOptions",
    "env_compress_threshold",
    "env_ttls",
    "env_working_capacity",
    "split_store_options",
]

SQLITE_OPTIONS: Final = frozenset(
    {"busy_timeout", "sweep_interval", "retention", "poll_interval", "synchronous"}
)
"""Options of the ``sqlite://`` store (docs/backends/sqlite.md)."""

REDIS_OPTIONS: Final = frozenset(
    {
        "max_connections",
        "pool_timeout",
        "socket_timeout",
        "connect_timeout",
        "health_check_interval",
        "client_name",
        "prefix",
        "buckets",
        "retention",
        "search_budget",
        "cleanup_budget",
        "username",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_check_hostname",
        "warn_persistence",
    }
)
"""Options of the ``redis://`` store (docs/backends/redis.md); the password and database
have their own arguments (``redis_password``, ``redis_db``)."""

FAILOVER_OPTIONS: Final = frozenset(
    {"call_timeout", "probe_initial", "probe_max", "probe_jitter", "epoch_check_interval"}
)
"""Options of the failover store between Redis and its SQLite fallback (docs/failover.md)."""

SHARED_KEYWORDS: Final = frozenset({"codec", "clock"})
"""Keywords that are not URL options: they go, as keywords, to every store opened."""

ENV_STORE_OPTIONS: Final[Mapping[str, str]] = {
    "max_connections": "REDIS_MAX_CONNECTIONS",
    "pool_timeout": "REDIS_POOL_TIMEOUT",
    "socket_timeout": "REDIS_SOCKET_TIMEOUT",
    "connect_timeout": "REDIS_CONNECT_TIMEOUT",
    "prefix": "REDIS_PREFIX",
    "busy_timeout": "AGENTMEM_SQLITE_BUSY_TIMEOUT",
    "call_timeout": "AGENTMEM_CALL_TIMEOUT",
}
"""Store options read from the environment when not passed (and no ``url=`` is given)."""

ENV_TTL_PREFIX: Final = "AGENTMEM_TTL_"
ENV_WORKING_CAPACITY: Final = "AGENTMEM_WORKING_CAPACITY"
ENV_COMPRESS_THRESHOLD: Final = "AGENTMEM_COMPRESS_THRESHOLD"


@dataclass(frozen=True, slots=True)
class SplitOptions:
    """Store options sorted by the store they belong to."""

    redis: dict[str, str] = field(default_factory=dict)
    sqlite: dict[str, str] = field(default_factory=dict)
    failover: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, Any] = field(default_factory=dict)
    """For the opener of a single store: every option, as given."""


def _as_query_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ConfigurationError(f"store option {name}={value!r} must be a number, a str or a bool")


def _with_env(name: str, options: dict[str, Any], targets: tuple[frozenset[str], ...]) -> None:
    if name in options or not any(name in target for target in targets):
        return
    raw = os.environ.get(ENV_STORE_OPTIONS[name])
    if raw:
        options[name] = raw


def split_store_options(backend: str | None, options: Mapping[str, Any]) -> SplitOptions:
    """Route ``options`` (plus the environment's ``ENV_STORE_OPTIONS``) for ``backend``.

    ``backend`` is the factory's resolved backend name: ``"redis"`` (Redis, SQLite
    fallback, failover), ``"sqlite"``, or None for any other store (an explicit URL, a
    plugin scheme, ``memory``), whose opener gets every option as a keyword and no
    environment defaults.
    """
    given = dict(options)
    if backend == "sqlite":
        for name in ENV_STORE_OPTIONS:
            _with_env(name, given, (SQLITE_OPTIONS,))
        return SplitOptions(keywords=given)
    if backend != "redis":
        return SplitOptions(keywords=given)
    for name in ENV_STORE_OPTIONS:
        _with_env(name, given, (REDIS_OPTIONS, SQLITE_OPTIONS, FAILOVER_OPTIONS))
    split = SplitOptions()
    known = REDIS_OPTIONS | SQLITE_OPTIONS | FAILOVER_OPTIONS | SHARED_KEYWORDS
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(unknown)} for backend='redis'; known: "
            f"{', '.join(sorted(known))}"
        )
    for name, value in given.items():
        if name in SHARED_KEYWORDS:
            split.keywords[name] = value
            continue
        text = _as_query_value(name, value)
        for target, names in (
            (split.redis, REDIS_OPTIONS),
            (split.sqlite, SQLITE_OPTIONS),
            (split.failover, FAILOVER_OPTIONS),
        ):
            if name in names:
                target[name] = text
    return split


def env_ttls(ttls: TTLSpec | None) -> TTLSpec | None:
    """``ttls`` over ``AGENTMEM_TTL_<KIND>`` (seconds, or ``none`` for never expires)."""
    merged: dict[str, timedelta | float | int | None] = {}
    for kind in DEFAULT_TTLS:
        variable = ENV_TTL_PREFIX + kind.upper()
        raw = os.environ.get(variable)
        if not raw:
            continue
        if raw.strip().lower() in ("none", "never"):
            merged[kind] = None
            continue
        try:
            merged[kind] = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"{variable} must be a number of seconds or 'none', got {raw!r}"
            ) from None
    if not merged:
        return ttls
    return {**merged, **(ttls or {})}


def _env_number(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be an integer, got {raw!r}") from None


def env_working_capacity(given: int | None) -> int:
    """``working_capacity``, else ``AGENTMEM_WORKING_CAPACITY``, else 50."""
    if given is not None:
        return given
    return _env_number(ENV_WORKING_CAPACITY, DEFAULT_WORKING_CAPACITY)


def env_compress_threshold(given: int | None) -> int | None:
    """``compress_threshold``, else ``AGENTMEM_COMPRESS_THRESHOLD``, else None (the codec's
    default, 1024 bytes)."""
    if given is not None:
        return given
    raw = os.environ.get(ENV_COMPRESS_THRESHOLD)
    return None if not raw else _env_number(ENV_COMPRESS_THRESHOLD, 0)
