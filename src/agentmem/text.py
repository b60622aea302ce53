"""The one tokenizer and scoring rule every backend's search agrees with.

Tokens: the text is NFKC-normalized and case-folded, then split into runs of word
characters (Python's unicode-aware ``\\w``: letters, digits and ``_`` in any script,
plus combining marks, which ``\\w`` alone would split words at). Tokens longer than
:data:`MAX_TOKEN_LENGTH` are cut to that length.

Terms: a record is indexed under its tokens and, for each English word (ASCII letters,
four or more), its Snowball (Porter 2) stem too, so "deploying" matches "deployed"
through "deploy" while an exact form still scores higher (it matches twice). A query's
terms are its distinct tokens without :data:`STOP_WORDS` (unless it has nothing else),
each followed by its stem. Every backend indexes and queries through these functions, so
they all reproduce the same terms; records indexed before stems existed still match
through their tokens.

Matching: a record matches a query when its indexed terms (from its ``text`` and each
tag) share at least one term with the query's terms.

Scoring: Okapi BM25 with ``k1 = 1.2`` and ``b = 0.75``, summed over the distinct query
terms; ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` (always positive), where ``N`` is the
number of live records of that kind in that namespace and ``n`` how many contain the term.
Backends may compute ``N``, ``n`` and the average length from their own index, so scores
can differ slightly between backends; which records match, never.

>>> tokenize("Retry the HTTP call; retry_count=3")
['retry', 'the', 'http', 'call', 'retry_count', '3']
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

import snowballstemmer  # type: ignore[import-untyped]

__all__ = [
    "K1",
    "MAX_QUERY_TERMS",
    "MAX_TOKEN_LENGTH",
    "STOP_WORDS",
    "B",
    "bm25",
    "document_terms",
    "idf",
    "query_terms",
    "stem",
    "tokenize",
]

K1: Final = 1.2
B: Final = 0.75
MAX_TOKEN_LENGTH: Final = 64
MAX_QUERY_TERMS: Final = 32
STOP_WORDS: Final = frozenset(
    {
        "a",
        "about",
        "after",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "she",
        "should",
        "so",
        "some",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
    }
)
"""Words left out of a query (when it has any other word): they match nearly every
record and only add noise to the ranking. Records are still indexed under them."""
_STEMMABLE = re.compile(r"[a-z]{4,}")
_stemmer = snowballstemmer.stemmer("english")


@functools.cache
def _word_pattern() -> re.Pattern[str]:
    # Python's \w leaves out combining marks (Mn, Mc, Me), which would cut words of
    # Devanagari, Thai, Hebrew with points... into pieces, so add them explicitly. Marks
    # only live below U+20000 and in U+E0000..U+E0FFF; scanning just those takes ~50 ms,
    # paid once on first use rather than at import.
    ranges: list[list[int]] = []
    for cp in itertools.chain(range(0x300, 0x20000), range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    marks = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)
    return re.compile(rf"[\w{marks}]+")


def tokenize(text: str) -> list[str]:
    """Split text into case-folded word tokens, in order, with repeats."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [token[:MAX_TOKEN_LENGTH] for token in _word_pattern().findall(folded)]


@functools.lru_cache(maxsize=65536)
def stem(token: str) -> str | None:
    """The English stem of a token, or None when it has none other than itself."""
    if not _STEMMABLE.fullmatch(token):
        return None
    stemmed: str = _stemmer.stemWord(token)
    return stemmed if stemmed and stemmed != token else None


def _with_stems(tokens: Iterable[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.append(token)
        stemmed = stem(token)
        if stemmed is not None:
            out.append(stemmed)
    return out


def document_terms(text: str, tags: Iterable[str] = ()) -> Counter[str]:
    """Term frequencies of what a record is indexed under: the tokens of its text and
    tags, and their stems."""
    terms = Counter(_with_stems(tokenize(text)))
    for tag in tags:
        terms.update(_with_stems(tokenize(tag)))
    return terms


def query_terms(text: str) -> list[str]:
    """The distinct terms of a query in first-seen order: its tokens less stop words (all
    of them when nothing else is left), each followed by its stem; at most
    :data:`MAX_QUERY_TERMS`."""
    tokens = list(dict.fromkeys(tokenize(text)))
    content = [t for t in tokens if t not in STOP_WORDS] or tokens
    return list(dict.fromkeys(_with_stems(content)))[:MAX_QUERY_TERMS]


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
