"""agentmem-sqlite: the ``sqlite://`` backend of agentmem.

>>> import asyncio, tempfile, os, agentmem
>>> async def demo(path):
...     async with await agentmem.open_store(f"sqlite://{path}") as store:
...         await store.put(agentmem.Record(ref=agentmem.Ref("skill", "ns", "a"), text="deploy"))
...         return [hit.ref.id for hit in await store.search("skill", "ns", "deploy")]
>>> with tempfile.TemporaryDirectory() as tmp:
...     asyncio.run(demo(os.path.join(tmp, "mem.db")))
['a']
"""

from agentmem_sqlite.options import SQLiteOptions
from agentmem_sqlite.schema import SCHEMA_VERSION
from agentmem_sqlite.store import SQLiteStore, open_sqlite_store

__all__ = ["SCHEMA_VERSION", "SQLiteOptions", "SQLiteStore", "open_sqlite_store"]
__version__ = "0.1.0"
