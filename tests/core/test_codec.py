"""Codec: records and plain values survive a round trip; hostile bytes never get through."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import struct
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zlib_ng import zlib_ng

from agentmem.codec import DATETIME_EXT, FORMAT_VERSION, NAIVE_DATETIME_EXT, Codec
from agentmem.errors import CorruptRecord, InvalidInput, RecordTooLarge
from agentmem.store import Record, Ref
from agentmem.testing import scaled_examples
from agentmem.testing.strategies import bodies, names, plain_values, utc_datetimes

SECRET = b"a-secret-of-32-bytes-for-testing"
OTHER_SECRET = b"another-secret-nobody-should-use"
HUGE = 2**62

CODECS = {
    "default": Codec(),
    "always-compress": Codec(compress_threshold=0),
    "never-compress": Codec(compress_threshold=HUGE),
    "signed": Codec(secret=SECRET),
    "signed-always-compress": Codec(compress_threshold=0, secret=SECRET),
    "signed-never-compress": Codec(compress_threshold=HUGE, secret=SECRET),
}
VALID_FLAGS = {FORMAT_VERSION << 4 | bits for bits in range(4)}

records = st.builds(
    Record,
    ref=st.builds(Ref, st.sampled_from(["episodic", "skill", "k_9"]), names, names),
    body=bodies,
    text=st.text(max_size=300),
    tags=st.frozensets(names, max_size=4) | st.lists(names, max_size=4),
    expires_at=st.none() | utc_datetimes,
    version=st.integers(0, 2**63 - 1),
    created_at=st.none() | utc_datetimes,
    updated_at=st.none() | utc_datetimes,
)

with_codec = pytest.mark.parametrize("codec", CODECS.values(), ids=list(CODECS))


def sample_record(body_size: int = 3000) -> Record:
    """A record with every field set and a compressible body of about ``body_size`` bytes."""
    return Record(
        ref=Ref("episodic", "team-a", "ep-1"),
        body={"steps": ["retry the call"] * (body_size // 16), "n": 7, "raw": b"\x00\x01"},
        text="retry the flaky call",
        tags={"network", "retry"},
        expires_at=datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        version=3,
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        updated_at=datetime(2024, 5, 6, 7, 8, 10, 654321, tzinfo=UTC),
    )


def frame(body: bytes, flag: int = FORMAT_VERSION << 4) -> bytes:
    """An unsigned, uncompressed encoding around a raw msgpack body."""
    return bytes((flag,)) + body


def ext(code: int, data: bytes) -> bytes:
    """Raw msgpack ext8 item (works for negative, reserved type codes too)."""
    return b"\xc7" + bytes((len(data),)) + struct.pack(">b", code) + data


# -- round trips ----------------------------------------------------------------------


@with_codec
@given(record=records)
@settings(max_examples=scaled_examples(60), suppress_health_check=[HealthCheck.too_slow])
def test_record_round_trip(codec: Codec, record: Record) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.decode(data, expect=record.ref) == record


@with_codec
@given(value=plain_values)
@settings(max_examples=scaled_examples(60))
def test_plain_value_round_trip(codec: Codec, value: Any) -> None:
    assert codec.unpack(codec.pack(value)) == value


@with_codec
@given(body=bodies)
@settings(max_examples=scaled_examples(60))
def test_body_round_trip(codec: Codec, body: dict[str, Any]) -> None:
    assert codec.unpack(codec.pack(body)) == body


@with_codec
def test_large_compressible_record_round_trip(codec: Codec) -> None:
    record = sample_record(200_000)
    assert codec.decode(codec.encode(record)) == record


def test_readers_without_secret_read_signed_records() -> None:
    record = sample_record()
    assert Codec().decode(CODECS["signed"].encode(record)) == record


# -- compression and signature flags -------------------------------------------------


@given(value=plain_values | bodies)
@settings(max_examples=scaled_examples(100))
def test_compression_is_kept_only_when_it_saves_space(value: Any) -> None:
    plain = CODECS["never-compress"].pack(value)
    squeezed = CODECS["always-compress"].pack(value)
    assert plain[0] == FORMAT_VERSION << 4
    if squeezed[0] & 0x01:
        assert len(squeezed) < len(plain)
    else:
        assert squeezed == plain


def test_compressible_body_is_compressed_and_random_body_is_not() -> None:
    always = CODECS["always-compress"]
    compressible = always.pack({"x": "abc" * 2000})
    assert compressible[0] == FORMAT_VERSION << 4 | 0x01
    assert len(compressible) < 600
    incompressible = always.pack({"x": os.urandom(5000)})
    assert incompressible[0] == FORMAT_VERSION << 4
    assert CODECS["never-compress"].pack({"x": "abc" * 2000})[0] == FORMAT_VERSION << 4


def test_default_threshold_compresses_only_large_bodies() -> None:
    codec = Codec()
    assert codec.pack({"x": "a" * 900})[0] & 0x01 == 0
    assert codec.pack({"x": "a" * 2000})[0] & 0x01 == 1


@pytest.mark.parametrize("name", ["signed", "signed-always-compress", "signed-never-compress"])
def test_signed_layout_is_flag_body_and_hmac(name: str) -> None:
    data = CODECS[name].encode(sample_record())
    assert data[0] & 0x02
    mac = hmac.digest(SECRET, data[:-32], hashlib.sha256)
    assert data[-32:] == mac


# -- corrupt input ---------------------------------------------------------------------


@pytest.mark.parametrize("flag", sorted(set(range(256)) - VALID_FLAGS))
def test_unknown_flag_bytes_are_corrupt(flag: int) -> None:
    valid = CODECS["never-compress"].encode(sample_record(100))
    for codec in (Codec(), Codec(secret=SECRET)):
        with pytest.raises(CorruptRecord):
            codec.decode(bytes((flag,)) + valid[1:])


@with_codec
def test_every_truncation_is_corrupt(codec: Codec) -> None:
    data = codec.encode(sample_record())
    for length in range(len(data)):
        with pytest.raises(CorruptRecord):
            codec.decode(data[:length])
        with pytest.raises(CorruptRecord):
            codec.unpack(data[:length])


@with_codec
@pytest.mark.parametrize("garbage", [b"\x00", b"\xc0", b"trailing garbage", bytes(64)])
def test_trailing_garbage_is_corrupt(codec: Codec, garbage: bytes) -> None:
    data = codec.encode(sample_record())
    with pytest.raises(CorruptRecord):
        codec.decode(data + garbage)


@with_codec
@given(data=st.binary(max_size=400))
@settings(max_examples=scaled_examples(150))
def test_random_bytes_decode_or_raise_corrupt(codec: Codec, data: bytes) -> None:
    with contextlib.suppress(CorruptRecord):
        assert isinstance(codec.decode(data), Record)
    with contextlib.suppress(CorruptRecord):
        codec.unpack(data)


@with_codec
@given(flag=st.sampled_from(sorted(VALID_FLAGS)), rest=st.binary(max_size=400))
@settings(max_examples=scaled_examples(150))
def test_random_bytes_behind_a_valid_flag_decode_or_raise_corrupt(
    codec: Codec, flag: int, rest: bytes
) -> None:
    with contextlib.suppress(CorruptRecord):
        assert isinstance(codec.decode(bytes((flag,)) + rest), Record)


_FIELDS = ("k", "n", "i", "v", "c", "u", "e", "g", "x", "b")


@given(
    fields=st.dictionaries(
        st.sampled_from(_FIELDS),
        plain_values | st.sampled_from(["episodic", "ns", "id"]) | st.integers(-3, 3),
        min_size=8,
    )
)
@settings(max_examples=scaled_examples(200))
def test_hostile_record_maps_decode_or_raise_corrupt(fields: dict[str, Any]) -> None:
    data = CODECS["never-compress"].pack(fields)
    try:
        record = Codec().decode(data)
    except CorruptRecord:
        return
    assert isinstance(record, Record)


@functools.cache
def zero_bomb(megabytes: int = 200) -> bytes:
    """``megabytes`` MB of zeros, zlib-compressed, built without holding them in memory."""
    compressor = zlib_ng.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_decompression_bomb_is_rejected_without_inflating_it() -> None:
    bomb = zero_bomb()
    assert len(bomb) < 1 << 20  # 200 MB of zeros fit in well under 1 MB
    codec = Codec(max_decoded_size=1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptRecord, match="max_decoded_size"):
            codec.unpack(frame(bomb, FORMAT_VERSION << 4 | 0x01))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"decoding the bomb allocated {peak} bytes"


def test_body_just_over_max_decoded_size_is_corrupt() -> None:
    value = {"x": "a" * 5000}
    data = Codec(compress_threshold=0).pack(value)
    assert data[0] & 0x01
    assert Codec(max_decoded_size=10_000).unpack(data) == value
    with pytest.raises(CorruptRecord):
        Codec(max_decoded_size=4000).unpack(data)


def test_compressed_flag_on_uncompressed_body_is_corrupt() -> None:
    data = CODECS["never-compress"].encode(sample_record())
    with pytest.raises(CorruptRecord):
        Codec().decode(bytes((data[0] | 0x01,)) + data[1:])


def test_signed_record_with_wrong_secret_is_corrupt() -> None:
    data = CODECS["signed"].encode(sample_record())
    with pytest.raises(CorruptRecord, match="signature"):
        Codec(secret=OTHER_SECRET).decode(data)


@pytest.mark.parametrize("name", ["signed", "signed-always-compress"])
def test_any_flipped_bit_in_a_signed_record_is_corrupt(name: str) -> None:
    codec = CODECS[name]
    data = codec.encode(sample_record(400))
    for position in range(len(data)):
        tampered = bytearray(data)
        tampered[position] ^= 0x04
        with pytest.raises(CorruptRecord):
            codec.decode(bytes(tampered))


@pytest.mark.parametrize("name", ["default", "always-compress", "never-compress"])
def test_unsigned_record_is_refused_when_a_secret_is_required(name: str) -> None:
    data = CODECS[name].encode(sample_record())
    with pytest.raises(CorruptRecord, match="unsigned"):
        Codec(secret=SECRET).decode(data)


@pytest.mark.parametrize(
    "other",
    [
        Ref("episodic", "team-a", "ep-2"),
        Ref("episodic", "team-b", "ep-1"),
        Ref("skill", "team-a", "ep-1"),
    ],
)
def test_record_under_another_ref_is_corrupt(other: Ref) -> None:
    data = Codec().encode(sample_record())
    with pytest.raises(CorruptRecord, match="claims to be"):
        Codec().decode(data, expect=other)


@pytest.mark.parametrize(
    "code", [c for c in range(-128, 128) if c not in (DATETIME_EXT, NAIVE_DATETIME_EXT, -1)]
)
def test_unknown_ext_types_are_corrupt(code: int) -> None:
    body = b"\x81\xa1x" + ext(code, bytes(8))
    with pytest.raises(CorruptRecord, match="extension"):
        Codec().unpack(frame(body))


def test_standard_msgpack_timestamp_decodes_to_an_aware_datetime() -> None:
    # Type -1 is msgpack's own timestamp; it must never leak a msgpack.Timestamp object.
    seconds = 1_700_000_000
    value = Codec().unpack(frame(b"\x81\xa1x" + ext(-1, struct.pack(">I", seconds))))
    assert value == {"x": datetime.fromtimestamp(seconds, UTC)}
    assert value["x"].tzinfo is not None
    huge = struct.pack(">Iq", 0, 2**62)  # timestamp 96 far beyond datetime.max
    with pytest.raises(CorruptRecord):
        Codec().unpack(frame(b"\x81\xa1x" + ext(-1, huge)))


@pytest.mark.parametrize(
    "payload",
    [b"", bytes(7), bytes(9), struct.pack(">q", 2**63 - 1), struct.pack(">q", -(2**63))],
    ids=["empty", "short", "long", "too-late", "too-early"],
)
def test_malformed_datetime_ext_is_corrupt(payload: bytes) -> None:
    with pytest.raises(CorruptRecord):
        Codec().unpack(frame(b"\x81\xa1x" + ext(DATETIME_EXT, payload)))


@pytest.mark.parametrize(
    "value",
    [b"\x92\x01\x02", b"\xa5hello", b"\xc0", b"\x80"],
    ids=["list", "str", "nil", "empty-map"],
)
def test_non_record_body_is_corrupt(value: bytes) -> None:
    with pytest.raises(CorruptRecord):
        Codec().decode(frame(value))


@pytest.mark.parametrize("data", [None, "text", 42], ids=["none", "str", "int"])
def test_non_bytes_input_is_corrupt(data: Any) -> None:
    with pytest.raises(CorruptRecord):
        Codec().unpack(data)


# -- size limit --------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, SECRET], ids=["unsigned", "signed"])
def test_oversize_record_is_too_large_exactly_past_the_limit(secret: bytes | None) -> None:
    record = sample_record()
    size = len(Codec(secret=secret).encode(record))
    assert (
        Codec(max_record_size=size, secret=secret).decode(
            Codec(max_record_size=size, secret=secret).encode(record)
        )
        == record
    )
    with pytest.raises(RecordTooLarge):
        Codec(max_record_size=size - 1, secret=secret).encode(record)


def test_incompressible_value_over_the_limit_is_too_large() -> None:
    with pytest.raises(RecordTooLarge):
        Codec(max_record_size=1000).pack({"blob": os.urandom(2000)})


# -- what is not plain data ----------------------------------------------------------------


class _Thing:
    pass


def nested(depth: int) -> dict[str, Any]:
    """``{"d": {"d": ... {}}}``, ``depth`` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"d": value}
    return value


