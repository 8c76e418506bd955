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
   Events are idempotent by event_id; quarantined lines by line_key (the stream, the line number and the line's
   bytes), so the same line read again under another name is counted as a duplicate, never quarantined twice.

Stages 1 and 2 run in a worker thread one step ahead of stage 3 (`read_ahead`).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memlens import schema
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
    Checkpoint,
    CheckpointIndex,
    LogFile,
    discover,
    file_identity,
    file_sha256,
    log_kind,
    resume_point,
)
from memlens.config import Config

READ_CHUNK_BYTES = 1 << 24  # bytes asked from a log per read (fewer when collector.read_bytes is smaller)
PARQUET_FETCH_ROWS = 16_384  # rows DuckDB hands over per step while streaming a Parquet file
LINE_BITS = 40  # a row of a transaction is keyed (file number << LINE_BITS) | line number
LINE_MASK = (1 << LINE_BITS) - 1
NO_LINES = pa.table({"line_no": pa.array([], pa.int64()), "line": pa.array([], pa.string())})

# JSON types (DuckDB json_type names) a field of each schema type may hold; JSON null = not given.
JSON_TYPES = {"string": ["VARCHAR"], "timestamp": ["VARCHAR"], "integer": ["BIGINT", "UBIGINT"],
              "number": ["BIGINT", "UBIGINT", "DOUBLE"], "boolean": ["BOOLEAN"], "array<string>": ["ARRAY"]}
EXPECTED = {"string": "string", "timestamp": "ISO 8601 timestamp string", "integer": "integer", "number": "number",
            "boolean": "boolean", "array<string>": "array of strings"}

ProgressFn = Callable[[int, int, str], None]
T = TypeVar("T")


@dataclass
class Batch:
    """Complete lines `data` (each ending in a newline), the first one being line `first_line` of the file."""
    data: bytes
    first_line: int
    end_offset: int  # stream offset just after `data`
    end_line: int  # lines consumed through `data`
    prefix_sha: str  # sha256 of the stream's bytes [0, end_offset)


@dataclass
class Rejected:
    """A line quarantined before parsing (over the size limit, invalid UTF-8, unreadable tail)."""
    line_no: int
    reason: str
    raw: bytes


