"""The URL fixture of the LangGraph store tests: every backend, real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.urls import BACKENDS, fresh_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(str(request.param), request, tmp_path)
