"""agentmem-redis: the agentmem store over Redis and Redis Cluster.

>>> from agentmem_redis import parse_url
>>> parse_url("redis://localhost:6379/0").prefix
'agentmem'
"""

from agentmem_redis.config import RedisOptions, parse_url
from agentmem_redis.keys import KeyLayout, escape
from agentmem_redis.store import RedisStore, open_redis_store

__all__ = ["KeyLayout", "RedisOptions", "RedisStore", "escape", "open_redis_store", "parse_url"]
