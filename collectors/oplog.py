"""Op-log collector: op-log (schema v1 or v2) JSONL (.jsonl, .log, gzip, logrotate's rotated names) and Parquet
→ raw_op_events.

Three stages, each with one job:

1. Which part of each file is new (`collectors/logfiles.py`): checkpoints belong to content, not names, so a rotated
   file (renamed, copied before a copytruncate, compressed later) continues the checkpoint of the file it was, and
   a file replaced by other content is read again. An untouched file is not even opened.
2. Cutting it into lines (`LineReader`, `lines_table`), bounded in memory (collector.read_bytes), hashing every byte
   it consumes (the next checkpoint's content identity). A partially written last line, and the end of a gzip
   stream still being written, are left for the next run.
3. Loading (`OplogLoader`): the lines of one or more files (small files share a transaction) are validated in
   DuckDB (collectors/sql/oplog_check.sql), and their good rows, their quarantined lines and the moved checkpoints
   are committed in ONE transaction: a crash between transactions never loses or double-counts an event.
   On a ClickHouse warehouse the validation still runs in DuckDB, in this process, and the accepted rows are
   shipped to the warehouse after it (`OplogLoader` says how the guarantees hold there).
   Events are idempotent by event_id; quarantined lines by line_key (the stream, the line number and the line's
   bytes), so the same line read again under another name is counted as a duplicate, never quarantined twice.

Stages 1 and 2 run in a worker thread one step ahead of stage 3 (`read_ahead`).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memlens import backend, schema
from memlens.collectors.base import (
    EXCERPT_CHARS,
    SECRET_PATTERN,
    IngestResult,
    collection_run,
    display_path,
    excerpt,
    read_sql,
    refresh_rollups,
    utcnow,
)
from memlens.collectors.logfiles import (
    Batch,
    Checkpoint,
    CheckpointIndex,
    Rejected,
    discover,
    file_identity,
    file_sha256,
    log_kind,
    read_pieces,
    save_checkpoints,
)
from memlens.config import Config
from memlens.warehouse import layout

PARQUET_FETCH_ROWS = 16_384  # rows DuckDB hands over per step while streaming a Parquet file
LINE_BITS = 40  # a row of a transaction is keyed (file number << LINE_BITS) | line number
LINE_MASK = (1 << LINE_BITS) - 1
PROBE_KEYS = 10_000  # event_ids / line_keys per duplicate probe of a ClickHouse warehouse (bound: bounded size)
NO_LINES = pa.table({"line_no": pa.array([], pa.int64()), "line": pa.array([], pa.string())})

# JSON types (DuckDB json_type names) a field of each schema type may hold; JSON null = not given.
JSON_TYPES = {"string": ["VARCHAR"], "timestamp": ["VARCHAR"], "integer": ["BIGINT", "UBIGINT"],
              "number": ["BIGINT", "UBIGINT", "DOUBLE"], "boolean": ["BOOLEAN"], "array<string>": ["ARRAY"]}
EXPECTED = {"string": "string", "timestamp": "ISO 8601 timestamp string", "integer": "integer", "number": "number",
            "boolean": "boolean", "array<string>": "array of strings"}

ProgressFn = Callable[[int, int, str], None]
T = TypeVar("T")


def lines_table(batch: Batch, max_line_bytes: int) -> tuple[pa.Table, list[Rejected]]:
    """The batch as an Arrow table (line_no, line) plus the lines rejected before parsing.

    Fast path: the whole batch is valid UTF-8 and no line is too long, so the Arrow string column is built
    zero-copy over the batch bytes (each value keeps its trailing newline, which JSON parsing ignores).
    """
    data = batch.data
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    starts = np.concatenate(([0], ends[:-1]))
    line_nos = np.arange(batch.first_line, batch.first_line + len(ends), dtype=np.int64)
    too_long = (ends - starts - 1) > max_line_bytes
    try:
        data.decode("utf-8")
        utf8_ok = True
    except UnicodeDecodeError:
        utf8_ok = False
    if utf8_ok and not too_long.any():
        offsets = np.concatenate(([0], ends)).astype(np.int32)
        lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
        return pa.table({"line_no": line_nos, "line": lines}), []
    rejected: list[Rejected] = []
    values: list[str | None] = []
    for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        raw = data[s:e]
        if too_long[i]:
            rejected.append(Rejected(int(line_nos[i]), f"line is {e - s - 1:,} bytes, over "
                                     f"collector.max_line_bytes {max_line_bytes:,}", raw[:EXCERPT_CHARS * 4]))
            values.append(None)
            continue
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            rejected.append(Rejected(int(line_nos[i]), f"invalid UTF-8 at byte {exc.start + 1} of the line", raw))
            values.append(None)
    keep = [v is not None for v in values]
    table = pa.table({"line_no": line_nos, "line": pa.array(values, pa.string())}).filter(pa.array(keep))
    return table, rejected


def _parallel(table: pa.Table, rows_per_batch: int = 16_384) -> pa.Table:
    """DuckDB scans an Arrow table one record batch per thread: hand it several (slices, no copy)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows_per_batch), table.schema)


