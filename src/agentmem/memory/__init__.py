"""agentmem.memory: the agent-facing API (working, episodic, semantic, skill memory).

>>> import asyncio
>>> from agentmem.memory import create_memory_adapter
>>> async def main():
...     async with await create_memory_adapter("memory", agent_id="a1") as memory:
...         await memory.add_step("run tests", "2 failed", tool_calls=[{"name": "pytest"}])
...         await memory.save_episode("fix the tests", "all green", True, 3.0)
...         return [e.task_prompt for e in await memory.search_episodes("tests")]
>>> asyncio.run(main())
['fix the tests']
"""

from agentmem.memory.adapter import AgentMemory
from agentmem.memory.config import DEFAULT_TTLS, DEFAULT_WORKING_CAPACITY
from agentmem.memory.events import MemoryEvent
from agentmem.memory.factory import create_memory_adapter
from agentmem.memory.models import (
    Episode,
    LongTermMemory,
    SemanticMemory,
    SessionInfo,
    Skill,
    WorkingStep,
)
from agentmem.memory.ranking import RankingWeights

__all__ = [
    "DEFAULT_TTLS",
    "DEFAULT_WORKING_CAPACITY",
    "AgentMemory",
    "Episode",
    "LongTermMemory",
    "MemoryEvent",
    "RankingWeights",
    "SemanticMemory",
    "SessionInfo",
    "Skill",
    "WorkingStep",
    "create_memory_adapter",
]
