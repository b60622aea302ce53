"""Printing results: JSON for scripts, warnings on stderr, a flush per streamed line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from agentmem.store import Record

__all__ = ["print_json", "record_summary", "warn"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(data: Any, *, flush: bool = False) -> None:
    """One JSON document on one line of stdout."""
    print(json.dumps(data, default=_default, ensure_ascii=False), flush=flush)


def warn(message: str) -> None:
    """A warning line on stderr (never on stdout, which may be a script's input)."""
    print(f"agentmem: warning: {message}", file=sys.stderr)


def record_summary(record: Record) -> dict[str, Any]:
    """What scripts usually need of a record (its address, version, text, tags, times)."""
    return {
        "kind": record.ref.kind,
        "namespace": record.ref.namespace,
        "id": record.ref.id,
        "version": record.version,
        "text": record.text,
        "tags": sorted(record.tags),
        "updated_at": record.updated_at,
        "expires_at": record.expires_at,
    }
