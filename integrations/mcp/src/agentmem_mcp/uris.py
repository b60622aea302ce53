"""Record URIs: ``agentmem://{kind}/{namespace}/{id}``, each part percent-encoded.

Every byte outside the unreserved set is encoded (``/`` too), so a namespace such as
``shared/agent/mcp`` or an id such as ``../etc`` stays one path segment and decodes back
exactly. The encoding is canonical: :func:`record_uri` of a ref is the URI tools return,
resources list and ``resources/updated`` notifications carry.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from agentmem import InvalidInput, Ref

__all__ = ["SCHEME", "URI_TEMPLATE", "canonical_uri", "parse_record_uri", "record_uri"]

SCHEME = "agentmem"
URI_TEMPLATE = "agentmem://{kind}/{namespace}/{id}"
MAX_URI_LENGTH = 4096


def _part(value: str) -> str:
    return quote(value, safe="")


def record_uri(ref: Ref) -> str:
    """The canonical URI of a record."""
    return f"{SCHEME}://{_part(ref.kind)}/{_part(ref.namespace)}/{_part(ref.id)}"


def parse_record_uri(uri: str) -> Ref:
    """The ref a record URI names; :class:`~agentmem.InvalidInput` if it names none."""
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH:
        raise InvalidInput(f"a record URI is a str of at most {MAX_URI_LENGTH} characters")
    prefix = f"{SCHEME}://"
    if not uri.startswith(prefix):
        raise InvalidInput(f"not an agentmem record URI (expected {URI_TEMPLATE}): {uri[:200]!r}")
    parts = uri[len(prefix) :].split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(f"a record URI has exactly three parts, {URI_TEMPLATE}: {uri[:200]!r}")
    try:
        kind, namespace, record_id = (unquote(p, errors="strict") for p in parts)
    except UnicodeDecodeError:
        raise InvalidInput(f"a record URI must percent-encode UTF-8: {uri[:200]!r}") from None
    return Ref(kind, namespace, record_id)


def canonical_uri(uri: str) -> str:
    """``uri`` re-encoded canonically (so differently-escaped spellings compare equal)."""
    return record_uri(parse_record_uri(uri))