class LineReader:
    """Cuts a byte stream into batches of complete lines, bounded in memory, hashing every byte it consumes.

    Batches hold exactly batch_lines lines while the lines held stay under read_bytes (the default is a multiple
    of DuckDB's row group: each batch's rows are then written straight into the database file at commit, not
    through the write-ahead log), fewer at the end of the stream or when the byte bound is reached first.
    A line longer than max_line_bytes is skipped while streaming (never held whole) and reported as Rejected.
    A gzip stream that ends early (`truncated`: still being written, or cut) ends like a plain file: its incomplete
    last line stays unconsumed, for the next run. Corrupt compressed data ends it too: `error` says why and `tail`
    holds the incomplete last line, for the caller to quarantine. I/O errors propagate (nothing is consumed).
    """

    def __init__(self, stream: Any, offset: int, line_no: int, read_bytes: int, max_line_bytes: int,
                 batch_lines: int, tail_is_line: bool, hasher: Any = None) -> None:
        self.stream, self.offset, self.line_no = stream, offset, line_no
        self.read_bytes = max(read_bytes, max_line_bytes + 1)
        self.chunk_bytes = min(self.read_bytes, READ_CHUNK_BYTES)
        self.max_line_bytes, self.batch_lines, self.tail_is_line = max_line_bytes, batch_lines, tail_is_line
        self.hasher = hasher if hasher is not None else hashlib.sha256()
        self.error: str | None = None
        self.truncated = False
        self.tail = b""
        self.rejected: list[Rejected] = []

    def _read(self) -> bytes:
        if self.error or self.truncated:
            return b""
        try:
            return self.stream.read(self.chunk_bytes)
        except EOFError:  # a gzip stream that stops before its end marker: still being written, or cut
            self.truncated = True
            return b""
        except zlib.error as exc:  # corrupt compressed data; OSError propagates: retried next run
            self.error = f"{type(exc).__name__}: {exc}"
            return b""

    def _skip_long_line(self, buf: bytes) -> bytes:
        """Discard an over-long line without holding it; return what follows its newline ('' at EOF)."""
        head, skipped = buf[:EXCERPT_CHARS * 4], len(buf)
        hasher = self.hasher.copy()  # adopted only once the line is consumed
        hasher.update(buf)
        while True:
            data = self._read()
            if not data:
                if self.tail_is_line and not (self.error or self.truncated):  # a finished gzip: the line is whole
                    self._reject_long(head, skipped, skipped, hasher)
                    return b""
                self.tail = head  # the over-long line never ended: it stays unconsumed (maybe still being written)
                return b""
            nl = data.find(b"\n")
            if nl >= 0:
                hasher.update(data[:nl + 1])
                self._reject_long(head, skipped + nl, skipped + nl + 1, hasher)
                return data[nl + 1:]
            hasher.update(data)
            skipped += len(data)

    def _reject_long(self, head: bytes, length: int, nbytes: int, hasher: Any) -> None:
        """The over-long line (`length` bytes, `nbytes` with its newline) is consumed and rejected."""
        self.line_no += 1
        self.rejected.append(Rejected(self.line_no, f"line is {length:,} bytes, over collector.max_line_bytes "
                                      f"{self.max_line_bytes:,}", head))
        self.offset += nbytes
        self.hasher = hasher

    def batches(self) -> Iterator[Batch]:
        buf = b""  # an incomplete line (or nothing)
        held: list[bytes] = []  # blocks of complete lines not handed out yet
        held_lines = held_bytes = 0
        while True:
            data = self._read()
            eof = not data
            buf = buf + data if buf else data
            whole = self.tail_is_line and not (self.error or self.truncated)
            synthetic_nl = eof and bool(buf) and whole and not buf.endswith(b"\n")
            if synthetic_nl:
                buf += b"\n"  # a finished compressed file: its last line is complete even without a newline
            last_nl = buf.rfind(b"\n")
            if last_nl >= 0:
                block, buf = buf[:last_nl + 1], buf[last_nl + 1:]
                held.append(block)
                held_lines += block.count(b"\n")
                held_bytes += len(block)
            flush = eof or (last_nl < 0 and len(buf) > self.max_line_bytes) or held_bytes >= self.read_bytes
            if held and (flush or held_lines >= self.batch_lines):
                # whole batches; the rest is held for the next read unless the held lines must all go now
                rest = yield from self._split(b"".join(held), keep_rest=not flush,
                                              synthetic_nl=synthetic_nl and not buf)
                held, held_lines, held_bytes = ([rest], rest.count(b"\n"), len(rest)) if rest else ([], 0, 0)
            if last_nl < 0 and not eof and len(buf) > self.max_line_bytes:  # (the held lines went out above)
                buf = self._skip_long_line(buf)
                if not buf and (self.tail or self.error or self.truncated):
                    return
            if eof:
                self.tail = buf
                return

    def _split(self, block: bytes, keep_rest: bool, synthetic_nl: bool = False) -> Generator[Batch, None, bytes]:
        """Batches of batch_lines lines; the lines after the last whole batch are returned when keep_rest, else
        handed out as a last, shorter batch. `synthetic_nl`: the block's last newline is not in the stream."""
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        start = 0
        for i in range(0, len(ends), self.batch_lines):
            n = min(self.batch_lines, len(ends) - i)
            if keep_rest and n < self.batch_lines:
                return block[start:]
            stop = int(ends[i + n - 1]) + 1
            last = synthetic_nl and stop == len(block)
            consumed = block[start:stop - 1] if last else block[start:stop]
            self.hasher.update(consumed)
            self.offset += len(consumed)
            self.line_no += n
            yield Batch(block[start:stop], self.line_no - n + 1, self.offset, self.line_no, self.hasher.hexdigest())
            start = stop
        return b""


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
    """A piece of one file, ready to commit: its lines (Arrow: line_no, line), the lines rejected before parsing,
    and the checkpoint that holds once they are committed. `nbytes`: bytes of lines; `progress`: bytes of the file
    itself gone through (the progress bar's unit)."""
    key: str
    stream_key: str
    table: pa.Table
    rejected: list[Rejected]
    checkpoint: Checkpoint | None
    nbytes: int = 0
    progress: int = 0
    messages: list[str] = field(default_factory=list)


def line_key(stream_key: str, line_no: int, raw: bytes) -> str:
    """The identity of one line of one log (the same in oplog_bad.sql for the lines DuckDB rejects)."""
    return hashlib.sha256(f"{stream_key}:{line_no}:".encode() + raw).hexdigest()


