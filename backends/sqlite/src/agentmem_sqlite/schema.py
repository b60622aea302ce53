"""The database schema, versioned with ``PRAGMA user_version`` and migrated on open.

Every file walks the same chain of migrations, a new file included, so the upgrade path
from any released version is exercised all the time:

* version 1: ``records`` (one row per record: address, bookkeeping columns used for
  filtering, the codec blob) and ``changes`` (the change log ``watch()`` polls).
* version 2: search. ``scopes`` numbers each (kind, namespace) and keeps its BM25
  statistics; ``records`` gains its FTS5 document (``terms``, ``doc_len``); the
  external-content FTS5 table ``records_fts`` and triggers keep index and statistics in
  step with ``records`` inside the same transaction as every write, sweep included.
* version 3: ``applied_ops`` remembers the op ids of increments applied to each record,
  so a replayed increment is applied once (see :mod:`agentmem.increments`).
* version 4: vectors. ``vectors`` keeps each record's embedding (int8 codes and scale)
  beside it, keyed by the record's rowid and numbered by scope, so ``nearest()`` reads
  codes without decoding records. Writes maintain it in their own transaction; a
  trigger removes a record's vector with the record (delete, sweep, replace).
* version 5: ``vector_log`` numbers every change to ``vectors`` (triggers, same
  transaction) and keeps the latest 16,384, so a process's copy of a collection's vectors
  (:mod:`agentmem_sqlite.vector_cache`) reads only the rows changed since its last search.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import aiosqlite

from agentmem import Codec, ConfigurationError, CorruptRecord
from agentmem_sqlite.columns import document_tokens

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "migrate"]

log = logging.getLogger("agentmem.sqlite.schema")

APPLICATION_ID: Final = 0x61676D31  # "agm1": marks the file as an agentmem store
SCHEMA_VERSION: Final = 5

_V1: Final = """
CREATE TABLE records (
    rid INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    blob BLOB NOT NULL,
    UNIQUE (kind, namespace, id)
);
CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    origin TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""

_V2_TABLES: Final = """
CREATE TABLE scopes (
    scope INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    n_docs INTEGER NOT NULL DEFAULT 0,
    total_len INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, namespace)
);
ALTER TABLE records ADD COLUMN terms TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN doc_len INTEGER NOT NULL DEFAULT 0;
"""

# Created after the backfill, so the FTS index is built once from finished documents.
_V2_INDEX: Final = """
CREATE VIRTUAL TABLE records_fts USING fts5(
    terms, content='records', content_rowid='rid', tokenize='ascii'
);
INSERT INTO records_fts (records_fts) VALUES ('rebuild');
UPDATE scopes SET
    n_docs = (SELECT count(*) FROM records r
              WHERE r.kind = scopes.kind AND r.namespace = scopes.namespace),
    total_len = (SELECT coalesce(sum(doc_len), 0) FROM records r
                 WHERE r.kind = scopes.kind AND r.namespace = scopes.namespace);
CREATE TRIGGER records_after_insert AFTER INSERT ON records BEGIN
    INSERT INTO records_fts (rowid, terms) VALUES (new.rid, new.terms);
    UPDATE scopes SET n_docs = n_docs + 1, total_len = total_len + new.doc_len
        WHERE kind = new.kind AND namespace = new.namespace;
END;
CREATE TRIGGER records_after_delete AFTER DELETE ON records BEGIN
    INSERT INTO records_fts (records_fts, rowid, terms) VALUES ('delete', old.rid, old.terms);
    UPDATE scopes SET n_docs = n_docs - 1, total_len = total_len - old.doc_len
        WHERE kind = old.kind AND namespace = old.namespace;
END;
CREATE TRIGGER records_after_update AFTER UPDATE ON records BEGIN
    INSERT INTO records_fts (records_fts, rowid, terms) VALUES ('delete', old.rid, old.terms);
    INSERT INTO records_fts (rowid, terms) VALUES (new.rid, new.terms);
    UPDATE scopes SET total_len = total_len - old.doc_len + new.doc_len
        WHERE kind = new.kind AND namespace = new.namespace;
END;
"""

_V3: Final = """
CREATE TABLE applied_ops (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    op_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, id, op_id)
) WITHOUT ROWID;
CREATE INDEX applied_ops_at ON applied_ops (at);
"""

_V4: Final = """
CREATE TABLE vectors (
    rid INTEGER PRIMARY KEY,
    scope INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    scale REAL NOT NULL,
    codes BLOB NOT NULL
);
CREATE INDEX vectors_scope ON vectors (scope, dim);
CREATE TRIGGER vectors_after_delete AFTER DELETE ON records BEGIN
    DELETE FROM vectors WHERE rid = old.rid;
END;
"""


_V5: Final = """
CREATE TABLE vector_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    scope INTEGER NOT NULL,
    rid INTEGER NOT NULL
);
CREATE TRIGGER vector_log_insert AFTER INSERT ON vectors BEGIN
    INSERT INTO vector_log (scope, rid) VALUES (new.scope, new.rid);
    DELETE FROM vector_log WHERE seq <= (SELECT max(seq) FROM vector_log) - 16384;
END;
CREATE TRIGGER vector_log_update AFTER UPDATE ON vectors BEGIN
    INSERT INTO vector_log (scope, rid) VALUES (new.scope, new.rid);
END;
CREATE TRIGGER vector_log_delete AFTER DELETE ON vectors BEGIN
    INSERT INTO vector_log (scope, rid) VALUES (old.scope, old.rid);
END;
"""


