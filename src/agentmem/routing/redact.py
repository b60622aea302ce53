"""Keeping secrets out of URLs that are shown: logs, exceptions, ``store.url``, status.

A password can sit in a URL's userinfo (``redis://:pw@host``, ``redis://pw@host``) or in
its query (``?password=pw``), and routing URLs nest whole store URLs, percent-encoded, in
their query (``failover://?primary=redis%3A%2F%2F...``). :func:`redact_url` masks all of
them, recursively; :func:`redact_text` masks any URL found inside a message.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "SECRET_PARAMS", "is_secret_param", "redact_text", "redact_url"]

MASK: Final = "***"
SECRET_PARAMS: Final = frozenset(
    {"password", "passwd", "pwd", "pass", "secret", "token", "auth", "api_key", "apikey"}
)
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")


def is_secret_param(name: str) -> bool:
    """True for query parameter names that carry credentials."""
    lowered = name.lower()
    return lowered in SECRET_PARAMS or lowered.endswith(("_password", "_secret", "_token"))


def _redact_netloc(netloc: str) -> str:
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    # "redis://secret@host" is a password (redis-py reads it so): mask a lone userinfo too.
    return f"{user}:{MASK}@{hosts}" if colon else f"{MASK}@{hosts}"


def redact_url(url: object) -> str:
    """``url`` with every password masked (userinfo, secret query parameters, nested URLs).

    >>> redact_url("redis://:pw@h:6379/0?prefix=app&password=pw2")
    'redis://:***@h:6379/0?prefix=app&password=***'
    """
    if not isinstance(url, str):
        return f"<{type(url).__name__}>"
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return _crude(url)
    query = parts.query
    if pairs:
        cleaned = [
            (k, MASK if is_secret_param(k) else redact_url(v) if "://" in v else v)
            for k, v in pairs
        ]
        if cleaned != pairs:
            query = urlencode(cleaned, safe="*:/")
    netloc = _redact_netloc(parts.netloc)
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: keep the spelling (urlunsplit would drop "//")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _crude(url: str) -> str:
    # A URL urlsplit refuses: mask everything between "://" and "@", and secret params.
    text = re.sub(r"://[^/@?#]*@", f"://{MASK}@", url)
    return re.sub(
        r"(?i)\b(password|passwd|pwd|pass|secret|token|auth|api_?key)=[^&#\s]*", rf"\1={MASK}", text
    )


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (for exception messages and log lines)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