def _text_parts(path: Path, key: str, kind: str, index: CheckpointIndex, cfg: Config) -> Iterator[Part]:
    """The unread part of one JSONL file (plain or gzip), batch by batch, then its closing checkpoint."""
    c = cfg.collector
    st = path.stat()
    identity = file_identity(st)
    own = index.own(key)
    if own is not None and own.unchanged(identity, st):
        return
    with LogFile(path, kind) as f:
        res = resume_point(f, key, st, index)
        if res is None:  # not even a first complete line yet
            yield Part(key, "", NO_LINES, [], None, progress=st.st_size)
            return
        reader = LineReader(f, res.offset, res.line_no, c.read_bytes, c.max_line_bytes, c.batch_lines,
                            tail_is_line=kind == "gzip", hasher=res.hasher)
        messages, position = res.messages, 0
        for batch in reader.batches():
            table, rejected = lines_table(batch, c.max_line_bytes)
            pending, reader.rejected = reader.rejected, []  # lines rejected while reading this batch
            cp = Checkpoint(key, identity, batch.end_offset, batch.end_line, None, None, None, res.stream_key,
                            batch.prefix_sha)
            index.add(cp)
            now = f.raw_position()
            yield Part(key, res.stream_key, table, pending + rejected, cp, len(batch.data), now - position, messages)
            messages, position = [], now
        # What corrupt data left, over-long lines at the very end, and the checkpoint that closes the pass.
        pending, offset, line_no = reader.rejected, reader.offset, reader.line_no
        if reader.error:
            line_no += 1
            pending.append(Rejected(line_no, f"compressed data is corrupt ({reader.error}); the rest of the file "
                                    "is unreadable", reader.tail))
            offset += len(reader.tail)
            reader.hasher.update(reader.tail)
            messages.append(f"{key}: {reader.error} after line {line_no - 1:,}; the rest is unreadable")
        elif reader.truncated:
            messages.append(f"{key}: compressed stream ends early after line {line_no:,} (still being written?); "
                            "the rest is read once it is complete")
        cp = Checkpoint(key, identity, offset, line_no, st.st_size, st.st_mtime, st.st_ctime, res.stream_key,
                        reader.hasher.hexdigest())
        index.add(cp)
        yield Part(key, res.stream_key, NO_LINES, pending, cp, 0, max(0, st.st_size - position), messages)


