"""agentmem-openai-agents: the OpenAI Agents SDK ``Session`` over any agentmem store URL."""

from agentmem_openai_agents.session import (
    COUNTER_KIND,
    ITEM_KIND,
    AgentMemSession,
    session_namespace,
)

__all__ = ["COUNTER_KIND", "ITEM_KIND", "AgentMemSession", "session_namespace"]
