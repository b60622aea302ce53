"""Opening SQLite connections, and waiting out other writers' locks within a bound.

SQLite lets one connection write at a time. ``BEGIN IMMEDIATE`` takes the write lock up
front (so a transaction never has to upgrade a read lock and deadlock), SQLite's busy
handler waits for it up to ``busy_timeout``, and :func:`retrying` covers the cases where
SQLite reports SQLITE_BUSY without waiting (WAL recovery, snapshot conflicts): it retries
with jittered exponential backoff until the same bound, then raises BackendUnavailable.
So "database is locked" never reaches the caller.

Each aiosqlite connection runs its queries on a worker thread. Those threads are made
daemon threads here: a program that raises before closing its store (or forgets to) must
still exit, and Python joins non-daemon threads before any exit hook could close them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import aiosqlite

from agentmem import BackendUnavailable, ConfigurationError, CorruptRecord
from agentmem_sqlite.options import SQLiteOptions

__all__ = ["abandon", "connect", "create_private_file", "is_busy", "retrying"]

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
_STOP_WAIT: Final = 2.0


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


def _worker(conn: aiosqlite.Connection) -> threading.Thread:
    # aiosqlite exposes no option for this; its worker is the Connection's _thread.
    thread: threading.Thread = conn._thread
    return thread


async def _stopped(conn: aiosqlite.Connection) -> None:
    """Wait (bounded) until a failed connection's worker thread has ended.

    aiosqlite stops the worker of a connection that failed to open by queueing a stop
    whose completion the thread posts back to the event loop. Returning before it ran
    would leave the thread posting to a loop that may be closed by then.
    """
    thread = _worker(conn)
    deadline = time.monotonic() + _STOP_WAIT
    # A thread has no awaitable end; polling for a few milliseconds costs nothing here.
    while thread.is_alive() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    await asyncio.sleep(0)  # let the posted completion run


def abandon(conn: aiosqlite.Connection) -> None:
    """Close a connection without an event loop (interpreter exit, store never closed)."""
    thread = _worker(conn)
    if not thread.is_alive():
        return
    # aiosqlite's stop() queues the close behind any query still running on the thread.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # get_event_loop() without a loop
        conn.stop()
    thread.join(_STOP_WAIT)


async def connect(path: str, options: SQLiteOptions, *, reader: bool) -> aiosqlite.Connection:
    """Open one connection in autocommit mode (transactions are explicit) with our pragmas."""
    conn = aiosqlite.connect(path, isolation_level=None)
    _worker(conn).daemon = True
    try:
        await conn
    except sqlite3.Error as exc:
        await _stopped(conn)
        raise ConfigurationError(f"cannot open SQLite file {path}: {exc}") from exc
    except BaseException:
        await _stopped(conn)
        raise
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
