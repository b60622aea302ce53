"""The one tokenizer and scoring rule every backend's search agrees with.

Tokens: the text is NFKC-normalized and case-folded, then split into runs of word
characters (Python's unicode-aware ``\\w``: letters, digits, marks and ``_`` in any
script). Tokens longer than :data:`MAX_TOKEN_LENGTH` are cut to that length. There are no
stop words and no stemming, so every backend can reproduce the same terms exactly.

Matching: a record matches a query when its indexed terms (the tokens of its ``text``
and of each tag) share at least one term with the query's tokens.

Scoring: Okapi BM25 with ``k1 = 1.2`` and ``b = 0.75``, summed over the distinct query
terms; ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` (always positive), where ``N`` is the
number of live records of that kind in that namespace and ``n`` how many contain the term.
Backends may compute ``N``, ``n`` and the average length from their own index, so scores
can differ slightly between backends; which records match, never.

>>> tokenize("Retry the HTTP call; retry_count=3")
['retry', 'the', 'http', 'call', 'retry_count', '3']
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = [
    "K1",
    "MAX_QUERY_TERMS",
    "MAX_TOKEN_LENGTH",
    "B",
    "bm25",
    "document_terms",
    "idf",
    "query_terms",
    "tokenize",
]

K1: Final = 1.2
B: Final = 0.75
MAX_TOKEN_LENGTH: Final = 64
MAX_QUERY_TERMS: Final = 32
_WORD: Final = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Split text into case-folded word tokens, in order, with repeats."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [token[:MAX_TOKEN_LENGTH] for token in _WORD.findall(folded)]


def document_terms(text: str, tags: Iterable[str] = ()) -> Counter[str]:
    """Term frequencies of what a record is indexed under: its text and its tags."""
    terms = Counter(tokenize(text))
    for tag in tags:
        terms.update(tokenize(tag))
    return terms


def query_terms(text: str) -> list[str]:
    """The distinct tokens of a query, in first-seen order, at most :data:`MAX_QUERY_TERMS`."""
    return list(dict.fromkeys(tokenize(text)))[:MAX_QUERY_TERMS]


def idf(n_docs: int, doc_freq: int) -> float:
    """Inverse document frequency of a term found in ``doc_freq`` of ``n_docs`` records."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25(
    terms: Iterable[str],
    doc: Mapping[str, int],
    *,
    doc_len: int,
    avg_len: float,
    n_docs: int,
    doc_freqs: Mapping[str, int],
) -> float:
    """BM25 score of one document for the given (distinct) query terms."""
    norm = K1 * (1.0 - B + B * doc_len / avg_len) if avg_len > 0 else K1
    score = 0.0
    for term in terms:
        tf = doc.get(term, 0)
        if tf:
            score += idf(n_docs, doc_freqs.get(term, 1)) * tf * (K1 + 1.0) / (tf + norm)
    return score
