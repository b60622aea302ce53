"""Exact, injective mapping of LangGraph namespaces and keys onto agentmem names.

A LangGraph namespace is a tuple of labels; agentmem addresses records by one namespace
string and one id. Each label is percent-escaped (``%``, the separator ``/``, ``#`` and
every character agentmem refuses in a name) and the labels are joined with ``/``, so two
different tuples never share a string: ``("tenant", "a")`` and ``("tenant", "A")`` stay
apart, and ``("a.b",)`` is not ``("a", "b")``. A name too long for agentmem becomes
``#`` + SHA-256 of its escaped form; ``#`` is always escaped inside names, so a hashed name
cannot equal an escaped one.
"""

from __future__ import annotations

import hashlib
import unicodedata

from agentmem.store import MAX_ID_LENGTH, MAX_NAMESPACE_LENGTH

__all__ = ["encode_key", "encode_namespace", "escape_label"]

_SEPARATOR = "/"
_ALWAYS = frozenset("%/#")


def _escape_char(ch: str) -> str:
    if ch in _ALWAYS or unicodedata.category(ch) in ("Cc", "Cs"):
        code = ord(ch)
        # Two hex digits cover every Cc and the ASCII specials; surrogates need four,
        # and their "%u" form cannot be read as a two-digit escape.
        return f"%{code:02X}" if code < 0x100 else f"%u{code:04X}"
    return ch


def escape_label(label: str) -> str:
    """Percent-escape one label so that it contains no separator and no refused character.

    >>> escape_label("a/b%c")
    'a%2Fb%25c'
    """
    return "".join(_escape_char(ch) for ch in label)


def _bounded(text: str, maximum: int) -> str:
    if len(text) <= maximum:
        return text
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encode_namespace(namespace: tuple[str, ...]) -> str:
    """The agentmem namespace string of a LangGraph namespace tuple (injective).

    >>> encode_namespace(("tenant", "a")) != encode_namespace(("tenant", "A"))
    True
    >>> encode_namespace(("a/b",)) != encode_namespace(("a", "b"))
    True
    """
    return _bounded(
        _SEPARATOR.join(escape_label(label) for label in namespace), MAX_NAMESPACE_LENGTH
    )


def encode_key(key: str) -> str:
    """The agentmem record id of a LangGraph key (injective; the empty key is ``%``)."""
    if key == "":
        # "%" alone is never produced by escaping (every escape has digits after it).
        return "%"
    return _bounded(escape_label(key), MAX_ID_LENGTH)
