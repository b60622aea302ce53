"""consolidate(): turn recurring successful episodes into semantic knowledge.

The rule:

1. Take the successful episodes of the shared namespace written within ``window``
   (default 7 days), at most ``max_episodes`` of them (default 1000).
2. Group them by their *set* of tools (``tools_used``; order and repeats do not matter).
   Episodes that used no tool are skipped: an empty tool set says nothing reusable.
3. Every group of at least ``min_episodes`` (default 3) episodes becomes (or updates) the
   knowledge ``"Successful tasks used the tools: a, b"``, with the group's episodes as
   ``source_episodes`` and up to 5 of their task prompts as ``examples``.
4. Updating merges: each source episode counts as one validation, once (an episode
   already among the sources is not counted again), so consolidating twice changes
   nothing and counters are never reset. ``confidence = validated / (validated +
   invalidated + 1)``. The write is a compare-and-set: several agents consolidating at
   once count each episode once.
"""

from __future__ import annotations

from datetime import timedelta

from agentmem.memory.config import EPISODIC
from agentmem.memory.episodic import SUCCESS_TAG
from agentmem.memory.models import Episode, SemanticMemory
from agentmem.memory.semantic import SemanticStore
from agentmem.memory.space import MemorySpace

__all__ = ["consolidate", "tool_pattern"]

_EXAMPLES = 5


def tool_pattern(tools: frozenset[str]) -> str:
    """The knowledge pattern for a set of tools."""
    return f"Successful tasks used the tools: {', '.join(sorted(tools))}"


async def consolidate(
    space: MemorySpace,
    semantic: SemanticStore,
    *,
    window: timedelta = timedelta(days=7),
    min_episodes: int = 3,
    max_episodes: int = 1000,
) -> list[SemanticMemory]:
    """Apply the rule in the module docstring; return the knowledge written."""
    since = space.clock() - window
    episodes: list[Episode] = []
    cursor: str | None = None
    while len(episodes) < max_episodes:
        page = await space.store.scan(
            EPISODIC,
            space.namespace_of(EPISODIC),
            tags=[SUCCESS_TAG],
            since=since,
            limit=min(500, max_episodes - len(episodes)),
            cursor=cursor,
        )
        found = (Episode.from_record(r, space.store) for r in page.records)
        episodes.extend(episode for episode in found if episode is not None)
        cursor = page.cursor
        if cursor is None:
            break
    groups: dict[frozenset[str], list[Episode]] = {}
    for episode in episodes:
        tools = frozenset(episode.tools_used)
        if episode.success and tools:
            groups.setdefault(tools, []).append(episode)
    written: list[SemanticMemory] = []
    for tools, members in sorted(groups.items(), key=lambda item: sorted(item[0])):
        if len(members) < min_episodes:
            continue
        members.sort(key=lambda e: (e.created_at, e.memory_id))
        names = ", ".join(sorted(tools))
        written.append(
            await semantic.save(
                tool_pattern(tools),
                f"{len(members)} recent successful tasks used {names}.",
                sources=[e.memory_id for e in members],
                examples=[e.task_prompt for e in members[:_EXAMPLES]],
                tags=["consolidated"],
                context="consolidated from episodes",
                count_new_sources=True,
            )
        )
    return written
