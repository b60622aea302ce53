"""Store URLs as people read them: inner URLs decoded, every password masked.

``failover://?primary=redis%3A%2F%2F%3Asecret%40cache...`` is what the store reports; an
operator wants ``failover://?primary=redis://:***@cache:6379/0&fallback=sqlite:///m.db``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from agentmem.routing.deferred import mask_password

__all__ = ["display_url", "inner_urls"]

_ROUTING = ("failover", "tiered")


def inner_urls(url: str) -> list[tuple[str, str]]:
    """The (role, URL) pairs a routing URL's query names (empty for any other URL)."""
    parts = urlsplit(url)
    if parts.scheme not in _ROUTING:
        return []
    return [(key, value) for key, value in parse_qsl(parts.query) if "://" in value]


def display_url(url: str) -> str:
    """``url`` for printing: query values of routing URLs decoded (and shown the same way,
    recursively), percent-escapes in paths decoded, passwords replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.scheme in _ROUTING:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        shown = "&".join(
            f"{key}={display_url(value) if '://' in value else value}" for key, value in pairs
        )
        return f"{parts.scheme}://?{shown}"
    masked = mask_password(url)
    # Decode the path (a SQLite file with a space in its name), not the netloc: the masked
    # password and an IPv6 host stay as they are, and so does the query.
    prefix = f"{parts.scheme}://{urlsplit(masked).netloc}"
    if not masked.startswith(prefix):
        return masked
    path, sep, query = masked[len(prefix) :].partition("?")
    return prefix + unquote(path) + sep + query
