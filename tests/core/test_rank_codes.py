"""rank_codes: the scorer sqlite:// and redis:// use, with numpy and without."""

from __future__ import annotations

import random

import pytest

import agentmem.nearest as nearest
from agentmem.nearest import check_query, rank_codes, rank_vectors
from agentmem.vectors import Embedding


def _collection(n: int, dims: int, seed: int) -> tuple[list[str], list[Embedding]]:
    rng = random.Random(seed)
    ids = [f"id{i:04}" for i in range(n)]
    # Few distinct values: many exact ties, which must break by the smaller id.
    embeddings = [Embedding.quantize([rng.randint(-2, 2) for _ in range(dims)]) for _ in ids]
    return ids, embeddings


@pytest.mark.parametrize("numpy_present", [True, False])
def test_rank_codes_agrees_with_rank_vectors(
    numpy_present: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not numpy_present:
        monkeypatch.setattr(nearest, "_np", None)
    else:
        assert nearest._np is not None, "the test venv has numpy"
    ids, embeddings = _collection(400, 6, 5)
    rng = random.Random(9)
    for _ in range(20):
        unit = check_query([rng.uniform(-1, 1) for _ in range(6)])
        for limit in (1, 7, 50, 1000):
            want = rank_vectors(unit, zip(ids, embeddings, strict=True), limit)
            joined = rank_codes(unit, ids, b"".join(e.codes for e in embeddings), limit)
            separate = rank_codes(unit, ids, [e.codes for e in embeddings], limit)
            assert [rid for rid, _ in joined] == [rid for rid, _ in want]
            assert joined == separate
            assert all(abs(a[1] - b[1]) < 1e-6 for a, b in zip(joined, want, strict=True))


def test_rank_codes_edge_cases() -> None:
    assert rank_codes([1.0, 0.0], [], b"", 10) == []
    zero = Embedding.quantize([0.0, 0.0])
    assert rank_codes([1.0, 0.0], ["z"], zero.codes, 10) == [("z", 0.0)]
    with pytest.raises(ValueError, match="code bytes"):
        rank_codes([1.0, 0.0], ["a", "b"], b"\x01\x02\x03", 10)
