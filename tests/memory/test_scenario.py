"""The README scenario prints the same lines on every backend (and with Redis killed halfway)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentmem.memory.demo import run_scenario
from tests.memory.support import Backend, available_backends, new_namespace

EXPECTED = [
    "working memory: 3 steps",
    "saved episode: Succeeded after 3 steps using docker_build, kubectl_apply, http_get: "
    "web 1.4 is live on staging and healthy",
    "tools used: docker_build, kubectl_apply, http_get",
    "working memory after saving: 0 steps",
    "search 'deploy staging': ['Deploy the web app to staging']",
    "skill deploy_to_staging: runs=2 success rate=50.0% mean duration=60.0s",
    "enriched context:",
    "  | [Current Task Context]",
    "  | Recent steps:",
    "  | Step 1 [ok]: Read the deploy request",
    "  |   Observation: staging again, version 1.5",
    "  |",
    "  | [Relevant Past Experiences]",
    "  | - Deploy the web app to staging: Succeeded after 3 steps using docker_build, "
    "kubectl_apply, http_get: web 1.4 is live on staging and healthy",
    "  |",
    "  | [Relevant Skills]",
    "  | - deploy_to_staging: Build the image, apply the manifests, check health "
    "(success rate: 50.0%)",
    "session rotated: history has 2 sessions, oldest first: True",
]


@pytest.mark.asyncio
async def test_scenario_prints_the_same_on_every_backend(backend: Backend) -> None:
    lines: list[str] = []
    async with await backend.open("demo-agent") as memory:
        await run_scenario(memory, lines.append)
    assert lines == EXPECTED


if "redis" in available_backends():

    @pytest.mark.asyncio
    async def test_scenario_survives_redis_killed_halfway(
        redis_server_factory: Any, tmp_path: Path
    ) -> None:
        server = redis_server_factory().start()
        backend = Backend("redis", tmp_path, new_namespace(), server.port)
        lines: list[str] = []

        def emit(line: str) -> None:
            lines.append(line)
            if line.startswith("working memory after saving"):
                server.kill()  # everything after this runs on the SQLite fallback

        async with await backend.open("demo-agent") as memory:
            await run_scenario(memory, emit)
            assert not memory.redis_manager.available
        assert lines == EXPECTED
