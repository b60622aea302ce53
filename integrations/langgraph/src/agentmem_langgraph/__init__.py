"""agentmem-langgraph: LangGraph's ``BaseStore`` over any agentmem store URL.

>>> from agentmem_langgraph import AgentMemStore
>>> with AgentMemStore.from_conn_string("memory://") as store:
...     store.put(("users", "ada"), "prefs", {"theme": "dark"})
...     store.get(("users", "ada"), "prefs").value
{'theme': 'dark'}
"""

from agentmem_langgraph.names import encode_key, encode_namespace
from agentmem_langgraph.store import ITEM_KIND, NAMESPACE_KIND, AgentMemStore, AsyncAgentMemStore

__all__ = [
    "ITEM_KIND",
    "NAMESPACE_KIND",
    "AgentMemStore",
    "AsyncAgentMemStore",
    "encode_key",
    "encode_namespace",
]
