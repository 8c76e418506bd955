"""Mem0's history store (SQLite `history` table: memory ADD/UPDATE/DELETE events) → raw_memory_history.

Read with the stdlib sqlite3 in read-only URI mode (never writes, never creates the file). Only sizes leave
the history DB: the UTF-8 byte lengths of old/new memory texts are computed by SQLite. Incremental by SQLite
rowid (the checkpoint keeps the last one read); idempotent by the primary key (source_db, history_id).
Event time = updated_at, else created_at (for UPDATE/DELETE Mem0's created_at is the memory's birth).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import suppress
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
TEXT_COLUMNS = tuple(i for i, t in enumerate(TYPES) if t == pa.string())
# mem0's history table (mem0/memory/storage.py); another `history` table is refused before anything is read.
MEM0_COLUMNS = ("id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
                "actor_id", "role")
SELECT_NEW = read_sql("history_select_new.sql")  # runs in SQLite, on mem0's history DB
ANCHOR = read_sql("history_anchor.sql")  # runs in SQLite: identifies the rows already read


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
        db.text_factory = bytes  # decoded per value (_clean): one row with invalid UTF-8 must not stop the rest
        tables = {r[0].decode("utf-8", "replace")
                  for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1].decode("utf-8", "replace") for r in db.execute("PRAGMA table_info(history)")}
    except sqlite3.Error as exc:
        raise CollectorError(f"cannot read Mem0 history DB {db_path}: {exc}") from exc
    if "history" not in tables:
        db.close()
        raise CollectorError(f"{db_path}: no `history` table (is this a Mem0 history DB?)")
    missing = [c for c in MEM0_COLUMNS if c not in columns]
    if missing:
        db.close()
        raise CollectorError(f"{db_path}: its `history` table is not Mem0's (no column {', '.join(missing)}); "
                             "pass --db with the history.db of a Mem0 instance")
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
            cursor = _sqlite(db, db_path, SELECT_NEW, [last_rowid])
            while rows := _fetch(cursor, cfg.collector.batch_lines, db_path):
                last_rowid = rows[-1][0]
                anchor = _anchor(db, db_path, last_rowid)
                _load_batch(con, key, rows, identity, last_rowid, anchor, st, result)
            if result.rows_loaded and refresh:
                refresh_rollups(con, result)
    finally:
        db.close()
    return result


def _sqlite(db: sqlite3.Connection, db_path: Path, sql: str, params: list) -> sqlite3.Cursor:
    try:
        return db.execute(sql, params)
    except sqlite3.Error as exc:  # locked by a writer past the timeout, or damaged
        raise CollectorError(f"cannot read Mem0 history DB {db_path}: {exc}") from exc


def _fetch(cursor: sqlite3.Cursor, n: int, db_path: Path) -> list[tuple]:
    try:
        return cursor.fetchmany(n)
    except sqlite3.Error as exc:  # locked by a writer past the timeout, or damaged
        raise CollectorError(f"cannot read Mem0 history DB {db_path}: {exc}") from exc


def _anchor(db: sqlite3.Connection, db_path: Path, rowid: int) -> str:
    """sha256 of (rows up to `rowid`, first row's id, the id at `rowid`): equal only for the same table grown."""
    count, first_id, last_id = _sqlite(db, db_path, ANCHOR, [rowid, rowid]).fetchone()
    h = hashlib.sha256(f"{count}:{rowid}:".encode())
    for part in (first_id, last_id):
        h.update(b"\x00" if part is None else b"\x01" + bytes(part) + b"\x00")
    return h.hexdigest()


def _resume_rowid(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, key: str, identity: str,
                  result: IngestResult) -> int:
    """The last rowid read, or 0 when the DB was replaced or its table re-created or rewritten (Memory.reset()
    drops and re-creates `history` in the same file: same inode, rowids from 1 again, maybe already past the
    checkpoint). The table is the same only if the rows up to the checkpoint are still those that were read."""
    cp = con.execute("SELECT file_identity, byte_offset, head_sha FROM raw_ingest_checkpoints WHERE source_file = ?",
                     [key]).fetchall()
    if not cp:
        return 0
    identity_then, rowid_then, anchor_then = cp[0]
    if anchor_then is None:  # written before anchors were kept: only a shorter table can be told apart
        [(max_rowid,)] = _sqlite(db, Path(key), "SELECT coalesce(max(rowid), 0) FROM history", []).fetchall()
        same = identity_then == identity and max_rowid >= rowid_then
    else:
        same = identity_then == identity and _anchor(db, Path(key), rowid_then) == anchor_then
    if not same:
        result.messages.append(f"{key}: replaced, reset or rewritten since the last run; read again from the start")
        return 0
    return rowid_then


def _clean(rows: list[tuple]) -> tuple[list[tuple], list[tuple[int, str, str]]]:
    """Rows with text decoded and is_deleted an integer, plus (rowid, reason, excerpt) of the rows that cannot be:
    invalid UTF-8 in a text column, is_deleted neither 0/1 nor another integer."""
    good: list[tuple] = []
    bad: list[tuple[int, str, str]] = []
    for row in rows:
        values = list(row)
        reason = None
        for i in TEXT_COLUMNS:
            v = values[i]
            if isinstance(v, bytes):
                try:
                    values[i] = v.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reason = reason or f"{COLUMNS[i]}: invalid UTF-8 at byte {exc.start + 1}"
                    values[i] = v.decode("utf-8", "backslashreplace")
        flag = values[8]
        if flag is not None and (isinstance(flag, bool) or not isinstance(flag, int)):
            shown = flag.decode("utf-8", "backslashreplace") if isinstance(flag, bytes) else flag
            reason = reason or f"is_deleted: expected 0 or 1, got {str(shown)[:40]!r}"
        if reason:
            bad.append((values[0], reason, f"id={values[1]} memory_id={values[2]} event={values[3]}"[:200]))
        else:
            good.append(tuple(values))
    return good, bad


def _load_batch(con: duckdb.DuckDBPyConnection, key: str, rows: list[tuple], identity: str, last_rowid: int,
                anchor: str, st: os.stat_result, result: IngestResult) -> None:
    """One transaction: upsert the rows, quarantine the unusable ones, move the checkpoint."""
    good, bad = _clean(rows)
    columns = list(zip(*good, strict=True)) if good else [[] for _ in COLUMNS]
    batch = pa.table({name: pa.array(col, typ) for name, col, typ in zip(COLUMNS, columns, TYPES, strict=True)})
    rejected = pa.table({"rid": pa.array([b[0] for b in bad], pa.int64()), "reason": [b[1] for b in bad],
                         "excerpt": [b[2] for b in bad]}, schema=pa.schema(
                             [("rid", pa.int64()), ("reason", pa.string()), ("excerpt", pa.string())]))
    now = utcnow()
    con.register("history_batch", batch)
    con.register("history_rejected", rejected)
    con.execute("BEGIN TRANSACTION")
    try:
        [(present,)] = con.execute(read_sql("history_present.sql"), [key]).fetchall()
        [(before,)] = con.execute("SELECT count(*) FROM raw_quarantine WHERE source = 'history'").fetchall()
        con.execute(read_sql("history_upsert.sql"), {"source_db": key, "ingested_at": now})
        con.execute(read_sql("history_quarantine.sql"), {"source_db": key, "quarantined_at": now})
        [(after,)] = con.execute("SELECT count(*) FROM raw_quarantine WHERE source = 'history'").fetchall()
        con.execute(read_sql("history_checkpoint.sql"),
                    [key, identity, last_rowid, key, st.st_size, st.st_mtime, anchor, now])
        con.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):  # a failed statement may have ended the transaction already
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("history_batch")
        con.unregister("history_rejected")
    quarantined = after - before
    result.rows_quarantined += quarantined
    result.rows_duplicate += present
    result.rows_loaded += len(rows) - quarantined - present
