"""A searching client's copy of a collection's vectors, kept in step with the vec hashes.

Every script that changes a vec hash numbers the change in the bucket's ``vecv`` hash
(``n``, ``t``, ``floor``, ``g``) and logs the id in ``vecm`` (see common.lua). Before a search,
:meth:`CachedVectors.catch_up` compares the ``vecv`` it read in the search's first round
trip with what it saw last time, per bucket: unchanged, nothing to fetch; moved forward
with the log still covering the gap and the same server process generation ``g``, it
fetches only the changed ids' codes; otherwise (first search, trimmed log, a server that
came back empty or in the past) it reloads the bucket's vec hash in HSCAN pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agentmem.vector_index import VectorIndex
from agentmem_redis.errors import translate
from agentmem_redis.link import RedisLink

__all__ = [
    "VERSION_FIELDS",
    "BucketKeys",
    "CachedVectors",
    "Seen",
    "parse_versions",
    "scan_hashes",
]

_PAGE: Final = 2000
"""Entries one HSCAN or HMGET asks for: bounds each reply and server pause."""

Seen = tuple[int, bytes, bytes]
"""(n, t, g) of a bucket's vecv hash as last read."""


@dataclass(frozen=True)
class BucketKeys:
    """The vec hash and change log of one collection in one bucket."""

    vectors: str
    log: str


VERSION_FIELDS: Final = ("n", "t", "floor", "g")
"""What a search reads of each bucket's vecv hash (``HMGET vecv *VERSION_FIELDS``)."""


def parse_versions(reply: Sequence[Any]) -> tuple[Seen, int]:
    """The ``HMGET`` of :data:`VERSION_FIELDS` -> ((n, t, g), floor); a missing hash
    reads ((0, b'', b''), 0)."""
    n, t, floor, g = reply
    return (int(n or 0), bytes(t or b""), bytes(g or b"")), int(floor or 0)


@dataclass
class CachedVectors:
    """One collection's vectors as held by this client, by record id."""

    index: VectorIndex[str] = field(default_factory=VectorIndex)
    seen: dict[int, Seen] = field(default_factory=dict)
    members: dict[int, set[str]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def catch_up(
        self,
        link: RedisLink,
        keys: dict[int, BucketKeys],
        versions: dict[int, tuple[Seen, int]],
    ) -> None:
        """Bring the copy up to the ``versions`` read (call with ``lock`` held)."""
        reload: list[int] = []
        forward: list[int] = []
        for bucket, (now, floor) in versions.items():
            before = self.seen.get(bucket)
            if before == now:
                continue
            if before is None or now[2] != before[2] or now[0] <= before[0] or floor > before[0]:
                reload.append(bucket)
            else:
                forward.append(bucket)
        if forward:
            await self._fetch_changed(link, keys, forward)
        if reload:
            await self._reload(link, keys, reload)
        for bucket in forward + reload:
            self.seen[bucket] = versions[bucket][0]

    async def _fetch_changed(
        self, link: RedisLink, keys: dict[int, BucketKeys], buckets: list[int]
    ) -> None:
        logs = await link.pipeline(
            "nearest",
            [["ZRANGEBYSCORE", keys[b].log, f"({self.seen[b][0]}", "+inf"] for b in buckets],
        )
        fetch: list[tuple[int, list[bytes]]] = []
        for bucket, reply in zip(buckets, logs, strict=True):
            if isinstance(reply, BaseException):
                raise translate(reply, "nearest")
            ids = [bytes(i) for i in reply]
            fetch += [(bucket, ids[i : i + _PAGE]) for i in range(0, len(ids), _PAGE)]
        values = await link.pipeline(
            "nearest", [["HMGET", keys[b].vectors, *chunk] for b, chunk in fetch]
        )
        for (bucket, chunk), got in zip(fetch, values, strict=True):
            if isinstance(got, BaseException):
                raise translate(got, "nearest")
            members = self.members.setdefault(bucket, set())
            for raw, codes in zip(chunk, got, strict=True):
                rid = raw.decode("utf-8")
                if codes is None:
                    self.index.remove(rid)
                    members.discard(rid)
                else:
                    self.index.put(rid, bytes(codes))
                    members.add(rid)

    async def _reload(
        self, link: RedisLink, keys: dict[int, BucketKeys], buckets: list[int]
    ) -> None:
        loaded = await scan_hashes(link, {b: keys[b].vectors for b in buckets}, _PAGE)
        for bucket, entries in loaded.items():
            for rid in self.members.get(bucket, set()) - entries.keys():
                self.index.remove(rid)
            self.index.put_many(entries.items())
            self.members[bucket] = set(entries)


async def scan_hashes(
    link: RedisLink, hashes: dict[int, str], page: int
) -> dict[int, dict[str, bytes]]:
    """Every (id, codes) entry of each bucket's vec hash, read in HSCAN pages of ``page``
    entries, every bucket's page in one pipelined round trip."""
    loaded: dict[int, dict[str, bytes]] = {b: {} for b in hashes}
    cursors: dict[int, Any] = dict.fromkeys(hashes, 0)
    while cursors:
        pages = await link.pipeline(
            "nearest", [["HSCAN", hashes[b], c, "COUNT", page] for b, c in cursors.items()]
        )
        for bucket, reply in zip(list(cursors), pages, strict=True):
            if isinstance(reply, BaseException):
                raise translate(reply, "nearest")
            cursor, entries = reply
            # HSCAN may return an entry twice when the hash is resized between pages.
            loaded[bucket].update(
                (bytes(rid).decode("utf-8"), bytes(codes)) for rid, codes in entries.items()
            )
            cursors[bucket] = cursor
        cursors = {b: c for b, c in cursors.items() if int(c) != 0}
    return loaded