NOT_PLAIN = {
    "set": {"s": {1, 2}},
    "frozenset": {"s": frozenset({"a"})},
    "object": {"o": _Thing()},
    "int-key": {1: "x"},
    "nested-int-key": {"m": {2: "y"}},
    "tuple-key": {("a",): 1},
    "bytes-key": {b"k": 1},
    "int-too-large": {"n": 2**64},
    "int-too-small": {"n": -(2**63) - 1},
    "complex": {"c": 1j},
    "decimal": {"d": Decimal("1.5")},
    "too-deep": nested(150),
}


@pytest.mark.parametrize("value", NOT_PLAIN.values(), ids=list(NOT_PLAIN))
def test_non_plain_values_are_invalid_input(value: Any) -> None:
    for codec in (Codec(), Codec(compress_threshold=0, secret=SECRET)):
        with pytest.raises(InvalidInput):
            codec.pack(value)
    if all(isinstance(key, str) for key in value):
        with pytest.raises(InvalidInput):
            Codec().encode(Record(ref=Ref("skill", "ns", "id"), body=value))


def test_naive_datetimes_in_a_body_come_back_naive_and_aware_ones_aware() -> None:
    naive = datetime(2024, 1, 1, 12, 30, 15, 123456)
    aware = datetime(2024, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)
    body = {"when": naive, "calls": [{"at": naive}], "utc": aware, "old": datetime(1601, 1, 1)}
    for codec in (Codec(), Codec(compress_threshold=0, secret=SECRET)):
        back = codec.decode(codec.encode(Record(ref=Ref("working", "ns", "s1"), body=body))).body
        assert back == body
        assert back["when"].tzinfo is None and back["calls"][0]["at"].tzinfo is None
        assert back["utc"].tzinfo is not None


