"""The journal's name: one stable identity of the primary, and migration from old names.

A failover store keeps its outbox and bookkeeping in the fallback under a *journal*
namespace. The name must not depend on whether the primary answered at open (an opened
store reports a normalised URL, a deferred one the URL as given) nor hold a secret, or
an agent restarted in the other state never reads its old outbox. :func:`journal_name`
derives it from the primary URL *as configured*, reduced to what names the data: scheme,
hosts, path and data-selecting query parameters (``prefix=...``), sorted; credentials
and client-side tuning (timeouts, pool sizes, TLS files) are dropped.

Earlier releases named the journal ``failover <url>`` with the URL as the store reported
it (password-in-query in clear, query dropped when opened). :func:`migrate_journals`
moves whatever such names hold into the current one, once, at start and on recovery.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agentmem.routing.epoch import META_KIND
from agentmem.routing.outbox import OUTBOX_KIND
from agentmem.routing.redact import is_secret_param, redact_url
from agentmem.store import MemoryStore, Record, Ref

__all__ = ["journal_name", "legacy_journal_names", "migrate_journals", "store_identity"]

log = logging.getLogger("agentmem.routing")

_MAX: Final = 256
_PAGE: Final = 500
_TUNING_SUFFIXES: Final = ("_timeout", "_interval")
_TUNING: Final = frozenset(
    {"max_connections", "client_name", "warn_persistence", "username", "user", "retention"}
)
_META_IDS: Final = ("primary_epoch", "collections")
_REDIS_SCHEMES: Final = frozenset({"redis", "rediss", "redis+cluster", "rediss+cluster"})


def _identity_param(name: str) -> bool:
    lowered = name.lower()
    return not (
        is_secret_param(lowered)
        or lowered in _TUNING
        or lowered.startswith("ssl_")
        or lowered.endswith(_TUNING_SUFFIXES)
        or lowered.endswith("_budget")
    )


def store_identity(url: str) -> str:
    """The secret-free identity of a store URL (same for every spelling of its options).

    Redis defaults are spelled out, so ``redis://host``, ``redis://host:6379`` and
    ``redis://host:6379/0`` are one store.

    >>> store_identity("REDIS://:pw@Host:6379/0?socket_timeout=1&prefix=app&password=x")
    'redis://host:6379/0?prefix=app'
    >>> store_identity("redis://host") == store_identity("redis://host:6379/0/")
    True
    """
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return redact_url(url)
    hosts = parts.netloc.rpartition("@")[2].lower()
    query = urlencode(
        sorted((k, store_identity(v) if "://" in v else v) for k, v in pairs if _identity_param(k))
    )
    path = parts.path.rstrip("/")
    scheme = parts.scheme.lower()
    if scheme in _REDIS_SCHEMES:
        hosts = ",".join(_with_port(host) for host in hosts.split(","))
        if scheme in ("redis", "rediss") and not path:
            path = "/0"  # the database a URL without one selects
    return urlunsplit((scheme, hosts, path, query, ""))


def _with_port(host: str) -> str:
    # "[::1]" or "h" gain the default port; "[::1]:6380" and "h:6380" keep theirs.
    if host.endswith("]") or ":" not in host:
        return f"{host}:6379" if host else host
    return host


def journal_name(url: str) -> str:
    """The journal namespace of a failover store over the primary ``url``."""
    name = f"failover {store_identity(url)}"
    if len(name) <= _MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: _MAX - 18]} #{digest}"


def _old_mask(url: str) -> str:
    # The masking of releases before 0.x: userinfo password only (kept to find old names).
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def legacy_journal_names(url: str) -> list[str]:
    """Names earlier releases may have used for the journal of the primary ``url``."""
    names = [f"failover {url}"[:_MAX]]
    # A URL urlsplit refuses made the old code fail before naming anything.
    with contextlib.suppress(ValueError):
        names.append(f"failover {_old_mask(url)}"[:_MAX])
    return list(dict.fromkeys(names))


async def _scan_all(store: MemoryStore, kind: str, namespace: str) -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = await store.scan(kind, namespace, limit=_PAGE, cursor=cursor)
        records.extend(page.records)
        if page.cursor is None:
            return records
        cursor = page.cursor


async def migrate_journals(fallback: MemoryStore, target: str, old: Iterable[str]) -> int:
    """Move outbox entries and bookkeeping from the ``old`` journal names into ``target``.

    Entries keep their ids (so their journal order); copy first, delete after, so a crash
    in between only leaves duplicates, which replay handles (it is idempotent). Returns
    how many outbox entries moved.
    """
    moved = 0
    for name in dict.fromkeys(old):
        if name == target:
            continue
        entries = await _scan_all(fallback, OUTBOX_KIND, name)
        metas = await fallback.get_many([Ref(META_KIND, name, i) for i in _META_IDS])
        if not entries and not any(metas):
            continue
        if entries:
            await fallback.put_many(
                [Record(ref=Ref(OUTBOX_KIND, target, e.ref.id), body=e.body) for e in entries]
            )
        await _merge_meta(fallback, target, metas)
        await fallback.delete_many([e.ref for e in entries])
        await fallback.delete_many([m.ref for m in metas if m is not None])
        moved += len(entries)
        log.warning(
            "moved %d outbox entries from the old journal %r to %r",
            len(entries),
            redact_url(name.removeprefix("failover ")),
            target,
        )
    return moved


async def _merge_meta(fallback: MemoryStore, target: str, metas: list[Record | None]) -> None:
    old_epoch, old_collections = metas
    seen_ref = Ref(META_KIND, target, "primary_epoch")
    if old_epoch is not None and await fallback.get(seen_ref) is None:
        await fallback.put(Record(ref=seen_ref, body=dict(old_epoch.body)))
    if old_collections is not None:
        ref = Ref(META_KIND, target, "collections")
        current = await fallback.get(ref)
        pairs = {
            (str(p[0]), str(p[1]))
            for source in (old_collections, current)
            if source is not None
            for p in source.body.get("pairs", [])
            if isinstance(p, list) and len(p) == 2
        }
        await fallback.put(Record(ref=ref, body={"pairs": sorted(map(list, pairs))}))