# ---- parts: what the reader hands the loader ------------------------------------------------------------------

@dataclass
class Part:
    """A piece of one file, ready to commit: its lines (Arrow: line_no, line; for the typed rows of a Parquet file,
    line_no, row and their `columns`), the lines rejected before parsing, and the checkpoint that holds once they
    are committed. `nbytes`: bytes of lines; `progress`: bytes of the file itself gone through (the progress bar's
    unit)."""
    key: str
    stream_key: str
    table: pa.Table
    rejected: list[Rejected]
    checkpoint: Checkpoint | None
    nbytes: int = 0
    progress: int = 0
    messages: list[str] = field(default_factory=list)
    columns: dict[str, str] | None = None  # typed Parquet rows (table: line_no, row): schema field -> column type


def line_key(stream_key: str, line_no: int, raw: bytes) -> str:
    """The identity of one line of one log (the same in oplog_bad.sql for the lines DuckDB rejects)."""
    return hashlib.sha256(f"{stream_key}:{line_no}:".encode() + raw).hexdigest()


def _text_parts(path: Path, key: str, kind: str, index: CheckpointIndex, cfg: Config) -> Iterator[Part]:
    """The unread part of one JSONL file (plain or gzip), batch by batch, then its closing checkpoint."""
    for piece in read_pieces(path, key, kind, index, cfg.collector, cfg.collector.batch_lines):
        if piece.batch is None:
            yield Part(key, piece.stream_key, NO_LINES, piece.rejected, piece.checkpoint, 0, piece.progress,
                       piece.messages)
            continue
        table, rejected = lines_table(piece.batch, cfg.collector.max_line_bytes)
        yield Part(key, piece.stream_key, table, piece.rejected + rejected, piece.checkpoint, len(piece.batch.data),
                   piece.progress, piece.messages)


