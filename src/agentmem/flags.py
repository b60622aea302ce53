"""The on/off words every URL option and keyword argument accepts."""

from __future__ import annotations

__all__ = ["parse_flag"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_flag(value: object) -> bool:
    """A bool as given, or one of 1/true/yes/on and 0/false/no/off (any case) as a bool;
    ValueError for anything else (callers name the option in their error).

    >>> parse_flag("On"), parse_flag(False)
    (True, False)
    """
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a flag: {value!r}")
