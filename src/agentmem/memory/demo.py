"""The README's scenario: what ``agentmem demo`` runs and the tests run on every backend.

It prints only what is the same on every backend (no ids, times or scores), so its
output is identical on memory, sqlite and redis.
"""

from __future__ import annotations

from collections.abc import Callable

from agentmem.memory.adapter import AgentMemory

__all__ = ["run_scenario"]


async def run_scenario(memory: AgentMemory, emit: Callable[[str], None] = print) -> None:
    """Add steps, save an episode, search it, save a skill, record executions, build the
    enriched context, rotate the session and walk its history."""
    await memory.add_step(
        "Build the container image",
        "image web:1.4 built in 42s",
        reasoning="staging runs containers",
        tool_calls=[{"name": "docker_build", "args": {"tag": "web:1.4"}}],
    )
    await memory.add_step(
        "Apply the staging manifests",
        "deployment web rolled out, 3/3 pods ready",
        tool_calls=[{"name": "kubectl_apply"}],
    )
    await memory.add_step(
        "Check the health endpoint", "HTTP 200 from /healthz", tool_calls=[{"name": "http_get"}]
    )
    emit(f"working memory: {len(await memory.get_recent_steps(10))} steps")

    episode = await memory.save_episode(
        task_prompt="Deploy the web app to staging",
        outcome="web 1.4 is live on staging and healthy",
        success=True,
        duration_seconds=95.0,
        tags=["deploy", "staging"],
        importance=0.8,
    )
    emit(f"saved episode: {episode.compressed_content}")
    emit(f"tools used: {', '.join(episode.tools_used)}")
    emit(f"working memory after saving: {len(await memory.get_recent_steps(10))} steps")

    found = await memory.search_episodes("deploy staging", limit=3)
    emit(f"search 'deploy staging': {[e.task_prompt for e in found]}")

    await memory.save_skill(
        skill_name="deploy_to_staging",
        description="Build the image, apply the manifests, check health",
        action_sequence=[
            {"action": "build", "tool": "docker_build"},
            {"action": "apply", "tool": "kubectl_apply"},
            {"action": "verify", "tool": "http_get"},
        ],
        preconditions=["cluster_reachable"],
        postconditions=["staging_healthy"],
        tags=["deploy"],
    )
    await memory.record_skill_execution("deploy_to_staging", success=True, duration=90.0)
    skill = await memory.record_skill_execution("deploy_to_staging", success=False, duration=30.0)
    emit(
        f"skill {skill.skill_name}: runs={skill.times_executed} "
        f"success rate={skill.success_rate:.1%} mean duration={skill.average_duration:.1f}s"
    )

    await memory.add_step("Read the deploy request", "staging again, version 1.5")
    context = await memory.get_enriched_context("deploy web to staging", detailed_steps=5)
    emit("enriched context:")
    for line in context.splitlines():
        emit(f"  | {line}".rstrip())

    first = memory.session_id
    second = await memory.rotate_session()
    history = await memory.get_session_history()
    linked = history == [first, second]
    emit(f"session rotated: history has {len(history)} sessions, oldest first: {linked}")