def _parquet_parts(path: Path, key: str, index: CheckpointIndex, cfg: Config,
                   duck: Callable[[], duckdb.DuckDBPyConnection]) -> Iterator[Part]:
    """A Parquet file, streamed by DuckDB in record batches and cut into parts of at most batch_lines rows or
    read_bytes bytes (memory stays bounded, whatever the file's size or row groups). Each row is the JSON object it
    would have been as a log line (to_json of the row); its row number is its line number. When the file's columns
    have types the typed check reads (`typed_columns`), the rows stay typed (checked by check_rows, and turned into
    JSON lines only when a part has a row that misses it). Identity: the file's sha256."""
    c = cfg.collector
    st = path.stat()
    identity = file_identity(st)
    own = index.own(key)
    if own is not None and (own.unchanged(identity, st) or _legacy_parquet_done(own, path, st)):
        return
    sha = file_sha256(path)
    known = [cp for cp in index.candidates(sha, None) if cp.prefix_sha == sha]
    if own is not None and own.prefix_sha == sha:
        known.append(own)
    best = max(known, key=lambda cp: (cp.file_size is not None, cp.line_no), default=None)
    messages = []
    if best is not None and best.key != key:
        messages.append(f"{key}: the same file as {best.key}; read from row {best.line_no + 1:,}")
    elif own is not None and best is None:
        messages.append(f"{key}: replaced since the last run (its content differs); read again from the start")
    start = best.line_no if best is not None else 0

    def done(rows: int) -> Checkpoint:
        return Checkpoint(key, identity, st.st_size, rows, st.st_size, st.st_mtime, st.st_ctime, sha, sha)

    if best is not None and best.file_size is not None:  # every row of this content was read already
        cp = done(best.line_no)
        index.add(cp)
        yield Part(key, sha, NO_LINES, [], cp, progress=st.st_size, messages=messages)
        return
    rows = start
    try:
        columns = typed_columns(duck(), path)
        # typed rows (each row a struct, as its JSON line would be: to_json(row)), else the rows as JSON lines
        value = "p AS row" if columns is not None else "to_json(p)::VARCHAR AS line"
        reader = duck().sql(
            f"SELECT file_row_number + 1 AS line_no, {value} "
            "FROM read_parquet(?, file_row_number = true) p WHERE file_row_number >= ?",
            params=[str(path), start]).to_arrow_reader(PARQUET_FETCH_ROWS)
        held: list[pa.RecordBatch] = []
        held_rows = held_bytes = 0
        for rb in _batches_then_end(reader):
            if rb is not None:
                held.append(rb)
                held_rows += rb.num_rows
                held_bytes += rb.column(1).nbytes
            while held_rows and (rb is None or held_rows >= c.batch_lines or held_bytes >= c.read_bytes):
                # a part of at most batch_lines rows and about read_bytes bytes; the rest waits for the next one
                table = pa.Table.from_batches(held)
                n = min(held_rows, c.batch_lines, max(1, held_rows * c.read_bytes // max(held_bytes, 1)))
                part, rest = table.slice(0, n), table.slice(n)
                rows = int(pc.max(part["line_no"]).as_py())
                cp = Checkpoint(key, identity, st.st_size, rows, None, None, None, sha, sha)
                index.add(cp)
                nbytes = part.column(1).nbytes
                yield Part(key, sha, part, [], cp, nbytes, 0, messages, columns)
                held, messages = rest.to_batches(), []
                held_rows, held_bytes = rest.num_rows, held_bytes - nbytes
    except duckdb.Error as exc:  # the rows before the damage are loaded; the file itself is quarantined (line 0)
        cp = done(rows)
        index.add(cp)
        yield Part(key, sha, NO_LINES, [Rejected(0, f"unreadable Parquet file: {exc}", b"")], cp,
                   progress=st.st_size, messages=[*messages, f"{key}: unreadable Parquet file, quarantined"])
        return
    cp = done(rows)
    index.add(cp)
    yield Part(key, sha, NO_LINES, [], cp, progress=st.st_size, messages=messages)


def _batches_then_end(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch | None]:
    yield from reader
    yield None


def _legacy_parquet_done(own: Checkpoint, path: Path, st: Any) -> bool:
    """A Parquet checkpoint of an older memlens (identity size:mtime_ns:sha256 of the first 4 KiB), still true."""
    if own.prefix_sha is not None or own.identity is None or own.identity.count(":") != 2:
        return False
    with path.open("rb") as f:
        head = hashlib.sha256(f.read(4096)).hexdigest()
    return own.identity == f"{st.st_size}:{st.st_mtime_ns}:{head}"


# Column types (DuckDB's names) of a Parquet file that the typed check reads as the JSON check reads the row's
# to_json text: integers for an integer field, integers or DOUBLE for a number (not FLOAT: its text is its shortest
# float repr, not the double's), VARCHAR, BOOLEAN, VARCHAR[] for the others, a timestamp or an ISO 8601 text for ts.
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
PARQUET_TYPES = {"integer": INTEGER_TYPES, "number": (*INTEGER_TYPES, "DOUBLE"), "string": ("VARCHAR",),
                 "boolean": ("BOOLEAN",), "array<string>": ("VARCHAR[]",),
                 "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "VARCHAR")}


def typed_columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str] | None:
    """The schema fields among a Parquet file's columns with their types, when every one has a type the typed
    check reads (PARQUET_TYPES) and no column name differs from a field's only by case (DuckDB would bind it to
    the field, the JSON line keeps it apart); None otherwise (the rows then go as JSON lines)."""
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    lower = {f.name.lower() for f in schema.FIELDS}
    names = [name for name, *_ in described]
    if len({n.lower() for n in names}) != len(names):
        return None
    columns = {}
    for name, typ, *_ in described:
        f = schema.FIELD_BY_NAME.get(name)
        if f is None and name.lower() in lower:
            return None
        if f is not None:
            if typ not in PARQUET_TYPES[f.json_type]:
                return None
            columns[name] = typ
    return columns


def _row_value(f: schema.Field, typ: str | None) -> str:
    """The field's value from `row` (a typed Parquet row), typed as the raw table's column: the value the JSON
    check gives its to_json text."""
    v = f"row.\"{f.name}\""
    if typ is None:
        return f"NULL::{f.duckdb_type}"
    if f.json_type == "integer":
        return f"TRY_CAST({v} AS {f.duckdb_type})"
    if f.json_type == "number":
        return f"CAST({v} AS DOUBLE)"
    if f.json_type == "timestamp":
        return (f"TRY_CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)" if typ == "VARCHAR"
                else f"CAST({v} AS TIMESTAMP)")
    return v


def check_rows(con: duckdb.DuckDBPyConnection, columns: dict[str, str], fast_params: dict[str, Any]) -> bool:
    """oplog_checked for the typed rows of the view `oplog_rows(line_no, row)` (collectors/sql/oplog_fast_ok.sql,
    as the JSON lines' check): True when every row is fast_ok; else nothing is decided (the caller checks the rows
    as JSON lines)."""
    ts = next(f for f in schema.FIELDS if f.json_type == "timestamp")
    given = " + ".join(f'(row."{n}" IS NOT NULL)::INT' for n in columns) or "0"
    typed = ", ".join(f'{_row_value(f, columns.get(f.name))} AS "{f.name}"' for f in schema.FIELDS)
    ts_text = f'row."{ts.name}"::VARCHAR' if ts.name in columns else "NULL::VARCHAR"
    # names from our schema and types from PARQUET_TYPES only: nothing of the file is spliced in
    con.execute("CREATE OR REPLACE TEMP TABLE oplog_checked AS WITH typed AS ("
                f"SELECT line_no, true AS is_json, true AS is_object, {ts_text} AS ts_text, {given} AS n_given, "
                f"NULL::VARCHAR[] AS keys, {typed} FROM oplog_rows)\n" + read_sql("oplog_fast_ok.sql"),
                {k: v for k, v in fast_params.items() if k != "safe"})
    [(slow,)] = con.execute("SELECT count(*) FROM oplog_checked WHERE NOT fast_ok").fetchall()
    return slow == 0


def file_parts(files: list[Path], index: CheckpointIndex, cfg: Config) -> Iterator[Part]:
    """Every new part of every file, in order. A file that vanishes or cannot be read is reported (a part with a
    message only) and the others go on."""
    private: list[duckdb.DuckDBPyConnection] = []

    def duck() -> duckdb.DuckDBPyConnection:  # this thread's own DuckDB, for reading Parquet
        if not private:
            private.append(duckdb.connect())
        return private[0]

    try:
        for path in files:
            key = display_path(path)
            kind = log_kind(path)
            try:
                if kind == "parquet":
                    yield from _parquet_parts(path, key, index, cfg, duck)
                else:
                    yield from _text_parts(path, key, kind, index, cfg)
            except OSError as exc:  # vanished or unreadable file: the others still load
                yield Part(key, "", NO_LINES, [], None,
                           messages=[f"{key}: skipped, {type(exc).__name__}: {exc.strerror or exc}"])
    finally:
        for con in private:
            con.close()


# ---- loading ----------------------------------------------------------------------------------------------------

class OplogLoader:
    """Loads parts into the warehouse. Parts are gathered until they hold collector.batch_lines lines or
    collector.read_bytes bytes, then committed in one transaction (rows + quarantine + checkpoints): a big file
    commits batch by batch, thousands of small files share a few transactions.

    Lines are validated by DuckDB in this process whatever the warehouse: in the warehouse itself when it is a
    DuckDB one; otherwise (ClickHouse) in `work`, an in-memory DuckDB with the raw tables, which gets the warehouse's
    rows of the transaction's event_ids and line_keys for the duplicate checks (`_probe_events`,
    `_probe_quarantine`), and whose accepted rows are then inserted into the warehouse: events, then quarantine,
    then the checkpoints (`ship`). The mapped collectors (OTel, Platform) validate and ship through the same
    `verdict` and `ship`. A crash between them leaves the parts to be read again, and their events and
    lines then count as duplicates (same content, same line_key), never twice."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, result: IngestResult) -> None:
        self.con, self.cfg, self.result = con, cfg, result
        self.staged = backend.dialect(con) != "duckdb"
        self.work = _validation_warehouse() if self.staged else con
        if self.staged:
            weakref.finalize(self, self.work.close)  # also for loaders nobody closes (MappedLoader's)
        self.now = utcnow()
        self.pending: list[Part] = []
        self.pending_lines = self.pending_bytes = 0
        c = cfg.collector
        self.check_params = {
            "names": [f.name for f in schema.FIELDS],
            "paths": [f'$."{f.name}"' for f in schema.FIELDS],
            "allowed": [[*JSON_TYPES[f.json_type], "NULL"] for f in schema.FIELDS],
            "expected": [EXPECTED[f.json_type] for f in schema.FIELDS],
            "required": [f.required for f in schema.FIELDS],
            "int_names": [f.name for f in schema.FIELDS if f.json_type == "integer"],
            "schema_version": schema.SCHEMA_VERSION, **schema.choice_params(), "max_latency_ms": c.max_latency_ms,
            "latest_ts": self.now + timedelta(seconds=c.max_future_seconds),
            "earliest_ts": datetime.combine(c.min_ts, time.min),
        }
        fast = ("names", "schema_version", *schema.choice_params(), "max_latency_ms", "latest_ts",
                "earliest_ts")
        self.fast_params = {k: v for k, v in self.check_params.items() if k in fast}
        self.reason_params = self.check_params
        self.key_params = {"line_bits": LINE_BITS, "line_mask": LINE_MASK}
        self.work.execute(read_sql("oplog_macros.sql"))

    def close(self) -> None:
        if self.staged:
            self.work.close()

    def add(self, part: Part) -> None:
        self.result.messages.extend(part.messages)
        if part.checkpoint is None and not part.rejected:
            return
        if part.columns is not None:  # typed rows: a transaction of their own (files differ in columns)
            self.flush()
            self.pending = [part]
            self.pending_bytes = part.nbytes
            self.flush()
            return
        c, lines = self.cfg.collector, part.table.num_rows + len(part.rejected)
        if self.pending_lines + lines > c.batch_lines or self.pending_bytes + part.nbytes > c.read_bytes:
            self.flush()  # a transaction holds at most batch_lines lines and read_bytes bytes (or one bigger part)
        self.pending.append(part)
        self.pending_lines += lines
        self.pending_bytes += part.nbytes
        if self.pending_lines >= c.batch_lines or self.pending_bytes >= c.read_bytes:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            parts, self.pending = self.pending, []
            self.pending_lines = self.pending_bytes = 0
            self.commit(parts)
            self.result.bytes_read += sum(p.nbytes for p in parts)

    def commit(self, parts: list[Part]) -> None:
        """One transaction: validate and insert the lines of `parts`, quarantine, move their checkpoints."""
        con = self.work
        # The batch's temp tables and its insert need not keep row order (rows are keyed by line_no and every
        # consumer orders what it reads): DuckDB then writes them in parallel without re-ordering, about 40 % less
        # CPU to materialise a batch. The connection's own setting is restored after.
        [(keep_order,)] = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        con.execute("SET preserve_insertion_order = false")
        try:
            self._commit(con, parts)
        finally:
            con.execute(f"SET preserve_insertion_order = {bool(keep_order)}")

    def _commit(self, con: duckdb.DuckDBPyConnection, parts: list[Part]) -> None:
        files: dict[tuple[str, str], int] = {}
        tables, rejected = [], []
        for p in parts:
            file_no = files.setdefault((p.key, p.stream_key), len(files))
            base = file_no << LINE_BITS
            if p.table.num_rows:
                tables.append(p.table.set_column(0, "line_no", pc.add(p.table["line_no"], base)))
            rejected += [(base | r.line_no, r.reason, excerpt(r.raw.decode("utf-8", "replace")),
                          line_key(p.stream_key, r.line_no, r.raw)) for r in p.rejected]
        chunk = _parallel(pa.concat_tables(tables)) if tables else NO_LINES
        checkpoints = {p.checkpoint.key: p.checkpoint for p in parts if p.checkpoint is not None}
        columns = parts[0].columns if len(parts) == 1 and tables else None
        con.register("oplog_rows" if columns is not None else "oplog_chunk", chunk)  # views over Arrow tables: no copy
        con.register("oplog_files", pa.table({
            "file_no": pa.array(list(files.values()), pa.int64()),
            "source_file": [k for k, _ in files], "stream_key": [s for _, s in files]}))
        con.register("oplog_rejected_arrow", pa.table({
            "line_no": pa.array([r[0] for r in rejected], pa.int64()), "reason": pa.array([r[1] for r in rejected],
                                                                                       pa.string()),
            "excerpt": pa.array([r[2] for r in rejected], pa.string()),
            "line_key": pa.array([r[3] for r in rejected], pa.string())}))
        names = ("oplog_chunk", "oplog_rows", "oplog_files", "oplog_rejected_arrow")
        try:  # temp tables only: before the transaction
            if columns is None or not check_rows(con, columns, self.fast_params):
                if columns is not None:  # a row misses the typed check: every row of the part as its JSON line
                    con.register("oplog_chunk", con.sql(ROW_LINES).to_arrow_table())
                check_lines(con, self.fast_params, self.reason_params)
            else:  # every row passed: a line is made only for a row the verdict quarantines (oplog_bad.sql)
                con.register("oplog_chunk", con.sql(ROW_LINES))
            con.execute("BEGIN TRANSACTION")
        except BaseException:
            _unregister(con, names)
            raise
        try:
            loaded, dup, _ = self.verdict()
            con.execute(read_sql("oplog_bad.sql"), {**self.key_params, "secret_pattern": SECRET_PATTERN,
                                                    "excerpt_chars": EXCERPT_CHARS})
            if self.staged:
                self._probe_quarantine()
            [(seen, bad)] = con.execute("SELECT count(*) FILTER (WHERE seen), count(*) FILTER (WHERE NOT seen) "
                                        "FROM oplog_bad").fetchall()
            dup += seen  # lines quarantined before (same line_key): read again, not quarantined twice
            con.execute(read_sql("oplog_insert_events.sql"), {**self.key_params, "ingested_at": self.now})
            con.execute(read_sql("oplog_insert_quarantine.sql"), {"quarantined_at": self.now})
            self.ship()
            save_checkpoints(self.con, checkpoints.values())
            con.execute("COMMIT")
        except BaseException:
            with _quiet():  # a failed statement may have ended the transaction already: keep the first error
                con.execute("ROLLBACK")
            raise
        finally:
            _unregister(con, names)
        self.result.rows_loaded += loaded
        self.result.rows_duplicate += dup
        self.result.rows_quarantined += bad

    def verdict(self) -> tuple[int, int, int]:
        """After check_lines on `work` (oplog_checked), inside the caller's transaction: which valid lines must not
        load (oplog_verdict.sql: duplicates, conflicting event_ids; row keys resolved through `oplog_files`), the
        warehouse's rows of their event_ids probed first on ClickHouse. Returns (loadable, duplicate, quarantined)
        as oplog_batch_counts.sql counts them."""
        con = self.work
        if self.staged:
            self._probe_events()
        con.execute(read_sql("oplog_verdict.sql"), self.key_params)
        [(loaded, dup, bad)] = con.execute(read_sql("oplog_batch_counts.sql")).fetchall()
        if self.staged:
            con.execute("DELETE FROM raw_op_events")  # the probed rows: only what the caller inserts is shipped
        return loaded, dup, bad

    def _probe_events(self) -> None:
        """The warehouse's rows with this transaction's event_ids, into `work`'s raw_op_events for
        oplog_verdict.sql. ClickHouse stores no NULL lists (an Array column is empty instead): both sides compare
        with empty = NULL."""
        work = self.work
        ids = work.sql("SELECT DISTINCT event_id FROM oplog_checked WHERE reason IS NULL").to_arrow_table().column(0)
        for start in range(0, len(ids), PROBE_KEYS):
            found = backend.rows_with(self.con, "raw_op_events", "event_id", ids.slice(start, PROBE_KEYS).to_pylist())
            if found.num_rows:
                backend.insert(work, "raw_op_events", found)
        lists = [c for c, (t, _) in layout()["raw_op_events"].items() if t.endswith("[]")]
        for table in ("raw_op_events", "oplog_checked"):
            work.execute(f"UPDATE {table} SET " + ", ".join(  # names from our own layout
                f"{c} = CASE WHEN len({c}) = 0 THEN NULL ELSE {c} END" for c in lists))

    def _probe_quarantine(self) -> None:
        """oplog_bad.sql saw `work`'s empty raw_quarantine: a line the warehouse quarantined before (same line_key)
        is marked seen here, so it counts as a duplicate and is not stored twice."""
        work = self.work
        keys = work.sql("SELECT DISTINCT line_key FROM oplog_bad WHERE NOT seen").to_arrow_table().column(0)
        for start in range(0, len(keys), PROBE_KEYS):
            found = backend.rows_with(self.con, "raw_quarantine", "line_key", keys.slice(start, PROBE_KEYS).to_pylist())
            if found.num_rows:
                work.execute("UPDATE oplog_bad SET seen = true WHERE line_key IN (SELECT unnest($keys))",
                             {"keys": found.column("line_key").to_pylist()})

    def ship(self) -> None:
        """This transaction's accepted events, then its quarantined lines, into a ClickHouse warehouse (its
        checkpoints are written after them), leaving `work`'s raw tables empty again (as every transaction on it
        starts; a rollback returns them to that). Nothing to do on DuckDB: `work` is the warehouse."""
        if not self.staged:
            return
        for table in ("raw_op_events", "raw_quarantine"):
            rows = self.work.sql(f"SELECT * FROM {table}").to_arrow_table()  # names from our own layout
            if rows.num_rows:
                backend.insert(self.con, table, rows)
                self.work.execute(f"DELETE FROM {table}")


ROW_LINES = "SELECT line_no, to_json(row)::VARCHAR AS line FROM oplog_rows"  # typed Parquet rows as JSON lines


def _unregister(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    for name in names:
        with _quiet():
            con.unregister(name)


def _validation_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the raw tables: where a ClickHouse warehouse's batches are validated."""
    from memlens.warehouse import apply_layer

    work = duckdb.connect(":memory:")
    work.execute("SET TimeZone = 'UTC'")
    apply_layer(work, "raw")
    return work


