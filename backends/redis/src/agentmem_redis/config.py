"""Parse ``redis://``, ``rediss://``, ``unix://`` and ``redis+cluster://`` URLs into options.

Everything a URL's query string can set can also be passed as a keyword argument;
keyword arguments win. Unknown options are a :class:`ConfigurationError` naming them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from agentmem import ConfigurationError
from agentmem.flags import parse_flag
from agentmem.routing.redact import redact_url

__all__ = ["SCHEMES", "RedisOptions", "parse_url"]

SCHEMES: Final = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")

_INT_OPTIONS: Final = {
    "max_connections",
    "buckets",
    "retention",
    "search_budget",
    "cleanup_budget",
    "db",
}
_FLOAT_OPTIONS: Final = {
    "pool_timeout",
    "socket_timeout",
    "connect_timeout",
    "health_check_interval",
}
_STR_OPTIONS: Final = {
    "prefix",
    "username",
    "password",
    "client_name",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
}
_BOOL_OPTIONS: Final = {"ssl_check_hostname", "warn_persistence", "vector_cache", "vector_sets"}
OPTION_NAMES: Final = _INT_OPTIONS | _FLOAT_OPTIONS | _STR_OPTIONS | _BOOL_OPTIONS


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How to reach the server(s) and how to lay out keys there."""

    scheme: str
    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 6379),)
    unix_path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ssl_cert_reqs: str | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool | None = None
    prefix: str = "agentmem"
    max_connections: int = 50
    pool_timeout: float = 5.0
    socket_timeout: float = 5.0
    connect_timeout: float = 5.0
    health_check_interval: float = 30.0
    client_name: str = "agentmem"
    buckets: int | None = None
    retention: int = 100_000
    search_budget: int = 20_000
    cleanup_budget: int = 200
    warn_persistence: bool = True
    vector_cache: bool = True
    vector_sets: bool = False

    @property
    def cluster(self) -> bool:
        return self.scheme.endswith("+cluster")

    def masked_url(self) -> str:
        """The URL with the password replaced by ``***``."""
        auth = ""
        if self.username or self.password:
            auth = (self.username or "") + (":***" if self.password else "") + "@"
        if self.unix_path is not None:
            return f"unix://{auth}{self.unix_path}?db={self.db}"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        return f"{self.scheme}://{auth}{hosts}/{self.db}"

    def ssl_kwargs(self) -> dict[str, Any]:
        """TLS keyword arguments for redis-py (only those that were set)."""
        out: dict[str, Any] = {}
        for name in ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.ssl_check_hostname is not None:
            out["ssl_check_hostname"] = self.ssl_check_hostname
        return out


def _coerce(name: str, value: Any) -> Any:
    try:
        if name in _INT_OPTIONS:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if name in _FLOAT_OPTIONS:
            return float(value)
        if name in _BOOL_OPTIONS:
            return parse_flag(value)
        if value is not None and not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError) as exc:
        shown = "***" if name == "password" else repr(value)
        raise ConfigurationError(f"Redis option {name}={shown} is not valid") from exc


def _host_port(text: str, url: str) -> tuple[str, int]:
    if not text:
        raise ConfigurationError(f"Redis URL {redact_url(url)!r} names no host")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        port = int(port_text) if port_text else 6379
    except ValueError as exc:
        raise ConfigurationError(
            f"bad port {port_text!r} in Redis URL {redact_url(url)!r}"
        ) from exc
    if not host or not 0 < port < 65536:
        raise ConfigurationError(f"bad host or port {text!r} in Redis URL {redact_url(url)!r}")
    return host, port


def parse_url(url: str, **overrides: Any) -> RedisOptions:
    """Parse a Redis URL and apply keyword overrides.

    >>> parse_url("redis://:pw@localhost:6380/2?prefix=app").hosts
    (('localhost', 6380),)
    >>> parse_url("redis+cluster://a:7000,b:7001").cluster
    True
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"not a Redis URL: {redact_url(url)!r}")
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"unknown Redis URL scheme {scheme!r}; use one of {', '.join(SCHEMES)}"
        )
    if scheme == "unix":
        parts = urlsplit(url)
        authority, path_only, query = parts.netloc, parts.path, parts.query
    else:
        # urlsplit cannot parse "h1:p1,h2:p2", so split the authority by hand.
        before_query, _, query = rest.partition("?")
        authority, _, path_only = before_query.partition("/")
    userinfo, _, hostlist = authority.rpartition("@")
    username: str | None = None
    password: str | None = None
    if userinfo:
        user, sep, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if sep else None
        if not sep:  # "redis://secret@host" is a password, as redis-py reads it
            username, password = None, unquote(user)
    values: dict[str, Any] = {"scheme": scheme, "username": username, "password": password}
    if scheme == "unix":
        if not path_only:
            raise ConfigurationError(
                f"unix URL {redact_url(url)!r} needs a socket path: unix:///path?db=0"
            )
        values["unix_path"] = unquote(path_only)
    else:
        hosts = tuple(_host_port(h.strip(), url) for h in hostlist.split(",") if h.strip())
        if not hosts:
            raise ConfigurationError(f"Redis URL {redact_url(url)!r} names no host")
        if len(hosts) > 1 and not scheme.endswith("+cluster"):
            raise ConfigurationError(
                f"several hosts in {redact_url(url)!r}: use "
                "redis+cluster://host:port,host:port for a cluster"
            )
        values["hosts"] = hosts
        db_text = path_only.strip("/")
        if db_text:
            try:
                values["db"] = int(db_text)
            except ValueError as exc:
                raise ConfigurationError(
                    f"database {db_text!r} in {redact_url(url)!r} is not a number"
                ) from exc
        values["tls"] = scheme.startswith("rediss")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in OPTION_NAMES:
            raise ConfigurationError(
                f"unknown Redis URL option {name!r}; known: {', '.join(sorted(OPTION_NAMES))}"
            )
        values[name] = _coerce(name, value)
    options = RedisOptions(**values)
    unknown = set(overrides) - OPTION_NAMES
    if unknown:
        raise ConfigurationError(
            f"unknown Redis option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(OPTION_NAMES))}"
        )
    options = replace(options, **{k: _coerce(k, v) for k, v in overrides.items()})
    _validate(options)
    return options


def _validate(options: RedisOptions) -> None:
    if options.cluster and options.db != 0:
        raise ConfigurationError("Redis Cluster has only database 0: drop the /db from the URL")
    if options.max_connections < 1:
        raise ConfigurationError("max_connections must be at least 1")
    for name in ("pool_timeout", "socket_timeout", "connect_timeout"):
        if getattr(options, name) <= 0:
            raise ConfigurationError(f"{name} must be positive")
    if options.retention < 1 or options.search_budget < 1 or options.cleanup_budget < 1:
        raise ConfigurationError("retention, search_budget and cleanup_budget must be positive")
    if options.db < 0:
        raise ConfigurationError("db must be >= 0")
