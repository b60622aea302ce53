"""The one tokenizer and BM25 rule: properties every backend's search relies on."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentmem.testing.strategies import hostile_texts
from agentmem.text import (
    MAX_QUERY_TERMS,
    MAX_TOKEN_LENGTH,
    STOP_WORDS,
    bm25,
    document_terms,
    idf,
    query_terms,
    stem,
    tokenize,
)

WORD_CHAR = re.compile(r"\w")


# -- tokenizer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Retry the HTTP Call", ["retry", "the", "http", "call"]),
        ("STRASSE Straße", ["strasse", "strasse"]),  # casefold, not lower()
        ("ΣΊΣΥΦΟΣ σίσυφος", ["σίσυφοσ", "σίσυφοσ"]),  # final sigma folds too
        # NFKC: the "fi" ligature and full-width letters
        ("\ufb01le \uff26\uff29\uff2c\uff25", ["file", "file"]),
        ("① ²", ["1", "2"]),  # NFKC compatibility digits
        ("cafe\u0301 café", ["café", "café"]),  # combining accent composes
    ],
)
def test_case_folding_and_nfkc(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Привет, мир!", ["привет", "мир"]),
        ("日本語のテキスト", ["日本語のテキスト"]),  # no spaces: one run of word characters
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # marks stay inside the word
        ("שלום עולם", ["שלום", "עולם"]),
        ("ภาษาไทย ง่าย", ["ภาษาไทย", "ง่าย"]),  # Thai vowel and tone marks
        ("שָׁלוֹם", ["שָׁלוֹם"]),  # Hebrew points
        ("deploy 🚀 now", ["deploy", "now"]),  # emoji are not word characters
    ],
)
def test_unicode_scripts(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("retry_count=3", ["retry_count", "3"]),
        ("_private __dunder__", ["_private", "__dunder__"]),
        ("a-b a.b a/b a:b", ["a", "b", "a", "b", "a", "b", "a", "b"]),
        ("don't", ["don", "t"]),
        ("", []),
        ("  \t\n ", []),
        ("!!! ??? ...", []),
    ],
)
def test_underscores_join_and_punctuation_splits(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_long_tokens_are_cut_to_max_token_length() -> None:
    long_word = "x" * (MAX_TOKEN_LENGTH * 3)
    assert tokenize(f"short {long_word} tail") == ["short", "x" * MAX_TOKEN_LENGTH, "tail"]
    exact = "y" * MAX_TOKEN_LENGTH
    assert tokenize(exact) == [exact]
    # Two words that differ only after the cut index the same term.
    assert tokenize("a" * 70 + "b") == tokenize("a" * 70 + "c")


def test_query_terms_dedupe_in_first_seen_order() -> None:
    assert query_terms("b x B c x X b") == ["b", "x", "c"]
    assert query_terms("") == []
    assert query_terms("*** ((") == []


def test_query_terms_are_capped() -> None:
    words = [f"w{i}" for i in range(MAX_QUERY_TERMS + 10)]
    assert query_terms(" ".join(words)) == words[:MAX_QUERY_TERMS]
    # Repeats do not use up the cap.
    assert query_terms(" ".join(["w0"] * 100 + words)) == words[:MAX_QUERY_TERMS]


def test_document_terms_count_text_and_tags() -> None:
    terms = document_terms("retry the call, retry later", ["Network", "retry-policy"])
    assert terms == Counter(
        {"retry": 3, "retri": 3, "the": 1, "call": 1, "later": 1, "network": 1, "policy": 1}
        | {"polici": 1}
    )


def test_stems_join_forms_of_a_word_and_stop_words_leave_queries() -> None:
    assert "deploy" in document_terms("Deploying the web app")
    assert query_terms("When did they deploy it?") == ["deploy"]
    assert query_terms("the deployed app") == ["deployed", "deploy", "app"]
    # A query of nothing but stop words keeps them, so it still finds something.
    assert query_terms("to be or to have") == ["to", "be", "or", "have"]
    assert stem("running") == "run" and stem("run") is None and stem("日本語") is None


def is_word_char(ch: str) -> bool:
    """Letters, digits and ``_`` (Python's ``\\w``) or a combining mark."""
    return bool(WORD_CHAR.fullmatch(ch)) or unicodedata.category(ch).startswith("M")


@given(text=st.text() | hostile_texts)
def test_tokenize_never_raises_and_yields_word_runs(text: str) -> None:
    tokens = tokenize(text)
    for token in tokens:
        assert 1 <= len(token) <= MAX_TOKEN_LENGTH
        assert all(is_word_char(ch) for ch in token)
    # Nothing but separators is dropped: every word character of the folded text is in
    # some token (unless a token was cut at the maximum length).
    folded = unicodedata.normalize("NFKC", text).casefold()
    if all(len(token) < MAX_TOKEN_LENGTH for token in tokens):
        assert sum(map(len, tokens)) == sum(map(is_word_char, folded))


@given(text=st.text() | hostile_texts)
def test_query_terms_are_distinct_tokens_in_order(text: str) -> None:
    terms = query_terms(text)
    tokens = list(dict.fromkeys(tokenize(text)))
    assert len(terms) == len(set(terms)) <= MAX_QUERY_TERMS
    content = [t for t in tokens if t not in STOP_WORDS] or tokens
    expected: list[str] = []
    for token in content:
        expected += [token] if stem(token) is None else [token, str(stem(token))]
    assert terms == list(dict.fromkeys(expected))[:MAX_QUERY_TERMS]


@given(text=st.text(), tags=st.lists(st.text(max_size=20), max_size=5))
def test_document_terms_are_the_tokens_of_text_and_tags(text: str, tags: list[str]) -> None:
    expected: Counter[str] = Counter()
    for source in (text, *tags):
        for token in tokenize(source):
            expected.update([token] if stem(token) is None else [token, str(stem(token))])
    assert document_terms(text, tags) == expected


@given(text=st.text(st.characters(codec="ascii")))
def test_ascii_case_never_matters(text: str) -> None:
    assert tokenize(text.upper()) == tokenize(text.lower()) == tokenize(text)


# -- BM25 ------------------------------------------------------------------------------

corpus_sizes = st.integers(min_value=1, max_value=1_000_000)


@given(n_docs=corpus_sizes, data=st.data())
def test_idf_is_positive_and_falls_as_the_term_gets_commoner(
    n_docs: int, data: st.DataObject
) -> None:
    rare = data.draw(st.integers(0, n_docs - 1))
    common = data.draw(st.integers(rare + 1, n_docs))
    assert idf(n_docs, common) > 0
    assert idf(n_docs, rare) > idf(n_docs, common)


def test_idf_of_a_term_in_every_document_is_still_positive() -> None:
    for n_docs in (1, 2, 10, 10**9):
        assert idf(n_docs, n_docs) > 0


def score(tf: int, *, doc_len: int = 50, n_docs: int = 100, doc_freq: int = 10) -> float:
    return bm25(
        ["x"],
        {"x": tf} if tf else {},
        doc_len=doc_len,
        avg_len=40.0,
        n_docs=n_docs,
        doc_freqs={"x": doc_freq},
    )


@given(tf=st.integers(1, 1000), more=st.integers(1, 1000), doc_len=st.integers(1, 5000))
def test_more_occurrences_score_higher(tf: int, more: int, doc_len: int) -> None:
    length = max(doc_len, tf + more)
    assert score(tf + more, doc_len=length) > score(tf, doc_len=length) > 0


@given(
    tf=st.integers(1, 100),
    n_docs=st.integers(2, 10_000),
    data=st.data(),
)
def test_rarer_term_scores_higher(tf: int, n_docs: int, data: st.DataObject) -> None:
    rare = data.draw(st.integers(1, n_docs - 1))
    common = data.draw(st.integers(rare + 1, n_docs))
    assert score(tf, n_docs=n_docs, doc_freq=rare) > score(tf, n_docs=n_docs, doc_freq=common)


@given(tf=st.integers(1, 100), short=st.integers(1, 1000), extra=st.integers(1, 1000))
def test_shorter_document_scores_higher_for_the_same_tf(tf: int, short: int, extra: int) -> None:
    short = max(short, tf)
    assert score(tf, doc_len=short) > score(tf, doc_len=short + extra)


def test_absent_terms_score_zero_and_matching_terms_add_up() -> None:
    doc = {"retry": 2, "call": 1}

    def rank(*terms: str) -> float:
        return bm25(
            terms, doc, doc_len=3, avg_len=3.0, n_docs=10, doc_freqs={"retry": 2, "call": 5}
        )

    assert rank("missing") == 0.0
    assert rank() == 0.0
    assert math.isclose(rank("retry", "call"), rank("retry") + rank("call"))


def test_empty_corpus_average_length_does_not_divide_by_zero() -> None:
    value = bm25(["x"], {"x": 1}, doc_len=0, avg_len=0.0, n_docs=1, doc_freqs={"x": 1})
    assert value > 0
    assert math.isfinite(value)
