"""Bytes <-> Record: one flag byte, a msgpack body, zlib-ng above a size threshold.

Layout of an encoded value::

    byte 0      flag: high nibble = format version (1); bit 0 = zlib-ng compressed;
                bit 1 = HMAC-SHA256 signed; other bits must be zero
    bytes 1..   msgpack map (compressed when bit 0 is set)
    last 32     HMAC-SHA256 over byte 0 and the body, when bit 1 is set

Datetimes travel as msgpack extension type 1: a big-endian signed 64-bit count of
microseconds since 1970-01-01 UTC. Naive datetimes in a body (the earlier adapter stored
them, and its users still pass ``datetime.now()``) travel as extension type 2, the same
count from a naive 1970-01-01, and decode naive again: the wall-clock reading is kept,
never reinterpreted in some zone. Record fields (``expires_at``, ...) stay aware-only.
Nothing here ever unpickles: a shared Redis is untrusted input, so decoding is strict
and every failure is :class:`CorruptRecord`.

Encoding refuses what decoding would refuse, so an acknowledged write can always be read
back: a body that would decompress past ``max_decoded_size`` is :class:`RecordTooLarge`,
and msgpack extension values (``msgpack.ExtType``, ``msgpack.Timestamp``) in a body are
:class:`InvalidInput`. Only the codec itself writes extension types 1 and 2, from datetimes,
so a body cannot smuggle in bytes that read back as something else.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgpack
from zlib_ng import zlib_ng

from agentmem.errors import CorruptRecord, InvalidInput, RecordTooLarge
from agentmem.store import Record, Ref
from agentmem.vectors import Embedding

__all__ = ["DATETIME_EXT", "FORMAT_VERSION", "NAIVE_DATETIME_EXT", "Codec"]

FORMAT_VERSION: Final = 1
DATETIME_EXT: Final = 1
NAIVE_DATETIME_EXT: Final = 2
_COMPRESSED: Final = 0x01
_SIGNED: Final = 0x02
_KNOWN_BITS: Final = _COMPRESSED | _SIGNED
_MAC_SIZE: Final = 32
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_I64: Final = struct.Struct(">q")


def _default(obj: object) -> msgpack.ExtType:
    if isinstance(obj, datetime):
        if obj.tzinfo is None or obj.utcoffset() is None:
            naive = obj.replace(tzinfo=None)
            micros = (naive - _NAIVE_EPOCH) // timedelta(microseconds=1)
            return msgpack.ExtType(NAIVE_DATETIME_EXT, _I64.pack(micros))
        micros = (obj - _EPOCH) // timedelta(microseconds=1)
        return msgpack.ExtType(DATETIME_EXT, _I64.pack(micros))
    if isinstance(obj, (set, frozenset)):
        raise InvalidInput("sets are not plain data: store a sorted list instead")
    raise InvalidInput(f"{type(obj).__name__} is not plain data and cannot be stored")


def _ext_hook(code: int, data: bytes) -> datetime:
    if code not in (DATETIME_EXT, NAIVE_DATETIME_EXT) or len(data) != _I64.size:
        raise CorruptRecord(f"unknown msgpack extension type {code} ({len(data)} bytes)")
    epoch = _EPOCH if code == DATETIME_EXT else _NAIVE_EPOCH
    try:
        return epoch + timedelta(microseconds=_I64.unpack(data)[0])
    except OverflowError as exc:
        raise CorruptRecord("datetime out of range") from exc


def _check_keys(value: Any, depth: int = 0) -> None:
    # msgpack would happily pack int or tuple keys that no other backend or language can
    # read back as the same dict, so plain data means str keys only.
    if depth > 100:
        raise InvalidInput("record body is nested more than 100 levels deep")
    if isinstance(value, (msgpack.ExtType, msgpack.Timestamp)):
        # msgpack packs these natively (default= never sees them): an unknown code would
        # be unreadable, code 1 would read back as a datetime, a Timestamp as a datetime.
        raise InvalidInput(
            f"msgpack extension value {value!r:.80} is not plain data: store a datetime, "
            "bytes or a dict instead"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"dict keys must be str, got {type(key).__name__} {key!r}")
            _check_keys(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_keys(item, depth + 1)


def _dt(value: Any, what: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    raise CorruptRecord(f"{what} is {type(value).__name__}, expected a datetime")


def _embedding(value: Any) -> Embedding | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], float)
        or not isinstance(value[1], bytes)
    ):
        raise CorruptRecord("record embedding is malformed")
    return Embedding(value[1], value[0])


class Codec:
    """Encodes records (and plain values) to bytes and back.

        >>> from agentmem.store import Record, Ref
    from agentmem.vectors import Embedding
        >>> codec = Codec()
        >>> rec = Record(ref=Ref("skill", "shared", "s1"), body={"steps": [1, 2]})
        >>> codec.decode(codec.encode(rec)) == rec
        True

        ``compress_threshold``: bodies larger than this many packed bytes are compressed, and
        kept compressed only if that saves space. ``max_record_size`` caps the encoded size
        (:class:`RecordTooLarge`); ``max_decoded_size`` caps what decompression may produce
        (:class:`CorruptRecord`, against decompression bombs). With ``secret`` every record is
        signed, and records without a valid signature are refused on decode.
    """

    def __init__(
        self,
        *,
        compress_threshold: int = 1024,
        compression_level: int = 3,
        max_record_size: int = 8 * 1024 * 1024,
        max_decoded_size: int = 64 * 1024 * 1024,
        secret: bytes | None = None,
    ) -> None:
        if compress_threshold < 0 or max_record_size < 1 or max_decoded_size < 1:
            raise InvalidInput("codec sizes must be positive")
        if not -1 <= compression_level <= 9:
            raise InvalidInput(f"compression_level must be -1..9, got {compression_level}")
        if secret is not None and (not isinstance(secret, bytes) or len(secret) < 16):
            raise InvalidInput("secret must be bytes of at least 16 bytes")
        self.compress_threshold = compress_threshold
        self.compression_level = compression_level
        self.max_record_size = max_record_size
        self.max_decoded_size = max_decoded_size
        self._secret = secret

    # -- plain values -------------------------------------------------------------------

    def pack(self, value: Any) -> bytes:
        """Frame any plain value (flag byte, msgpack, optional compression and signature)."""
        _check_keys(value)
        try:
            body: bytes = msgpack.packb(value, default=_default, use_bin_type=True, datetime=False)
        except InvalidInput:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInput(f"value cannot be encoded: {exc}") from exc
        if len(body) > self.max_decoded_size:
            # Compression could make it small enough to store, but decode would refuse it.
            raise RecordTooLarge(
                f"packed size {len(body)} bytes exceeds max_decoded_size={self.max_decoded_size}"
            )
        flag = FORMAT_VERSION << 4
        if len(body) > self.compress_threshold:
            squeezed = zlib_ng.compress(body, self.compression_level)
            if len(squeezed) < len(body):
                body = squeezed
                flag |= _COMPRESSED
        if self._secret is not None:
            flag |= _SIGNED
        out = bytes((flag,)) + body
        if self._secret is not None:
            out += hmac.digest(self._secret, out, hashlib.sha256)
        if len(out) > self.max_record_size:
            raise RecordTooLarge(
                f"encoded size {len(out)} bytes exceeds max_record_size={self.max_record_size}"
            )
        return out

    def unpack(self, data: bytes) -> Any:
        """Inverse of :meth:`pack`; any malformed input raises :class:`CorruptRecord`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CorruptRecord(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < 2:
            raise CorruptRecord(f"record of {len(data)} bytes is truncated")
        flag = data[0]
        if flag >> 4 != FORMAT_VERSION or flag & 0x0F & ~_KNOWN_BITS:
            raise CorruptRecord(f"unknown format flag 0x{flag:02x}")
        if flag & _SIGNED:
            if len(data) < 1 + _MAC_SIZE + 1:
                raise CorruptRecord("signed record is truncated")
            signed, mac = data[:-_MAC_SIZE], data[-_MAC_SIZE:]
            if self._secret is not None and not hmac.compare_digest(
                mac, hmac.digest(self._secret, signed, hashlib.sha256)
            ):
                raise CorruptRecord("record signature does not match this store's secret")
            body = signed[1:]
        elif self._secret is not None:
            raise CorruptRecord("unsigned record refused: this store requires signatures")
        else:
            body = data[1:]
        if flag & _COMPRESSED:
            body = self._decompress(body)
        try:
            return msgpack.unpackb(
                body,
                raw=False,
                ext_hook=_ext_hook,
                strict_map_key=True,
                use_list=True,
                # msgpack's own timestamp (ext -1) bypasses ext_hook; without this it would
                # leak msgpack.Timestamp objects into bodies. Decode it as an aware UTC datetime.
                timestamp=3,
            )
        except CorruptRecord:
            raise
        except Exception as exc:  # msgpack raises a zoo of types on hostile input
            raise CorruptRecord(f"malformed msgpack body: {exc}") from exc

    def _decompress(self, body: bytes) -> bytes:
        inflater = zlib_ng.decompressobj()
        try:
            out = inflater.decompress(body, self.max_decoded_size + 1)
        except Exception as exc:  # zlib_ng.error is untyped; anything here means bad bytes
            raise CorruptRecord(f"bad compressed body: {exc}") from exc
        if len(out) > self.max_decoded_size or inflater.unconsumed_tail:
            raise CorruptRecord(f"body decompresses past max_decoded_size={self.max_decoded_size}")
        if not inflater.eof:
            raise CorruptRecord("compressed body is truncated")
        if inflater.unused_data:
            raise CorruptRecord("trailing bytes after the compressed body")
        return out

    # -- records ------------------------------------------------------------------------

    def encode(self, record: Record) -> bytes:
        """Encode a whole record (address, bookkeeping, text, tags and body)."""
        ref = record.ref
        fields: dict[str, Any] = {
            "k": ref.kind,
            "n": ref.namespace,
            "i": ref.id,
            "v": record.version,
            "c": record.created_at,
            "u": record.updated_at,
            "e": record.expires_at,
            "g": sorted(record.tags),
            "x": record.text,
            "b": record.body,
        }
        if record.embedding is not None:
            # Optional, so records without a vector encode exactly as before.
            fields["m"] = [record.embedding.scale, record.embedding.codes]
        return self.pack(fields)

    def decode(self, data: bytes, *, expect: Ref | None = None) -> Record:
        """Decode a record; with ``expect``, refuse one stored under another address."""
        obj = self.unpack(data)
        if not isinstance(obj, dict):
            raise CorruptRecord(f"record is a {type(obj).__name__}, expected a map")
        try:
            ref = Ref(obj["k"], obj["n"], obj["i"])
            record = Record(
                ref=ref,
                body=obj["b"],
                text=obj["x"],
                tags=obj["g"],
                expires_at=_dt(obj["e"], "expires_at"),
                version=obj["v"],
                created_at=_dt(obj["c"], "created_at"),
                updated_at=_dt(obj["u"], "updated_at"),
                embedding=_embedding(obj.get("m")),
            )
        except CorruptRecord:
            raise
        except (KeyError, TypeError, InvalidInput) as exc:
            raise CorruptRecord(f"record fields are malformed: {exc!r}") from exc
        if expect is not None and ref != expect:
            raise CorruptRecord(f"record stored under {expect} claims to be {ref}")
        return record
