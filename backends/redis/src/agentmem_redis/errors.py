"""The one place where redis-py exceptions become agentmem's typed errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from agentmem import (
    AgentMemError,
    BackendUnavailable,
    ConfigurationError,
    CorruptRecord,
)
from redis import exceptions as rx

__all__ = ["translate", "translating"]

log = logging.getLogger("agentmem.redis")

# Server replies that mean "try again later" rather than "you did something wrong".
_TRANSIENT_REPLIES = ("LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM")
_AUTH_REPLIES = ("NOAUTH", "WRONGPASS", "NOPERM", "AUTH")


def translate(exc: BaseException, what: str) -> AgentMemError:
    """The agentmem error a redis-py (or socket) exception stands for."""
    if isinstance(exc, AgentMemError):
        return exc
    message = str(exc)
    first = message.split(" ", 1)[0].upper() if message else ""
    if (
        isinstance(exc, (rx.AuthenticationError, rx.AuthorizationError, rx.NoPermissionError))
        or (isinstance(exc, rx.ResponseError) and first in _AUTH_REPLIES)
        or isinstance(exc, rx.AuthenticationWrongNumberOfArgsError)
    ):
        return ConfigurationError(
            f"Redis refused {what}: {message}. Check the username and password in the URL "
            "(redis://user:password@host:port/db) or the ACL rules of that user"
        )
    if isinstance(exc, rx.ResponseError):
        if first == "WRONGTYPE" or first == "CORRUPT":
            return CorruptRecord(f"{what}: data under agentmem keys is not ours: {message}")
        if isinstance(exc, (rx.ClusterDownError, rx.TryAgainError, rx.ReadOnlyError)) or (
            first in _TRANSIENT_REPLIES
        ):
            return BackendUnavailable(f"Redis cannot serve {what} right now: {message}")
        return AgentMemError(f"Redis error during {what}: {message}")
    if isinstance(
        exc,
        (
            rx.ConnectionError,
            rx.TimeoutError,
            rx.ClusterError,
            rx.RedisClusterException,
            OSError,
            asyncio.TimeoutError,
        ),
    ):
        return BackendUnavailable(
            f"Redis unreachable during {what}: {message or type(exc).__name__}"
        )
    if isinstance(exc, rx.RedisError):
        return AgentMemError(f"Redis error during {what}: {message}")
    raise TypeError(f"not a Redis error: {exc!r}")  # pragma: no cover - programming error


@contextmanager
def translating(what: str) -> Iterator[None]:
    """Re-raise redis-py and socket errors inside the block as agentmem errors."""
    try:
        yield
    except AgentMemError:
        raise
    except (TimeoutError, rx.RedisError, rx.RedisClusterException, OSError) as exc:
        raise translate(exc, what) from exc
