"""Search relevance sanity: on a small labelled set, the right episode comes first."""

from __future__ import annotations

import pytest

from tests.memory.support import Backend

# (task prompt, outcome, tools, tags) — written so each query has one right answer.
EPISODES = [
    (
        "Rotate the TLS certificates on the load balancer",
        "new certs installed, expiry 2026",
        ["openssl", "ssh"],
        ["security"],
    ),
    ("Fix the flaky payments integration test", "race in the mock clock fixed", ["pytest"], ["ci"]),
    (
        "Migrate the orders table to the new schema",
        "migration applied, 2M rows moved",
        ["psql"],
        ["database"],
    ),
    (
        "Investigate memory leak in the image resizer",
        "unbounded cache found and capped",
        ["py_spy"],
        ["performance"],
    ),
    (
        "Set up nightly backups of the Postgres database",
        "pg_dump cron job installed",
        ["psql", "cron"],
        ["database", "backup"],
    ),
    ("Translate the onboarding emails to German", "12 templates translated", ["deepl"], ["i18n"]),
    (
        "Speed up the CI pipeline with dependency caching",
        "build time from 14 to 6 minutes",
        ["github_actions"],
        ["ci", "performance"],
    ),
    ("Renew the domain name registration", "renewed for 2 years", [], ["admin"]),
]

QUERIES = {
    "TLS certificate rotation": "Rotate the TLS certificates on the load balancer",
    "flaky test payments": "Fix the flaky payments integration test",
    "orders schema migration": "Migrate the orders table to the new schema",
    "memory leak": "Investigate memory leak in the image resizer",
    "postgres backups nightly": "Set up nightly backups of the Postgres database",
    "german translation emails": "Translate the onboarding emails to German",
    "slow CI pipeline caching": "Speed up the CI pipeline with dependency caching",
    "domain renewal": "Renew the domain name registration",
}


@pytest.mark.asyncio
async def test_right_episode_first_for_each_query(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        for prompt, outcome, tools, tags in EPISODES:
            await memory.add_step(
                f"work on: {prompt}", outcome, tool_calls=[{"name": t} for t in tools]
            )
            await memory.save_episode(prompt, outcome, True, 10.0, tags=tags)
        for query, expected in QUERIES.items():
            found = await memory.search_episodes(query, limit=3)
            assert found, query
            assert found[0].task_prompt == expected, (query, [e.task_prompt for e in found])
            scores = [e.score for e in found]
            assert scores == sorted(scores, reverse=True)


@pytest.mark.asyncio
async def test_filters_success_tags_and_session(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        await memory.save_episode("deploy api", "rolled back", False, 5.0, tags=["api"])
        await memory.save_episode("deploy web", "live", True, 5.0, tags=["web"])
        everything = await memory.search_episodes("deploy")
        assert {e.task_prompt for e in everything} == {"deploy api", "deploy web"}
        ok = await memory.search_episodes("deploy", success_only=True)
        assert [e.task_prompt for e in ok] == ["deploy web"]
        tagged = await memory.search_episodes("deploy", tags=["api"])
        assert [e.task_prompt for e in tagged] == ["deploy api"]
        await memory.rotate_session()
        await memory.save_episode("deploy docs", "live", True, 5.0)
        this_session = await memory.search_episodes("deploy", include_linked_sessions=False)
        assert [e.task_prompt for e in this_session] == ["deploy docs"]
        assert len(await memory.search_episodes("deploy")) == 3


@pytest.mark.asyncio
async def test_importance_breaks_keyword_ties(backend: Backend) -> None:
    async with await backend.open(enable_pubsub=False) as memory:
        await memory.save_episode("restart the worker", "done", True, 1.0, importance=0.1)
        await memory.save_episode("restart the server", "done", True, 1.0, importance=0.9)
        found = await memory.search_episodes("restart")
        assert [e.task_prompt for e in found] == ["restart the server", "restart the worker"]
