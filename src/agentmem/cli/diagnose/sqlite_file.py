"""A SQLite file's existence and schema version, read-only, before any store opens it
(opening would create a missing file and migrate an old one)."""

from __future__ import annotations

import importlib
import os
import sqlite3
from urllib.parse import quote, unquote, urlsplit

from agentmem.cli.diagnose.findings import Finding, Status
from agentmem.cli.urls import display_url

__all__ = ["check_sqlite_file"]


def _sqlite_path(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        return None
    raw = url[len("sqlite://") :].partition("?")[0]
    return os.path.abspath(unquote(raw)) if raw else None


def _schema_version_of(path: str) -> int:
    # Read-only URI: looking must not create, migrate or lock-upgrade the file.
    uri = "file:" + quote(path) + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.close()
    return int(version)


def check_sqlite_file(url: str, *, role: str) -> Finding | None:
    """The file's existence and agentmem schema version, before anything opens it."""
    path = _sqlite_path(url)
    if path is None:
        return None
    where = display_url(url)
    if not os.path.exists(path):
        # The main store: a typo would silently open a new, empty store. A fallback file
        # is created on purpose on first use.
        status: Status = "fail" if role == "store" else "warn"
        return Finding(
            "sqlite file", status, f"{path} does not exist (opening creates it empty)", where
        )
    try:
        found = _schema_version_of(path)
    except sqlite3.Error as exc:
        return Finding("sqlite schema", "fail", f"cannot read {path}: {exc}", where)
    try:
        expected = int(importlib.import_module("agentmem_sqlite").SCHEMA_VERSION)
    except (ImportError, AttributeError):
        return Finding(
            "sqlite schema", "warn", f"schema version {found}; agentmem-sqlite missing", where
        )
    if found > expected:
        return Finding(
            "sqlite schema",
            "fail",
            f"schema version {found} is newer than this agentmem-sqlite ({expected}): upgrade it",
            where,
        )
    if found < expected:
        return Finding(
            "sqlite schema",
            "warn",
            f"schema version {found}; opening migrates it to {expected}",
            where,
        )
    return Finding("sqlite schema", "ok", f"schema version {found} (current)", where)
