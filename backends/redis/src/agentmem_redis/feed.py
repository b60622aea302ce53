"""The change feed: one Redis Stream per bucket, and cursors over them.

A cursor is the id of the last stream entry read, for example ``1718000000000-3``. With
several buckets (Redis Cluster) it is one id per bucket joined by commas. ``"0"`` (the
contract's ``WATCH_FROM_START``) means "before everything" for every bucket.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from agentmem import Change, InvalidInput, Ref

__all__ = ["EPOCH", "from_us", "join_cursor", "parse_entry", "split_cursor", "to_us"]

log = logging.getLogger("agentmem.redis")

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_STREAM_ID: Final = re.compile(r"\d{1,20}(-\d{1,20})?")


def to_us(value: datetime) -> int:
    """Microseconds since the epoch (exact)."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    """Inverse of :func:`to_us`, in UTC."""
    return EPOCH + timedelta(microseconds=value)


def split_cursor(cursor: str, buckets: int) -> list[str]:
    """One stream id per bucket from a cursor string; InvalidInput when malformed."""
    if not isinstance(cursor, str):
        raise InvalidInput(f"a Redis change cursor is a str, got {type(cursor).__name__}")
    if cursor in ("0", "0-0"):
        return ["0-0"] * buckets
    parts = cursor.split(",")
    if len(parts) != buckets or not all(_STREAM_ID.fullmatch(p) for p in parts):
        raise InvalidInput(f"not a change cursor of this store ({buckets} bucket(s)): {cursor!r}")
    return parts


def join_cursor(ids: Sequence[str]) -> str:
    """Inverse of :func:`split_cursor`."""
    return ",".join(ids)


def stream_id_key(stream_id: str) -> tuple[int, int]:
    """Sort key of a stream id."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def parse_entry(
    fields: Mapping[Any, Any] | Sequence[Any],
) -> tuple[Literal["put", "delete"], Ref, int, str, datetime] | None:
    """The change an entry describes, or None (logged) if it is not one of ours."""
    try:
        if isinstance(fields, Mapping):
            data = {_text(k): _text(v) for k, v in fields.items()}
        else:
            items = list(fields)
            data = {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}
        op = data["op"]
        if op not in ("put", "delete"):
            raise ValueError(f"op {op!r}")
        ref = Ref(data["k"], data["n"], data["i"])
        return (
            "put" if op == "put" else "delete",
            ref,
            int(data["v"]),
            data["o"],
            from_us(int(data["at"])),
        )
    except (KeyError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        log.warning("skipping a change-stream entry that is not agentmem's: %r (%s)", fields, exc)
        return None


def make_change(
    parsed: tuple[Literal["put", "delete"], Ref, int, str, datetime], cursor: str
) -> Change:
    """A :class:`Change` from a parsed entry and the cursor that resumes after it."""
    op, ref, version, origin, at = parsed
    return Change(op, ref, version, origin, at, cursor)
