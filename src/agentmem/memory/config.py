"""Memory kinds, their default lifetimes and where each kind lives in the store.

=========  ===========================================  =======  ==============
kind       holds                                        scope    default TTL
=========  ===========================================  =======  ==============
working    the steps of the task in progress            agent    1 hour
episodic   finished tasks (episodes)                    shared   30 days
semantic   generalized knowledge (patterns)             shared   90 days
skill      named action sequences with live statistics  shared   180 days
session    a session and the session it continues       shared   30 days
=========  ===========================================  =======  ==============

Shared kinds live in one namespace (``namespace=``, default ``"shared"``) that every agent
of an application opens; working memory lives in a namespace derived from the agent id,
so no other agent's reads, searches or notifications ever reach it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from agentmem.errors import InvalidInput

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_TTLS",
    "DEFAULT_WORKING_CAPACITY",
    "EPISODIC",
    "SEMANTIC",
    "SESSION",
    "SHARED_KINDS",
    "SKILL",
    "WORKING",
    "TTLSpec",
    "resolve_ttls",
    "working_namespace",
]

WORKING: Final = "working"
EPISODIC: Final = "episodic"
SEMANTIC: Final = "semantic"
SKILL: Final = "skill"
SESSION: Final = "session"

SHARED_KINDS: Final = frozenset({EPISODIC, SEMANTIC, SKILL, SESSION})
"""Kinds stored in the shared namespace (every agent of the application sees them)."""

DEFAULT_NAMESPACE: Final = "shared"
DEFAULT_WORKING_CAPACITY: Final = 50
"""How many steps working memory keeps; older steps are dropped from the store."""

DEFAULT_TTLS: Final[Mapping[str, timedelta | None]] = {
    WORKING: timedelta(hours=1),
    EPISODIC: timedelta(days=30),
    SEMANTIC: timedelta(days=90),
    SKILL: timedelta(days=180),
    SESSION: timedelta(days=30),
}

TTLSpec = Mapping[str, timedelta | float | int | None]
"""Per-kind TTL overrides: a timedelta, a number of seconds, or None for "never expires"."""


def resolve_ttls(overrides: TTLSpec | None) -> dict[str, timedelta | None]:
    """The default TTLs with ``overrides`` applied; unknown kinds or bad values are rejected."""
    ttls = dict(DEFAULT_TTLS)
    for kind, value in (overrides or {}).items():
        if kind not in ttls:
            raise InvalidInput(f"unknown memory kind {kind!r} in ttls; known: {sorted(ttls)}")
        if value is None:
            ttls[kind] = None
        elif isinstance(value, timedelta):
            ttls[kind] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ttls[kind] = timedelta(seconds=value)
        else:
            raise InvalidInput(f"ttl for {kind!r} must be a timedelta, seconds or None")
        ttl = ttls[kind]
        if ttl is not None and ttl <= timedelta(0):
            raise InvalidInput(f"ttl for {kind!r} must be positive, got {value!r}")
    return ttls


def working_namespace(shared_namespace: str, agent_id: str) -> str:
    """The namespace holding one agent's working memory."""
    return f"{shared_namespace}/agent/{agent_id}"