async def _to_v1(conn: aiosqlite.Connection, codec: Codec) -> None:
    for statement in _split(_V1):
        await conn.execute(statement)


async def _to_v2(conn: aiosqlite.Connection, codec: Codec) -> None:
    for statement in _split(_V2_TABLES):
        await conn.execute(statement)
    await conn.execute(
        "INSERT OR IGNORE INTO scopes (kind, namespace) "
        "SELECT DISTINCT kind, namespace FROM records"
    )
    rows = await conn.execute_fetchall(
        "SELECT r.rid, s.scope, r.blob FROM records r "
        "JOIN scopes s ON s.kind = r.kind AND s.namespace = r.namespace"
    )
    updates: list[tuple[str, int, int]] = []
    for rid, scope, blob in rows:
        try:
            record = codec.decode(blob)
        except CorruptRecord as exc:
            # Keep the row (get() will report it as corrupt) but leave it unsearchable.
            log.warning("record rowid %d cannot be decoded, not indexed for search: %s", rid, exc)
            continue
        terms, doc_len = document_tokens(scope, record.text, record.tags)
        updates.append((terms, doc_len, rid))
    await conn.executemany("UPDATE records SET terms = ?, doc_len = ? WHERE rid = ?", updates)
    for statement in _split(_V2_INDEX):
        await conn.execute(statement)


async def _to_v3(conn: aiosqlite.Connection, codec: Codec) -> None:
    for statement in _split(_V3):
        await conn.execute(statement)


async def _to_v4(conn: aiosqlite.Connection, codec: Codec) -> None:
    for statement in _split(_V4):
        await conn.execute(statement)
    rows = await conn.execute_fetchall(
        "SELECT r.rid, s.scope, r.blob FROM records r "
        "JOIN scopes s ON s.kind = r.kind AND s.namespace = r.namespace"
    )
    vectors: list[tuple[int, int, int, float, bytes]] = []
    for rid, scope, blob in rows:
        try:
            record = codec.decode(blob)
        except CorruptRecord as exc:
            log.warning("record rowid %d cannot be decoded, not indexed for vectors: %s", rid, exc)
            continue
        if record.embedding is not None:
            e = record.embedding
            vectors.append((rid, scope, e.dimensions, e.scale, e.codes))
    await conn.executemany(
        "INSERT INTO vectors (rid, scope, dim, scale, codes) VALUES (?, ?, ?, ?, ?)", vectors
    )


async def _to_v5(conn: aiosqlite.Connection, codec: Codec) -> None:
    for statement in _split(_V5):
        await conn.execute(statement)


def _split(script: str) -> list[str]:
    """Split a DDL script into statements (triggers contain ';' and end with 'END;')."""
    statements: list[str] = []
    current: list[str] = []
    in_trigger = False
    for line in script.strip().splitlines():
        current.append(line)
        stripped = line.strip()
        if stripped.startswith("CREATE TRIGGER"):
            in_trigger = True
        if (in_trigger and stripped == "END;") or (not in_trigger and stripped.endswith(";")):
            statements.append("\n".join(current).strip())
            current = []
            in_trigger = False
    if current and "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


MIGRATIONS: Final[dict[int, Callable[[aiosqlite.Connection, Codec], Awaitable[None]]]] = {
    1: _to_v1,
    2: _to_v2,
    3: _to_v3,
    4: _to_v4,
    5: _to_v5,
}


async def migrate(
    conn: aiosqlite.Connection, codec: Codec, path: str, *, target: int = SCHEMA_VERSION
) -> int:
    """Bring the schema up to ``target`` inside the caller's write transaction.

    Returns the version found. A file written by a newer agentmem-sqlite, or a SQLite
    file that belongs to some other application, raises :class:`ConfigurationError`.
    """
    found = await check_ownership(conn, path)
    for version in range(found + 1, target + 1):
        log.info("migrating %s to agentmem-sqlite schema version %d", path, version)
        await MIGRATIONS[version](conn, codec)
    if target > found:
        # Both pragmas live in the file header and commit with the transaction.
        await conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        await conn.execute(f"PRAGMA user_version = {target:d}")
    return int(found)


async def check_ownership(conn: aiosqlite.Connection, path: str) -> int:
    """The file's agentmem schema version (0 for a new file).

    Raises :class:`ConfigurationError` for a file written by a newer agentmem-sqlite or
    one that belongs to another application; callers check before changing anything in
    the file (even its journal mode).
    """
    ((found,),) = await conn.execute_fetchall("PRAGMA user_version")
    ((app_id,),) = await conn.execute_fetchall("PRAGMA application_id")
    if found > SCHEMA_VERSION:
        raise ConfigurationError(
            f"{path} has agentmem-sqlite schema version {found}, newer than this "
            f"installation understands ({SCHEMA_VERSION}): upgrade agentmem-sqlite"
        )
    if found == 0:
        ((n_objects,),) = await conn.execute_fetchall("SELECT count(*) FROM sqlite_schema")
        if n_objects:
            raise ConfigurationError(
                f"{path} is a SQLite database of another application (it has tables but no "
                "agentmem schema version); point agentmem at a new or agentmem-owned file"
            )
    elif app_id != APPLICATION_ID:
        raise ConfigurationError(
            f"{path} is a SQLite database of another application "
            f"(application_id {app_id:#x}); point agentmem at a new or agentmem-owned file"
        )
    return int(found)
