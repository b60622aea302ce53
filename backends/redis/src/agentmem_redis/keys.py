"""The Redis key layout of agentmem-redis (an on-wire format: see docs/backends/redis.md).

Every key starts with the store prefix and carries the hash tag of one *bucket*. A
record and all its index entries share the record's bucket, so one Lua script can change
them together on a single node and on Redis Cluster alike. A single node uses one bucket;
a cluster spreads records over a fixed number of buckets by a hash of their address.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Final

from agentmem import ConfigurationError, Ref

__all__ = ["KeyLayout", "escape"]

# Characters that would end a key segment (":"), open or close a hash tag ("{", "}"),
# act as a SCAN/KEYS glob ("*", "?", "[", "]", "\\") or start an escape ("%").
_SPECIAL: Final = re.compile(r"[%:{}*?\[\]\\]")
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def escape(part: str) -> str:
    """Percent-escape the characters that have a meaning in keys, globs or hash tags.

    >>> escape("team:a{1}*")
    'team%3Aa%7B1%7D%2A'
    """
    return _SPECIAL.sub(lambda m: f"%{ord(m.group()):02X}", part)


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Builds every key name from the prefix and the bucket count."""

    prefix: str
    buckets: int

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.fullmatch(self.prefix):
            raise ConfigurationError(
                f"prefix must be 1-64 characters of [A-Za-z0-9_.-], got {self.prefix!r}"
            )
        if not isinstance(self.buckets, int) or not 1 <= self.buckets <= 16384:
            raise ConfigurationError(f"buckets must be an int in 1..16384, got {self.buckets!r}")

    @property
    def config_key(self) -> str:
        """Holds the layout parameters every client of this prefix must agree on."""
        return f"{self.prefix}:config"

    @property
    def vectors_marker_key(self) -> str:
        """Set once every record of the prefix has its vec hash entry (see vecfill.lua)."""
        return f"{self.prefix}:vectors"

    @property
    def vector_sets_marker_key(self) -> str:
        """Set once every vec hash entry of the prefix is in its vector set (Redis 8)."""
        return f"{self.prefix}:vsets"

    def vector_sets_flag_key(self, bucket: int) -> str:
        """Present when the write scripts mirror the bucket's vectors into vector sets."""
        return f"{self.base(bucket)}:vson"

    def vector_set_key(self, bucket: int, kind: str, namespace: str, dim: int) -> str:
        """The Redis 8 vector set of a collection's vectors of ``dim`` dimensions in a bucket."""
        return f"{self.base(bucket)}:vs:{self.collection(kind, namespace)}:{dim}"

    @property
    def channel(self) -> str:
        """The pub/sub channel a JSON notice is published on for every change."""
        return f"{self.prefix}:changes"

    def bucket_of(self, ref: Ref) -> int:
        """Which bucket a record lives in: crc32 of kind NUL namespace NUL id."""
        if self.buckets == 1:
            return 0
        raw = f"{ref.kind}\x00{ref.namespace}\x00{ref.id}".encode()
        return zlib.crc32(raw) % self.buckets

    def base(self, bucket: int) -> str:
        """``<prefix>:{<prefix>:<bucket>}``: the start of every key of a bucket."""
        return f"{self.prefix}:{{{self.prefix}:{bucket}}}"

    @staticmethod
    def collection(kind: str, namespace: str) -> str:
        """``<kind>:<escaped namespace>``: names one collection inside a bucket."""
        return f"{kind}:{escape(namespace)}"

    def record_key(self, ref: Ref) -> str:
        """The string key holding the codec-encoded record."""
        bucket = self.bucket_of(ref)
        return f"{self.base(bucket)}:r:{self.collection(ref.kind, ref.namespace)}:{escape(ref.id)}"

    def ids_key(self, bucket: int, kind: str, namespace: str) -> str:
        """The sorted set (all scores 0) of a collection's ids in a bucket, for lex order."""
        return f"{self.base(bucket)}:ids:{self.collection(kind, namespace)}"

    def vectors_key(self, bucket: int, kind: str, namespace: str) -> str:
        """The hash (id -> int8 embedding codes) of a collection's vectors in a bucket."""
        return f"{self.base(bucket)}:vec:{self.collection(kind, namespace)}"

    def vector_versions_key(self, bucket: int, kind: str, namespace: str) -> str:
        """The hash (n, t, floor) numbering changes to a collection's vec hash in a bucket."""
        return f"{self.base(bucket)}:vecv:{self.collection(kind, namespace)}"

    def vector_log_key(self, bucket: int, kind: str, namespace: str) -> str:
        """The sorted set (id -> number of its last change) of recent vec hash changes."""
        return f"{self.base(bucket)}:vecm:{self.collection(kind, namespace)}"

    def stream_key(self, bucket: int) -> str:
        """The bucket's change stream."""
        return f"{self.base(bucket)}:changes"
