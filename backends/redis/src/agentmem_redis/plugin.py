"""The ``agentmem.backends`` entry point: registers the Redis URL schemes."""

from __future__ import annotations

from agentmem import hookimpl
from agentmem.hookspecs import BackendRegistrar
from agentmem_redis.config import SCHEMES
from agentmem_redis.store import open_redis_store

__all__ = ["register_backends"]

_DESCRIPTIONS = {
    "redis": "Redis over TCP",
    "rediss": "Redis over TLS",
    "unix": "Redis over a Unix socket",
    "redis+cluster": "Redis Cluster over TCP",
    "rediss+cluster": "Redis Cluster over TLS",
}


@hookimpl
def register_backends(register: BackendRegistrar) -> None:
    """Register one opener for every Redis URL scheme."""
    for scheme in SCHEMES:
        register(scheme, open_redis_store, description=_DESCRIPTIONS[scheme])
