"""Mem0's history store (SQLite `history` table: memory ADD/UPDATE/DELETE events) → raw_memory_history.

Read with the stdlib sqlite3 in read-only URI mode (never writes, never creates the file). Only sizes leave
the history DB: the UTF-8 byte lengths of old/new memory texts are computed by SQLite. Incremental by SQLite
rowid (the checkpoint keeps the last one read); idempotent by the primary key (source_db, history_id).
Event time = updated_at, else created_at (for UPDATE/DELETE Mem0's created_at is the memory's birth).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import duckdb
import pyarrow as pa

from memlens.collectors.base import (
    CollectorError,
    IngestResult,
    collection_run,
    display_path,
    read_sql,
    refresh_rollups,
    utcnow,
)
from memlens.config import Config, default_config

COLUMNS = ("rid", "id", "memory_id", "event", "old_bytes", "new_bytes", "created_at", "updated_at", "is_deleted",
           "actor_id", "role")
TYPES = (pa.int64(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.string(),
         pa.int64(), pa.string(), pa.string())
SELECT_NEW = read_sql("history_select_new.sql")  # runs in SQLite, on mem0's history DB


def default_history_db() -> Path:
    """Where mem0 keeps it by default: $MEM0_DIR/history.db, else ~/.mem0/history.db."""
    base = os.environ.get("MEM0_DIR")
    return (Path(base).expanduser() if base else Path.home() / ".mem0") / "history.db"


def open_readonly(db_path: Path, timeout_s: float) -> sqlite3.Connection:
    if not db_path.is_file():
        raise CollectorError(f"Mem0 history DB not found: {db_path} (pass --db, or set MEM0_DIR)")
    uri = f"file:{quote(str(db_path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=timeout_s)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise CollectorError(f"cannot read Mem0 history DB {db_path}: {exc}") from exc
    if "history" not in tables:
        db.close()
        raise CollectorError(f"{db_path}: no `history` table (is this a Mem0 history DB?)")
    return db


def collect_history(con: duckdb.DuckDBPyConnection, db_path: Path, cfg: Config | None = None, *,
                    refresh: bool = True) -> IngestResult:
    """Copy new history rows (sizes, times, ids) from a Mem0 history DB; see the module docstring. `refresh=False`:
    the caller rebuilds the rollups once after loading several sources (see collect_oplogs)."""
    cfg = cfg or default_config()
    db_path = Path(db_path).expanduser()
    db = open_readonly(db_path, cfg.collector.sqlite_timeout_seconds)  # before the run: a missing DB changes nothing
    key = display_path(db_path)
    try:
        with collection_run(con, "history", key) as book:
            result = book.result
            result.files_seen = 1
            st = db_path.stat()
            identity = f"{st.st_dev}:{st.st_ino}"
            last_rowid = _resume_rowid(con, db, key, identity, result)
            cursor = db.execute(SELECT_NEW, [last_rowid])
            while rows := _fetch(cursor, cfg.collector.batch_lines, db_path):
                last_rowid = rows[-1][0]
                _load_batch(con, key, rows, identity, last_rowid, st, result)
            if result.rows_loaded and refresh:
                refresh_rollups(con, result)
    finally:
        db.close()
    return result


def _fetch(cursor: sqlite3.Cursor, n: int, db_path: Path) -> list[tuple]:
    try:
        return cursor.fetchmany(n)
    except sqlite3.Error as exc:  # locked by a writer past the timeout, or damaged
        raise CollectorError(f"cannot read Mem0 history DB {db_path}: {exc}") from exc


def _resume_rowid(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, key: str, identity: str,
                  result: IngestResult) -> int:
    """The last rowid read, or 0 when the DB was replaced or reset (Memory.reset() drops the table)."""
    cp = con.execute("SELECT file_identity, byte_offset FROM raw_ingest_checkpoints WHERE source_file = ?",
                     [key]).fetchall()
    if not cp:
        return 0
    try:
        max_rowid = db.execute("SELECT coalesce(max(rowid), 0) FROM history").fetchall()[0][0]
    except sqlite3.Error as exc:
        raise CollectorError(f"cannot read Mem0 history DB {key}: {exc}") from exc
    identity_then, rowid_then = cp[0]
    if identity_then != identity or max_rowid < rowid_then:
        result.messages.append(f"{key}: replaced or reset since the last run; read again from the start")
        return 0
    return rowid_then


def _load_batch(con: duckdb.DuckDBPyConnection, key: str, rows: list[tuple], identity: str, last_rowid: int,
                st: os.stat_result, result: IngestResult) -> None:
    """One transaction: upsert the rows, quarantine the unusable ones, move the checkpoint."""
    columns = list(zip(*rows, strict=True))
    batch = pa.table({name: pa.array(col, typ) for name, col, typ in zip(COLUMNS, columns, TYPES, strict=True)})
    now = utcnow()
    con.register("history_batch", batch)
    con.execute("BEGIN TRANSACTION")
    try:
        [(present,)] = con.execute(read_sql("history_present.sql"), [key]).fetchall()
        [(before,)] = con.execute("SELECT count(*) FROM raw_quarantine WHERE source = 'history'").fetchall()
        con.execute(read_sql("history_upsert.sql"), {"source_db": key, "ingested_at": now})
        con.execute(read_sql("history_quarantine.sql"), {"source_db": key, "quarantined_at": now})
        [(after,)] = con.execute("SELECT count(*) FROM raw_quarantine WHERE source = 'history'").fetchall()
        con.execute(read_sql("history_checkpoint.sql"),
                    [key, identity, last_rowid, key, st.st_size, st.st_mtime, now])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("history_batch")
    quarantined = after - before
    result.rows_quarantined += quarantined
    result.rows_duplicate += present
    result.rows_loaded += len(rows) - quarantined - present