def check_lines(con: duckdb.DuckDBPyConnection, fast_params: dict[str, Any], reason_params: dict[str, Any], *,
                parse_once: bool = True) -> None:
    """oplog_checked for the lines of the view `oplog_chunk`, with a reason on every line that cannot load
    (collectors/sql/oplog_check.sql then oplog_fast_ok.sql; oplog_reasons.sql).

    parse_once: first try the batch parsing each line without testing it, which fails as a whole on a malformed
    line; then (or with parse_once False) each line is tested with json_valid before it is parsed. A failed
    statement ends a transaction: parse_once is for a caller outside one (the check writes temp tables only).
    """
    check = read_sql("oplog_check.sql") + read_sql("oplog_fast_ok.sql")
    if parse_once:
        try:
            con.execute(check, {**fast_params, "safe": False})
        except duckdb.InvalidInputException:  # a malformed line in the batch ("Malformed JSON at byte ...")
            parse_once = False
    if not parse_once:
        con.execute(check, {**fast_params, "safe": True})
    [(slow,)] = con.execute("SELECT count(*) FROM oplog_checked WHERE NOT fast_ok").fetchall()
    if slow:
        con.execute(read_sql("oplog_reasons.sql"), reason_params)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, *rest: object) -> bool:
        return exc_type is not None and issubclass(exc_type, duckdb.Error)


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """`items`, each made in a worker thread while the caller works on the previous one: reading and cutting
    the next batch overlaps DuckDB validating and committing this one (DuckDB releases the GIL). At most two
    items exist at a time (memory stays bounded); an exception from `items` reaches the caller in order, and
    the worker stops when the caller stops (error, kill) before the next item is made."""
    handoff: queue.Queue = queue.Queue()
    wanted = threading.Semaphore(1)  # one item made ahead of the one the caller holds
    stop = threading.Event()

    def work() -> None:
        try:
            while wanted.acquire() and not stop.is_set():
                handoff.put((True, next(items)))
        except StopIteration:
            handoff.put((False, None))
        except BaseException as exc:  # handed to the caller, who raises it
            handoff.put((False, exc))

    worker = threading.Thread(target=work, name="oplog-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                if item is not None:
                    raise item
                return
            wanted.release()
            yield item
    finally:
        stop.set()
        wanted.release()
        worker.join()


def _progress_callback(progress: bool | ProgressFn, total: int) -> tuple[Callable[[int, str], None], Callable]:
    """(advance(nbytes, file), close) for a tqdm bar, a caller's callable, or nothing."""
    done = 0
    if callable(progress):
        def advance(n: int, current: str) -> None:
            nonlocal done
            done += n
            progress(done, total, current)
        return advance, lambda: None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="collect logs")
        return lambda n, current: bar.update(n), bar.close
    return lambda n, current: None, lambda: None


