"""Hypothesis strategies for records, shipped for reuse by backend authors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from agentmem.store import Ref

__all__ = [
    "bodies",
    "hostile_texts",
    "naive_datetimes",
    "names",
    "plain_values",
    "refs",
    "utc_datetimes",
]

utc_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
"""Timezone-aware UTC datetimes (microsecond precision survives every backend)."""

naive_datetimes = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
"""Naive datetimes: allowed in bodies, where they come back naive."""

_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | utc_datetimes
    | naive_datetimes
)

plain_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
"""Any plain value a record body may hold."""

bodies: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.text(max_size=20), plain_values, max_size=8
)
"""Record bodies: str-keyed dicts of plain values."""

_no_controls = st.characters(exclude_categories=("Cc", "Cs"))
names = st.text(_no_controls, min_size=1, max_size=40)
"""Valid ids and namespaces, hostile ones included (``*``, ``:``, ``{``, ``%``, spaces...)."""

HOSTILE_SNIPPETS = [
    '"',
    "'",
    '"unbalanced',
    "NEAR(a b)",
    "NEAR(",
    "-",
    "-foo",
    "*",
    "foo*",
    "text:foo",
    "body:x OR 1=1",
    "((",
    ")",
    "a AND",
    "OR",
    "NOT x",
    "^start",
    "{x y}",
    "'; DROP TABLE records; --",
    "\\",
    "%",
    "\x00",
    "",
    "   ",
    "[a-z]*",
    "?",
]

hostile_texts = st.sampled_from(HOSTILE_SNIPPETS) | st.text(max_size=50)
"""Search strings that look like query syntax, injection or noise."""


def refs(kind: str = "episodic") -> st.SearchStrategy[Ref]:
    """Refs of one kind with arbitrary valid namespaces and ids."""
    return st.builds(Ref, st.just(kind), names, names)
