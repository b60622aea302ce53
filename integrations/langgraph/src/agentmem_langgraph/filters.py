"""Search filters (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``) and namespace
match conditions, with LangGraph's semantics.

Filters are evaluated in the client over the records a search reads, exactly as LangGraph's
InMemoryStore does, with one difference: an ordering operator on a missing or non-numeric
value is false (as in PostgreSQL's JSONB comparison) instead of raising ``TypeError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from langgraph.store.base import MatchCondition

__all__ = ["matches_condition", "matches_filter"]

_ORDERINGS = ("$gt", "$gte", "$lt", "$lte")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _apply(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in _ORDERINGS:
        left, right = _number(value), _number(operand)
        if left is None or right is None or math.isnan(left) or math.isnan(right):
            return False
        if operator == "$gt":
            return left > right
        if operator == "$gte":
            return left >= right
        if operator == "$lt":
            return left < right
        return left <= right
    raise ValueError(
        f"unsupported filter operator {operator!r} (use $eq, $ne, $gt, $gte, $lt, $lte)"
    )


def _compare(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            return all(_apply(value, op, operand) for op, operand in expected.items())
        if not isinstance(value, Mapping):
            return False
        return all(_compare(value.get(k), v) for k, v in expected.items())
    if isinstance(expected, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(expected)
            and all(_compare(v, e) for v, e in zip(value, expected, strict=True))
        )
    return bool(value == expected)


def matches_filter(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """True when an item's value satisfies every condition of ``filter``."""
    if not filter:
        return True
    return all(_compare(value.get(key), expected) for key, expected in filter.items())


def matches_condition(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """True when ``namespace`` has the condition's prefix or suffix (``*`` matches one label)."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"unsupported match type {condition.match_type!r}")
    return all(p == "*" or n == p for n, p in pairs)
