"""Commutative updates: add to numbers, append to lists, keep a maximum.

An :class:`Increment` is a *delta*, not a state: applying two increments in either order
gives the same record, so increments made by many agents, or replayed from a failover
outbox after an outage, are never lost to a version race. Every backend applies one
atomically through :meth:`~agentmem.store.MemoryStore.increment`; this module holds the
one definition of what applying it means, so all backends agree.

Idempotency: an increment may carry an ``op_id``. A store remembers the op ids applied to
each record (beside the record, not in its body) for :data:`OP_TTL_SECONDS`, at most the
last :data:`OP_MEMORY` of them, and applies an increment whose op id it remembers only
once: a replay interrupted by a crash, or the replay of an increment whose first attempt
timed out but landed, can send the same delta again safely within those bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from agentmem.errors import InvalidInput
from agentmem.store import Record, Ref

__all__ = ["MAX_OP_ID_LENGTH", "OP_MEMORY", "OP_TTL_SECONDS", "Increment", "make_increment"]

OP_MEMORY: Final = 4096
"""How many applied op ids a store remembers per record at most (older ones are
forgotten). It must cover every increment of the record made between an increment's
first (timed-out) attempt and its replay, by all agents together."""
OP_TTL_SECONDS: Final = 24 * 3600
"""How long a store remembers an applied op id (within :data:`OP_MEMORY`)."""
MAX_OP_ID_LENGTH: Final = 128

Number = int | float


def _check_field(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"an increment's field names must be non-empty str, got {name!r}")
    return name


def _check_number(name: str, value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"add[{name!r}] must be an int or a float, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"add[{name!r}] must be finite, got {value!r}")
    return value


def _check_items(name: str, value: object) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInput(f"append[{name!r}] must be a list of items, got {value!r}")
    return tuple(value)


def _check_comparable(name: str, value: object) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str | datetime):
        raise InvalidInput(f"maximum[{name!r}] must be a number, a str or a datetime: {value!r}")
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise InvalidInput(f"maximum[{name!r}] must be timezone-aware, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Increment:
    """A validated delta for one record's body (build it with :func:`make_increment`)."""

    add: Mapping[str, Number] = field(default_factory=dict)
    append: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    maximum: Mapping[str, Any] = field(default_factory=dict)
    ttl: timedelta | None = None
    op_id: str | None = None

    def apply(self, ref: Ref, current: Record | None, now: datetime) -> Record:
        """The record after this delta (unstored: the caller sets version and times).

        A missing record is created with an empty body; a missing field starts at 0, an
        empty list or (for ``maximum``) the given value. A field of the wrong type raises
        :class:`~agentmem.errors.InvalidInput` and nothing changes.
        """
        body = dict(current.body) if current is not None else {}
        for name, amount in self.add.items():
            old = body.get(name, 0)
            if old is None:
                old = 0
            if isinstance(old, bool) or not isinstance(old, int | float):
                raise InvalidInput(f"cannot add to {ref} field {name!r}: it holds {old!r}")
            body[name] = old + amount
        for name, items in self.append.items():
            old = body.get(name)
            if old is None:
                old = []
            if not isinstance(old, list):
                raise InvalidInput(f"cannot append to {ref} field {name!r}: it holds {old!r}")
            body[name] = [*old, *items]
        for name, value in self.maximum.items():
            old = body.get(name)
            if old is None:
                body[name] = value
                continue
            try:
                body[name] = value if value > old else old
            except TypeError as exc:
                raise InvalidInput(
                    f"cannot keep the maximum of {ref} field {name!r}: {old!r} and {value!r} "
                    "do not compare"
                ) from exc
        if self.ttl is not None:
            expires_at: datetime | None = now + self.ttl
        else:
            expires_at = current.expires_at if current is not None else None
        return Record(
            ref=ref,
            body=body,
            text=current.text if current is not None else "",
            tags=current.tags if current is not None else frozenset(),
            embedding=current.embedding if current is not None else None,
            expires_at=expires_at,
        )

    def to_body(self) -> dict[str, Any]:
        """Plain data for a journal entry (see :meth:`from_body`)."""
        return {
            "add": dict(self.add),
            "append": {k: list(v) for k, v in self.append.items()},
            "maximum": dict(self.maximum),
            "ttl": None if self.ttl is None else self.ttl.total_seconds(),
            "op_id": self.op_id,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Increment:
        """Rebuild (and re-validate) an increment journalled by :meth:`to_body`."""
        ttl = body.get("ttl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
            raise InvalidInput(f"journalled ttl must be seconds, got {ttl!r}")
        return make_increment(
            add=body.get("add") or {},
            append=body.get("append") or {},
            maximum=body.get("maximum") or {},
            ttl=None if ttl is None else timedelta(seconds=ttl),
            op_id=body.get("op_id"),
        )


def make_increment(
    *,
    add: Mapping[str, Number] | None = None,
    append: Mapping[str, Sequence[Any]] | None = None,
    maximum: Mapping[str, Any] | None = None,
    ttl: timedelta | None = None,
    op_id: str | None = None,
) -> Increment:
    """Validate the arguments of :meth:`~agentmem.store.MemoryStore.increment`.

    >>> make_increment(add={"runs": 1}).apply(Ref("skill", "ns", "a"), None, _EPOCH).body
    {'runs': 1}
    """
    adds = {_check_field(k): _check_number(k, v) for k, v in (add or {}).items()}
    appends = {_check_field(k): _check_items(k, v) for k, v in (append or {}).items()}
    maxima = {_check_field(k): _check_comparable(k, v) for k, v in (maximum or {}).items()}
    if len(adds) + len(appends) + len(maxima) != len({*adds, *appends, *maxima}):
        raise InvalidInput("a field may appear in only one of add, append and maximum")
    if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
        raise InvalidInput(f"ttl must be a positive timedelta or None, got {ttl!r}")
    if op_id is not None and (not isinstance(op_id, str) or not 0 < len(op_id) <= MAX_OP_ID_LENGTH):
        raise InvalidInput(f"op_id must be None or a str of 1-{MAX_OP_ID_LENGTH} characters")
    return Increment(add=adds, append=appends, maximum=maxima, ttl=ttl, op_id=op_id)


_EPOCH: Final = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
