"""Each vectors test runs on memory://, sqlite:// and (when installed) redis://."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.memory.support import Backend, available_backends, new_namespace


@pytest.fixture(params=available_backends())
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    name = request.param
    port = None
    if name == "redis":
        port = request.getfixturevalue("redis_server").port
    return Backend(name, tmp_path, new_namespace(), port)
