"""One fallback file per running agent process, claimed with a lock.

A fallback file holds one outbox journal; two processes sharing it replay each other's
entries while their writes are still under way, and lose them. The factory's default
fallback file is per agent id; this module also keeps two *processes* of the same agent
id apart: each claims the first of ``<name>.db``, ``<name>-1.db``, ... whose lock file it
can lock (``flock``, released when the process exits, even by kill -9, so a restarted
agent takes its old file back, outbox included).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Final

from agentmem.errors import ConfigurationError

__all__ = ["MAX_SLOTS", "claim_fallback_file"]

log = logging.getLogger("agentmem.memory")

MAX_SLOTS: Final = 64
# Locks this process holds, kept open for its lifetime: a second adapter of the same
# agent in this process reuses the file (one process, one in-flight guard per store).
_HELD: dict[Path, IO[bytes]] = {}


def _slot(base: Path, n: int) -> Path:
    return base if n == 0 else base.with_name(f"{base.stem}-{n}{base.suffix}")


def claim_fallback_file(base: Path) -> Path:
    """``base`` if no other process uses it, else the first free numbered sibling."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        log.warning("no flock on this platform: processes of one agent share %s", base)
        return base
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(MAX_SLOTS):
        path = _slot(base, n)
        if path in _HELD:
            return path
        lock = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _HELD[path] = lock
        if n:
            log.info("fallback file %s is in use by another process: using %s", base, path)
        return path
    raise ConfigurationError(
        f"all {MAX_SLOTS} fallback files next to {base} are in use by running processes; "
        "give this agent its own file with sqlite_path= or AGENTMEM_SQLITE_PATH"
    )