def _parquet_parts(path: Path, key: str, index: CheckpointIndex, cfg: Config,
                   duck: Callable[[], duckdb.DuckDBPyConnection]) -> Iterator[Part]:
    """A Parquet file, streamed by DuckDB in record batches and cut into parts of at most batch_lines rows or
    read_bytes bytes (memory stays bounded, whatever the file's size or row groups). Each row becomes the JSON
    object it would have been as a log line; its row number is its line number. Identity: the file's sha256."""
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
        reader = duck().sql(
            "SELECT file_row_number + 1 AS line_no, to_json(p)::VARCHAR AS line "
            "FROM read_parquet(?, file_row_number = true) p WHERE file_row_number >= ?",
            params=[str(path), start]).to_arrow_reader(PARQUET_FETCH_ROWS)
        held: list[pa.RecordBatch] = []
        held_rows = held_bytes = 0
        for rb in _batches_then_end(reader):
            if rb is not None:
                held.append(rb)
                held_rows += rb.num_rows
                held_bytes += rb.column(1).nbytes
            if held and (rb is None or held_rows >= c.batch_lines or held_bytes >= c.read_bytes):
                table = pa.Table.from_batches(held)
                rows = int(pc.max(table["line_no"]).as_py())
                cp = Checkpoint(key, identity, st.st_size, rows, None, None, None, sha, sha)
                index.add(cp)
                yield Part(key, sha, table, [], cp, held_bytes, 0, messages)
                held, held_rows, held_bytes, messages = [], 0, 0, []
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
    commits batch by batch, thousands of small files share a few transactions."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, result: IngestResult) -> None:
        self.con, self.cfg, self.result = con, cfg, result
        self.now = utcnow()
        self.pending: list[Part] = []
        self.pending_lines = self.pending_bytes = 0
        c = cfg.collector
        self.check_params = {
            "names": [f.name for f in schema.FIELDS],
            "paths": [f'$."{f.name}"' for f in schema.FIELDS],
            "allowed": [[*JSON_TYPES[f.json_type], "NULL"] for f in schema.FIELDS],
            "expected": [EXPECTED[f.json_type] for f in schema.FIELDS],
            # json_type(line, paths)::VARCHAR reads "[UBIGINT, VARCHAR, NULL, 'NULL', ...]" (NULL: absent,
            # 'NULL': JSON null): the whole list checked by one regex match.
            "type_pattern": r"\[" + ", ".join(
                "(?:" + "|".join([*JSON_TYPES[f.json_type], "NULL", "'NULL'"]) + ")" for f in schema.FIELDS) + r"\]",
            "required": [f.required for f in schema.FIELDS],
            "int_names": [f.name for f in schema.FIELDS if f.json_type == "integer"],
            "schema_version": schema.SCHEMA_VERSION, **schema.choice_params(), "max_latency_ms": c.max_latency_ms,
            "latest_ts": self.now + timedelta(seconds=c.max_future_seconds),
            "earliest_ts": datetime.combine(c.min_ts, time.min),
        }
        fast = ("paths", "type_pattern", "schema_version", *schema.choice_params(), "max_latency_ms", "latest_ts",
                "earliest_ts")
        self.fast_params = {k: v for k, v in self.check_params.items() if k in fast}
        self.reason_params = {k: v for k, v in self.check_params.items() if k != "type_pattern"}
        self.key_params = {"line_bits": LINE_BITS, "line_mask": LINE_MASK}
        con.execute(read_sql("oplog_macros.sql"))

    def add(self, part: Part) -> None:
        self.result.messages.extend(part.messages)
        if part.checkpoint is None and not part.rejected:
            return
        self.pending.append(part)
        self.pending_lines += part.table.num_rows + len(part.rejected)
        self.pending_bytes += part.nbytes
        if self.pending_lines >= self.cfg.collector.batch_lines or self.pending_bytes >= self.cfg.collector.read_bytes:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            parts, self.pending = self.pending, []
            self.pending_lines = self.pending_bytes = 0
            self.commit(parts)
            self.result.bytes_read += sum(p.nbytes for p in parts)

    def commit(self, parts: list[Part]) -> None:
        """One transaction: validate and insert the lines of `parts`, quarantine, move their checkpoints."""
        con = self.con
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
        con.register("oplog_chunk", chunk)  # views over Arrow tables: no copy
        con.register("oplog_files", pa.table({
            "file_no": pa.array(list(files.values()), pa.int64()),
            "source_file": [k for k, _ in files], "stream_key": [s for _, s in files]}))
        con.register("oplog_rejected_arrow", pa.table({
            "line_no": pa.array([r[0] for r in rejected], pa.int64()), "reason": pa.array([r[1] for r in rejected],
                                                                                       pa.string()),
            "excerpt": pa.array([r[2] for r in rejected], pa.string()),
            "line_key": pa.array([r[3] for r in rejected], pa.string())}))
        con.register("oplog_checkpoints", pa.Table.from_pylist([cp.row() for cp in checkpoints.values()]))
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(read_sql("oplog_check.sql"), self.fast_params)
            [(slow,)] = con.execute("SELECT count(*) FROM oplog_checked WHERE NOT fast_ok").fetchall()
            if slow:
                con.execute(read_sql("oplog_reasons.sql"), self.reason_params)
            con.execute(read_sql("oplog_verdict.sql"), self.key_params)
            con.execute(read_sql("oplog_bad.sql"), {**self.key_params, "secret_pattern": SECRET_PATTERN,
                                                    "excerpt_chars": EXCERPT_CHARS})
            [(loaded, dup, bad)] = con.execute(read_sql("oplog_batch_counts.sql")).fetchall()
            con.execute(read_sql("oplog_insert_events.sql"), {**self.key_params, "ingested_at": self.now})
            con.execute(read_sql("oplog_insert_quarantine.sql"), {"quarantined_at": self.now})
            if checkpoints:
                con.execute("INSERT OR REPLACE INTO raw_ingest_checkpoints BY NAME SELECT * FROM oplog_checkpoints")
            con.execute("COMMIT")
        except BaseException:
            with _quiet():  # a failed statement may have ended the transaction already: keep the first error
                con.execute("ROLLBACK")
            raise
        finally:
            for name in ("oplog_chunk", "oplog_files", "oplog_rejected_arrow", "oplog_checkpoints"):
                con.unregister(name)
        self.result.rows_loaded += loaded
        self.result.rows_duplicate += dup
        self.result.rows_quarantined += bad


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
        if not files:
            result.messages.append("no log files found in " + ", ".join(str(p) for p in paths))
        if result.rows_loaded and refresh:
            refresh_rollups(con, result)
    return result
