"""agentmem: durable, shared memory for AI agents.

>>> import asyncio, agentmem
>>> async def main():
...     async with await agentmem.open_store("memory://") as store:
...         ref = agentmem.Ref("episodic", "team", "ep-1")
...         await store.put(agentmem.Record(ref=ref, text="fixed the flaky deploy"))
...         return [hit.ref.id for hit in await store.search("episodic", "team", "deploy")]
>>> asyncio.run(main())
['ep-1']
"""

from agentmem.base import StoreBase
from agentmem.changes import ChangeSource, ChangeStream
from agentmem.codec import Codec
from agentmem.errors import (
    AgentMemError,
    BackendUnavailable,
    ConfigurationError,
    ConflictError,
    CorruptRecord,
    InvalidInput,
    RecordTooLarge,
    StoreClosed,
)
from agentmem.hookspecs import hookimpl
from agentmem.memory import AgentMemory, create_memory_adapter
from agentmem.plugins import backends, open_store
from agentmem.store import (
    WATCH_FROM_START,
    Capabilities,
    Change,
    Hit,
    MemoryStore,
    Page,
    Record,
    Ref,
)

__version__ = "0.1.0"

__all__ = [
    "WATCH_FROM_START",
    "AgentMemError",
    "AgentMemory",
    "BackendUnavailable",
    "Capabilities",
    "Change",
    "ChangeSource",
    "ChangeStream",
    "Codec",
    "ConfigurationError",
    "ConflictError",
    "CorruptRecord",
    "Hit",
    "InvalidInput",
    "MemoryStore",
    "Page",
    "Record",
    "RecordTooLarge",
    "Ref",
    "StoreBase",
    "StoreClosed",
    "__version__",
    "backends",
    "create_memory_adapter",
    "hookimpl",
    "open_store",
]