def test_largest_and_smallest_msgpack_ints_are_plain() -> None:
    value = {"max": 2**64 - 1, "min": -(2**63)}
    assert Codec().unpack(Codec().pack(value)) == value


@pytest.mark.parametrize(
    "kwargs",
    [
        {"compress_threshold": -1},
        {"max_record_size": 0},
        {"max_decoded_size": 0},
        {"compression_level": 10},
        {"compression_level": -2},
        {"secret": b"short"},
        {"secret": "a str secret that is long enough"},
    ],
)
def test_bad_codec_settings_are_invalid_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        Codec(**kwargs)


# -- datetimes ------------------------------------------------------------------------------

offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)).map(
        lambda delta: timedelta(minutes=delta // timedelta(minutes=1))
    ),
)
aware_datetimes = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=offsets,
)


@given(moment=aware_datetimes)
def test_datetimes_round_trip_to_the_same_instant_in_utc(moment: datetime) -> None:
    for codec in (Codec(), CODECS["signed-always-compress"]):
        decoded = codec.unpack(codec.pack({"at": moment, "list": [moment]}))
        for value in (decoded["at"], decoded["list"][0]):
            assert value == moment
            assert value.utcoffset() == timedelta(0)
            assert value.replace(tzinfo=None) == moment.astimezone(UTC).replace(tzinfo=None)
            assert value.microsecond == moment.microsecond


@given(moment=aware_datetimes)
def test_record_timestamps_are_normalised_to_utc(moment: datetime) -> None:
    record = Record(
        ref=Ref("skill", "ns", "id"), expires_at=moment, created_at=moment, updated_at=moment
    )
    decoded = Codec().decode(Codec().encode(record))
    for value in (decoded.expires_at, decoded.created_at, decoded.updated_at):
        assert value == moment
        assert value is not None and value.tzinfo == UTC


def test_datetime_keeps_microseconds_before_the_epoch() -> None:
    moment = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5)))
    assert Codec().unpack(Codec().pack(moment)) == moment
    assert Codec().unpack(Codec().pack(moment)).microsecond == 999_999


def test_datetime_wire_format_is_ext_1_with_signed_microseconds() -> None:
    moment = datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)
    body = msgpack.packb(msgpack.ExtType(DATETIME_EXT, struct.pack(">q", 1_000_005)))
    assert Codec(compress_threshold=HUGE).pack(moment) == frame(body)
