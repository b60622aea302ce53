"""Which record kinds the server shows, and which it writes through which tools."""

from __future__ import annotations

__all__ = ["AGENT_KINDS", "GENERIC_KIND", "hidden_reason"]

GENERIC_KIND = "memory"
"""The default kind of add_memory's free-form memories."""

AGENT_KINDS = frozenset({"working", "episodic", "semantic", "skill", "session"})
"""Kinds AgentMemory structures itself: written only by the agent tools (a free-form
record there would not parse as an episode, a skill, ...)."""


def hidden_reason(kind: str) -> str | None:
    """Why records of ``kind`` are not served (tools, resources, notifications), or None.

    - ``agentmem_*``: the library's own bookkeeping (failover outbox, epoch markers).
    - ``working``: an agent's working memory is private to it (the library's rule: no
      other agent sees it in reads, searches, context or notifications); this server's
      own steps are reached through add_step and get_enriched_context.
    """
    if kind.startswith("agentmem_"):
        return f"kind {kind!r} is internal to agentmem"
    if kind == "working":
        return (
            "working memory is private to its agent: use get_enriched_context for this "
            "agent's own steps"
        )
    return None
