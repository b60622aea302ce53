"""The agentmem plugin: registers the ``sqlite://`` URL scheme.

Found through the ``agentmem.backends`` entry point of the agentmem-sqlite distribution.
"""

from __future__ import annotations

from agentmem import hookimpl
from agentmem.hookspecs import BackendRegistrar
from agentmem_sqlite.store import open_sqlite_store

__all__ = ["register_backends"]


@hookimpl
def register_backends(register: BackendRegistrar) -> None:
    """Register the opener for ``sqlite:///abs/path.db`` and ``sqlite://rel/path.db``."""
    register(
        "sqlite",
        open_sqlite_store,
        description="one SQLite file shared by local processes (WAL, FTS5, change log)",
    )
