"""``sqlite://`` URLs and store options.

``sqlite:///abs/path.db`` names an absolute path and ``sqlite://rel/path.db`` a path
relative to the working directory at open time: the path is the text after
``sqlite://``, percent-decoded. Options come as query parameters
(``sqlite:///var/lib/agent.db?busy_timeout=30&sweep_interval=10``) or as keyword
arguments of the opener; giving one both ways is an error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from agentmem import ConfigurationError
from agentmem.flags import parse_flag

__all__ = ["SQLiteOptions", "parse_url"]

_SCHEME: Final = "sqlite://"
_SYNCHRONOUS: Final = ("off", "normal", "full", "extra")


@dataclass(frozen=True, slots=True)
class SQLiteOptions:
    """Tunables of a SQLite store (all have defaults)."""

    busy_timeout: float = 10.0
    """Seconds a call may wait for another connection's lock before BackendUnavailable."""
    sweep_interval: float = 60.0
    """Seconds between background sweeps of expired records; 0 disables the task."""
    retention: int = 10_000
    """How many change-log entries are kept for watch() to replay (at least this many)."""
    poll_interval: float = 0.025
    """Seconds between polls of the change log while a watcher waits."""
    synchronous: str = "full"
    """SQLite ``PRAGMA synchronous``: full survives power loss, normal only a crash."""
    vector_cache: bool = True
    """Keep a copy of searched collections' vectors in this process (needs numpy)."""


def _positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError(f"sqlite option {name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise ConfigurationError(
            f"sqlite option {name} must be a finite number >= 0, got {value!r}"
        )
    if number == 0 and not allow_zero:
        raise ConfigurationError(f"sqlite option {name} must be greater than 0, got {value!r}")
    return number


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(f"sqlite option {name} must be an integer, got {value!r}")
    try:
        number = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        number = None
    if number is None or number < 1:
        raise ConfigurationError(f"sqlite option {name} must be an integer >= 1, got {value!r}")
    return number


def _boolean(name: str, value: object) -> bool:
    try:
        return parse_flag(value)
    except ValueError:
        raise ConfigurationError(
            f"sqlite option {name} must be true or false, got {value!r}"
        ) from None


def _synchronous(name: str, value: object) -> str:
    if not isinstance(value, str) or value.lower() not in _SYNCHRONOUS:
        raise ConfigurationError(
            f"sqlite option {name} must be one of {', '.join(_SYNCHRONOUS)}, got {value!r}"
        )
    return value.lower()


_PARSERS: Final[dict[str, Callable[[str, object], object]]] = {
    "busy_timeout": _positive_float,
    "sweep_interval": lambda name, value: _positive_float(name, value, allow_zero=True),
    "retention": _positive_int,
    "poll_interval": _positive_float,
    "synchronous": _synchronous,
    "vector_cache": _boolean,
}


def parse_url(url: str, overrides: Mapping[str, Any]) -> tuple[str, SQLiteOptions]:
    """The absolute file path and the options a ``sqlite://`` URL (plus keywords) names."""
    if not isinstance(url, str) or not url.lower().startswith(_SCHEME):
        raise ConfigurationError(f"not a sqlite URL: {url!r} (write sqlite:///abs/path.db)")
    rest = url[len(_SCHEME) :]
    if "#" in rest:
        raise ConfigurationError(f"sqlite URL {url!r} has a fragment ('#'); percent-encode it")
    raw_path, _, query = rest.partition("?")
    path = unquote(raw_path)
    if not path:
        raise ConfigurationError(
            f"sqlite URL {url!r} names no file: write sqlite:///abs/path.db or "
            "sqlite://relative/path.db"
        )
    if path == ":memory:" or path.startswith("file:") or "\x00" in path:
        raise ConfigurationError(
            f"sqlite URL {url!r} must name a file on disk (use memory:// for an in-process store)"
        )
    values: dict[str, object] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigurationError(f"sqlite URL {url!r} has a malformed query: {exc}") from None
    for name, value in pairs:
        if name in values:
            raise ConfigurationError(f"sqlite URL {url!r} gives option {name!r} twice")
        values[name] = value
    for name, value in overrides.items():
        if name in values:
            raise ConfigurationError(
                f"sqlite option {name!r} given both in the URL and as a keyword; give it once"
            )
        values[name] = value
    known = {f.name for f in fields(SQLiteOptions)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown sqlite option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    parsed = {name: _PARSERS[name](name, value) for name, value in values.items()}
    return os.path.abspath(path), SQLiteOptions(**parsed)  # type: ignore[arg-type]
