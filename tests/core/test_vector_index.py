"""The in-process vector index against brute force: bulk loads across chunk boundaries,
replacements, removals, rows of several lengths, growth and reuse of freed rows."""

from __future__ import annotations

import random

import pytest

from agentmem import vector_index
from agentmem.nearest import rank_codes
from agentmem.vector_index import VectorIndex
from agentmem.vectors import normalize

pytestmark = pytest.mark.skipif(not vector_index.available(), reason="needs numpy")


def _codes(rng: random.Random, dim: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(dim))


def _check(index: VectorIndex[str], held: dict[str, bytes], rng: random.Random) -> None:
    for dim in (8, 3):
        ids = sorted(k for k, c in held.items() if len(c) == dim)
        for _ in range(3):
            unit = normalize([rng.uniform(-1, 1) for _ in range(dim)])
            for limit in (1, 10, 100):
                want = rank_codes(unit, ids, [held[i] for i in ids], limit)
                got = index.search(unit, limit)
                assert [k for k, _ in got] == [k for k, _ in want]
                assert all(abs(a[1] - b[1]) < 1e-5 for a, b in zip(got, want, strict=True))


def test_index_matches_brute_force_through_loads_replacements_and_removals() -> None:
    rng = random.Random(4)
    index: VectorIndex[str] = VectorIndex()
    held: dict[str, bytes] = {}
    # A bulk load larger than one normalization chunk, with rows of two lengths.
    batch = {f"k{i:05}": _codes(rng, 8 if i % 5 else 3) for i in range(9000)}
    index.put_many(batch.items())
    held.update(batch)
    assert len(index) == len(held)
    _check(index, held, rng)
    # Replace some (bulk and single, changing length too), remove some, add new ones:
    # freed rows are reused and the matrix grows.
    again = {f"k{i:05}": _codes(rng, 3 if i % 2 else 8) for i in range(0, 9000, 7)}
    index.put_many(again.items())
    held.update(again)
    for i in range(0, 9000, 11):
        index.remove(f"k{i:05}")
        held.pop(f"k{i:05}", None)
    for i in range(9000, 9500):
        key, codes = f"k{i:05}", _codes(rng, 8)
        index.put(key, codes)
        held[key] = codes
    index.put("zero", bytes(8))  # an all-zero vector scores 0, as in rank_codes
    held["zero"] = bytes(8)
    assert len(index) == len(held)
    _check(index, held, rng)
    allowed = sorted(held)[::3]
    unit = normalize([1.0] * 8)
    got = index.search(unit, 5, allowed=allowed, excluded={allowed[0]})
    want = rank_codes(
        unit,
        [k for k in allowed[1:] if len(held[k]) == 8],
        [held[k] for k in allowed[1:] if len(held[k]) == 8],
        5,
    )
    assert [k for k, _ in got] == [k for k, _ in want]
