"""The few typed errors every agentmem store raises.

Only :class:`BackendUnavailable` is transient; it is the one error a
:class:`~agentmem.routing.FailoverStore` absorbs by switching to its fallback.
"""


class AgentMemError(Exception):
    """Base class of every error agentmem raises on purpose."""


class BackendUnavailable(AgentMemError):
    """The backend cannot be reached right now (refused, timed out, loading).

    Retrying later may succeed; a failover store answers from its fallback instead.
    """


class ConflictError(AgentMemError):
    """A compare-and-set found a different version than the caller expected."""

    def __init__(self, message: str, *, expected: int | None = None, actual: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class CorruptRecord(AgentMemError):
    """Stored bytes could not be decoded into a record (bad flag, truncated, bomb, bad HMAC)."""


class RecordTooLarge(AgentMemError):
    """A record is larger than the store's configured maximum size."""


class ConfigurationError(AgentMemError):
    """The store cannot be opened as configured: bad URL, wrong password, missing plugin."""


class StoreClosed(AgentMemError, RuntimeError):
    """A store or an :class:`~agentmem.memory.AgentMemory` was used after ``close()``.

    Also a :class:`RuntimeError`, which closed stores raised before, so existing
    ``except RuntimeError`` handlers keep working.
    """


class InvalidInput(AgentMemError, ValueError):
    """An argument is malformed: an empty or over-long id, a bad kind name, a naive datetime."""
