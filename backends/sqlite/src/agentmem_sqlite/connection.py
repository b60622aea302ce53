"""Opening SQLite connections, and waiting out other writers' locks within a bound.

SQLite lets one connection write at a time. ``BEGIN IMMEDIATE`` takes the write lock up
front (so a transaction never has to upgrade a read lock and deadlock), SQLite's busy
handler waits for it up to ``busy_timeout``, and :func:`retrying` covers the cases where
SQLite reports SQLITE_BUSY without waiting (WAL recovery, snapshot conflicts): it retries
with jittered exponential backoff until the same bound, then raises BackendUnavailable.
So "database is locked" never reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sqlite3
import stat
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import aiosqlite

from agentmem import BackendUnavailable, ConfigurationError, CorruptRecord
from agentmem_sqlite.options import SQLiteOptions

__all__ = ["connect", "create_private_file", "is_busy", "retrying"]

log = logging.getLogger("agentmem.sqlite.connection")

T = TypeVar("T")

_BUSY_CODES: Final = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_UNAVAILABLE_CODES: Final = (
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_PROTOCOL,
)
_CORRUPT_CODES: Final = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_FIRST_BACKOFF: Final = 0.002
_MAX_BACKOFF: Final = 0.1


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_busy(exc: BaseException) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED ("database is locked"): worth a retry."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _primary_code(exc)
    if code is not None:
        return code in _BUSY_CODES
    message = str(exc)
    return "database is locked" in message or "database table is locked" in message


def translate(exc: sqlite3.Error, path: str) -> Exception:
    """The agentmem error for a non-busy SQLite failure (the original when none fits)."""
    code = _primary_code(exc)
    if code in _UNAVAILABLE_CODES:
        return BackendUnavailable(f"SQLite file {path} is not usable right now: {exc}")
    if code in _CORRUPT_CODES:
        return CorruptRecord(f"SQLite file {path} is corrupt: {exc}")
    return exc


async def retrying(op: Callable[[], Awaitable[T]], *, bound: float, path: str) -> T:
    """Run ``op``; while it fails with a busy/locked error, retry it until ``bound`` seconds.

    ``op`` must be safe to repeat: a write transaction that failed was rolled back.
    """
    deadline = time.monotonic() + bound
    delay = _FIRST_BACKOFF
    attempts = 0
    while True:
        attempts += 1
        try:
            return await op()
        except sqlite3.Error as exc:
            if not is_busy(exc):
                raise translate(exc, path) from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendUnavailable(
                    f"SQLite file {path} stayed locked by another connection for "
                    f"{bound:g}s (busy_timeout) over {attempts} attempts: {exc}"
                ) from exc
            log.debug("%s is locked (attempt %d), retrying: %s", path, attempts, exc)
            await asyncio.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, _MAX_BACKOFF)


def create_private_file(path: str) -> None:
    """Create the database file with mode 0600 unless it exists.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions, so they
    are private too. An existing file keeps its mode; a lax one is logged.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise ConfigurationError(f"cannot open SQLite file {path}: {exc.strerror}") from exc
        if stat.S_ISREG(mode) and mode & 0o077:
            log.warning(
                "SQLite file %s is readable by other users (mode %o); chmod 600 it",
                path,
                stat.S_IMODE(mode),
            )
        return
    except OSError as exc:
        raise ConfigurationError(f"cannot create SQLite file {path}: {exc.strerror}") from exc
    os.close(fd)


async def connect(path: str, options: SQLiteOptions, *, reader: bool) -> aiosqlite.Connection:
    """Open one connection in autocommit mode (transactions are explicit) with our pragmas."""
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open SQLite file {path}: {exc}") from exc
    try:
        busy_ms = max(1, int(options.busy_timeout * 1000))
        await conn.execute(f"PRAGMA busy_timeout = {busy_ms:d}")
        await conn.execute(f"PRAGMA synchronous = {options.synchronous.upper()}")
        if reader:
            await conn.execute("PRAGMA query_only = ON")
        # Touch the file now so a non-database or unreadable file fails at open time.
        await retrying(
            lambda: conn.execute_fetchall("SELECT count(*) FROM sqlite_schema"),
            bound=options.busy_timeout,
            path=path,
        )
    except BaseException as exc:
        await conn.close()
        if isinstance(exc, (sqlite3.Error, CorruptRecord)) or (
            isinstance(exc, BackendUnavailable) and not is_busy(exc.__cause__ or exc)
        ):
            raise ConfigurationError(f"cannot open SQLite file {path}: {exc}") from exc
        raise
    return conn
