"""Store URLs for integration tests: one per backend, each isolated from the others."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

BACKENDS = ("memory", "sqlite", "redis", "redis-cluster")


def fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL on ``backend`` that no other test reads: a new SQLite file, or a new key prefix
    on the session's real redis-server (standalone or cluster) processes."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}"
    prefix = f"t{uuid.uuid4().hex[:12]}"
    if backend == "redis":
        return f"{request.getfixturevalue('redis_server').url}?prefix={prefix}"
    if backend == "redis-cluster":
        return f"{request.getfixturevalue('redis_cluster').url}?prefix={prefix}"
    raise ValueError(f"unknown backend {backend!r}")
