"""Encode refuses what decode would refuse (issue 9, item 6): nothing acknowledged is
unreadable afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import pytest

from agentmem import open_store
from agentmem.codec import DATETIME_EXT, Codec
from agentmem.errors import InvalidInput, RecordTooLarge
from agentmem.store import Record, Ref


def test_body_that_would_decompress_past_the_cap_is_refused_at_encode() -> None:
    value = {"x": "a" * 5000}
    small = Codec(max_decoded_size=4000, compress_threshold=0)
    with pytest.raises(RecordTooLarge, match="max_decoded_size"):
        small.pack(value)
    roomy = Codec(max_decoded_size=10_000, compress_threshold=0)
    assert roomy.unpack(roomy.pack(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        msgpack.ExtType(5, b"payload"),
        msgpack.ExtType(DATETIME_EXT, bytes(8)),  # would read back as a datetime
        msgpack.Timestamp(1_700_000_000),
        [1, {"deep": msgpack.ExtType(3, b"")}],
    ],
    ids=["unknown-code", "spoofed-datetime", "timestamp", "nested"],
)
def test_msgpack_extension_values_are_refused_at_encode(value: Any) -> None:
    with pytest.raises(InvalidInput, match="extension"):
        Codec().pack({"v": value})
    record = Record(ref=Ref("skill", "ns", "x"), body={"v": value})
    with pytest.raises(InvalidInput):
        Codec().encode(record)


def test_datetimes_still_round_trip() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert Codec().unpack(Codec().pack({"t": when})) == {"t": when}


@pytest.mark.asyncio
async def test_real_store_refuses_the_big_compressible_body_and_stays_readable(
    tmp_path: Path,
) -> None:
    async with await open_store(f"sqlite://{tmp_path / 'caps.db'}") as store:
        ok = await store.put(Record(ref=Ref("working", "a", "1"), body={"o": "fine"}))
        huge = Record(ref=Ref("working", "a", "2"), body={"o": "a" * (64 * 1024 * 1024 + 1)})
        with pytest.raises(RecordTooLarge):
            await store.put(huge)
        with pytest.raises(InvalidInput):
            await store.put(
                Record(ref=Ref("working", "a", "3"), body={"e": msgpack.ExtType(5, b"x")})
            )
        page = await store.scan("working", "a")
        assert [r.ref for r in page.records] == [ok.ref]
