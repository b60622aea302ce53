"""Vectors survive export/import (JSON Lines) and import_many on every backend."""

from __future__ import annotations

import pytest

from agentmem.errors import InvalidInput
from agentmem.jsonl import dumps_record, loads_record
from agentmem.store import Record, Ref
from agentmem.vectors import Embedding
from tests.memory.support import Backend

pytestmark = pytest.mark.asyncio
vec = Embedding.quantize


async def test_json_lines_carry_the_embedding() -> None:
    record = Record(ref=Ref("episodic", "ns", "a"), text="x", embedding=vec([0.5, -1.0]))
    assert loads_record(dumps_record(record)) == record
    plain = Record(ref=Ref("episodic", "ns", "b"), text="x")
    assert "embedding" not in dumps_record(plain) and loads_record(dumps_record(plain)) == plain
    with pytest.raises(InvalidInput):
        loads_record(dumps_record(record).replace('"codes": "', '"codes": "!'))


async def test_import_many_keeps_the_embedding(backend: Backend) -> None:
    memory = await backend.open(embedder=False)
    async with memory:
        store = memory.store
        source = await store.put(
            Record(
                ref=Ref("episodic", backend.namespace, "a"),
                embedding=vec([1.0, 2.0]),
            )
        )
        copy = Record(
            ref=Ref("episodic", backend.namespace + "-copy", "a"),
            embedding=source.embedding,
            version=source.version,
            created_at=source.created_at,
            updated_at=source.updated_at,
        )
        assert await store.import_many([copy]) == 1
        got = await store.get(copy.ref)
        assert got is not None and got.embedding == source.embedding
