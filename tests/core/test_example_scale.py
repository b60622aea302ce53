"""AGENTMEM_HYPOTHESIS_SCALE: how the nox matrix runs secondary cells with fewer examples."""

from __future__ import annotations

import pytest

from agentmem.testing import scaled_examples


@pytest.mark.parametrize(
    ("scale", "count", "expected"),
    [
        ("", 200, 200),
        ("1", 200, 200),
        ("0.25", 200, 50),
        ("0.25", 2, 1),
        ("0", 30, 1),
        ("2", 5, 10),
    ],
)
def test_scale_multiplies_and_keeps_at_least_one(
    monkeypatch: pytest.MonkeyPatch, scale: str, count: int, expected: int
) -> None:
    monkeypatch.setenv("AGENTMEM_HYPOTHESIS_SCALE", scale)
    assert scaled_examples(count) == expected


def test_unset_means_unscaled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTMEM_HYPOTHESIS_SCALE", raising=False)
    assert scaled_examples(123) == 123


def test_a_bad_scale_is_an_error_not_a_silent_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMEM_HYPOTHESIS_SCALE", "quarter")
    with pytest.raises(ValueError, match="AGENTMEM_HYPOTHESIS_SCALE"):
        scaled_examples(10)
