"""Building the ``tiered://`` and ``failover://`` URLs (the opener parses them in plugin.py)."""

from __future__ import annotations

from urllib.parse import urlencode

__all__ = ["failover_url", "tiered_url"]


def tiered_url(fast: str, durable: str) -> str:
    """The ``tiered://`` URL of a TieredStore over the two URLs."""
    return "tiered://?" + urlencode({"fast": fast, "durable": durable})


def failover_url(primary: str, fallback: str, **settings: str | float) -> str:
    """The ``failover://`` URL of a FailoverStore; ``settings`` become query parameters."""
    query: dict[str, str | float] = {"primary": primary, "fallback": fallback, **settings}
    return "failover://?" + urlencode(query)