def _pending_bytes(index: CheckpointIndex, files: list[Path]) -> int:
    """Bytes the progress bar expects: untouched files count nothing, a plain file what follows its checkpoint."""
    total = 0
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        own = index.own(display_path(f))
        if own is not None and own.unchanged(file_identity(st), st):
            continue
        total += max(0, st.st_size - own.byte_offset) if own and log_kind(f) == "plain" else st.st_size
    return total


def collect_oplogs(con: duckdb.DuckDBPyConnection, paths: list[Path], cfg: Config,
                   progress: bool | ProgressFn = False, *, refresh: bool = True) -> IngestResult:
    """Load new op-log events from log files/folders; see the module docstring. `refresh=False` leaves the
    rollup rebuild to a caller that loads several sources in a row (the demo loader): one rebuild, not one each."""
    files = discover([Path(p) for p in paths])
    with collection_run(con, "oplog", ", ".join(str(p) for p in paths)) as book:
        result = book.result
        result.files_seen = len(files)
        index = CheckpointIndex.load(con)
        loader = OplogLoader(con, cfg, result)
        advance, close = _progress_callback(progress, _pending_bytes(index, files))
        try:
            with closing(read_ahead(file_parts(files, index, cfg))) as parts:  # worker stopped before files close
                for part in parts:
                    loader.add(part)
                    advance(part.progress, part.key)
            loader.flush()
        finally:
            close()
            loader.close()
        if not files:
            result.messages.append("no log files found in " + ", ".join(str(p) for p in paths))
        if result.rows_loaded and refresh:
            refresh_rollups(con, result)
    return result
