"""How a record's filterable fields are laid out in SQL columns.

Times are integer microseconds since 1970-01-01 UTC (exactly what the codec keeps, so
comparisons in SQL agree with comparisons of the decoded datetimes). Tags are a sorted
JSON array, filtered with ``json_each``. The full record always lives in the ``blob``
column, encoded by :class:`agentmem.Codec`; the other columns are derived from it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from agentmem import text as textmod

__all__ = [
    "document_tokens",
    "from_micros",
    "query_tokens",
    "tags_json",
    "term_token",
    "to_micros",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO: Final = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch."""
    return (value - _EPOCH) // _ONE_MICRO


def from_micros(value: int) -> datetime:
    """Inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=value)


def tags_json(tags: Iterable[str]) -> str:
    """Tags as a sorted JSON array (the ``tags`` column and the tag-filter parameter)."""
    return json.dumps(sorted(tags), ensure_ascii=False)


def term_token(scope: int, term: str) -> str:
    """The FTS5 token for ``term`` inside collection ``scope``.

    ``s<scope>x<hex of the term's UTF-8>`` is all ASCII letters and digits, so FTS5's
    ``ascii`` tokenizer keeps it whole and no user text can ever become query syntax
    (quotes, ``NEAR(``, ``-``, ``*``, ``col:`` and parentheses all end up hex digits).
    The scope prefix confines postings to one (kind, namespace), so a query reads only
    the postings of its own collection.
    """
    return f"s{scope}x{term.encode('utf-8').hex()}"


def document_tokens(scope: int, text: str, tags: Iterable[str]) -> tuple[str, int]:
    """The FTS5 document of a record (its tokens, repeated by frequency) and its length."""
    terms: Counter[str] = textmod.document_terms(text, tags)
    tokens = [term_token(scope, term) for term, tf in sorted(terms.items()) for _ in range(tf)]
    return " ".join(tokens), len(tokens)


def query_tokens(scope: int, text: str) -> dict[str, str]:
    """Query terms of ``text`` (see :func:`agentmem.text.query_terms`) keyed by token."""
    return {term_token(scope, term): term for term in textmod.query_terms(text)}
