"""Op-log collector: op-log (schema v1 or v2) JSONL (.jsonl, .log, .jsonl.gz) and Parquet files → raw_op_events.

Incremental: a checkpoint per file (raw_ingest_checkpoints) records how many bytes of complete lines were
consumed, the file's identity (dev:inode) and a hash of its head, so a run reads only what was appended
since the last one and notices a rotated or replaced file. A partially written last line is left for the
next run. Each batch of lines is validated in DuckDB (collectors/sql/oplog_check.sql), then its good rows,
its quarantined rows and the moved checkpoint are committed in ONE transaction: a crash between batches
never loses or double-counts an event. Idempotent by event_id.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from memlens import schema
from memlens.collectors.base import (
    EXCERPT_CHARS,
    SECRET_PATTERN,
    CollectorError,
    IngestResult,
    collection_run,
    display_path,
    excerpt,
    read_sql,
    refresh_rollups,
    utcnow,
)
from memlens.config import Config

PLAIN_SUFFIXES = (".jsonl", ".log")
GZIP_SUFFIXES = (".jsonl.gz", ".log.gz")
PARQUET_SUFFIXES = (".parquet",)
HEAD_BYTES = 4096  # the head hash covers this much of a file: enough to tell two log files apart
READ_CHUNK_BYTES = 1 << 24  # bytes asked from a log per read (fewer when collector.read_bytes is smaller)
NO_LINES = pa.table({"line_no": pa.array([], pa.int64()), "line": pa.array([], pa.string())})

# JSON types (DuckDB json_type names) a field of each schema type may hold; JSON null = not given.
JSON_TYPES = {"string": ["VARCHAR"], "timestamp": ["VARCHAR"], "integer": ["BIGINT", "UBIGINT"],
              "number": ["BIGINT", "UBIGINT", "DOUBLE"], "boolean": ["BOOLEAN"], "array<string>": ["ARRAY"]}
EXPECTED = {"string": "string", "timestamp": "ISO 8601 timestamp string", "integer": "integer", "number": "number",
            "boolean": "boolean", "array<string>": "array of strings"}

ProgressFn = Callable[[int, int, str], None]
T = TypeVar("T")


def log_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIXES):
        return "gzip"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(PLAIN_SUFFIXES):
        return "plain"
    return None


def discover(paths: list[Path]) -> list[Path]:
    """Log files under `paths` (folders recursively), sorted, each once. A missing path is an error."""
    found: dict[str, Path] = {}
    for p in paths:
        p = p.expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and log_kind(f):
                    found.setdefault(display_path(f), f)
        elif p.is_file():
            if not log_kind(p):
                raise CollectorError(f"{p}: not an op log (expected {', '.join(PLAIN_SUFFIXES + GZIP_SUFFIXES)} "
                                     f"or {', '.join(PARQUET_SUFFIXES)})")
            found.setdefault(display_path(p), p)
        else:
            raise CollectorError(f"{p}: no such file or folder")
    return [found[k] for k in sorted(found)]


def head_sha(path: Path, nbytes: int) -> str:
    with path.open("rb") as f:
        return hashlib.sha256(f.read(nbytes)).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    identity: str | None
    byte_offset: int
    line_no: int
    file_size: int | None
    file_mtime: float | None
    head_sha: str | None


def load_checkpoint(con: duckdb.DuckDBPyConnection, key: str) -> Checkpoint | None:
    row = con.execute(
        "SELECT file_identity, byte_offset, line_no, file_size, file_mtime, head_sha "
        "FROM raw_ingest_checkpoints WHERE source_file = ?", [key]).fetchall()
    return Checkpoint(*row[0]) if row else None


def save_checkpoint(con: duckdb.DuckDBPyConnection, key: str, cp: Checkpoint) -> None:
    con.execute(
        "INSERT OR REPLACE INTO raw_ingest_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [key, cp.identity, cp.byte_offset, cp.line_no, cp.file_size, cp.file_mtime, cp.head_sha, utcnow()],
    )


@dataclass
class Batch:
    """Complete lines `data` (each ending in a newline), the first one being line `first_line` of the file."""
    data: bytes
    first_line: int
    end_offset: int  # stream offset just after `data`
    end_line: int  # lines consumed through `data`


@dataclass
class Rejected:
    """A line quarantined before parsing (over the size limit, invalid UTF-8, unreadable tail)."""
    line_no: int
    reason: str
    raw: bytes


class LineReader:
    """Cuts a byte stream into batches of complete lines, bounded in memory.

    Batches hold exactly batch_lines lines while the lines held stay under read_bytes (the default is a multiple
    of DuckDB's row group: each batch's rows are then written straight into the database file at commit, not
    through the write-ahead log), fewer at the end of the stream or when the byte bound is reached first.
    A line longer than max_line_bytes is skipped while streaming (never held whole) and reported as
    Rejected. A damaged compressed stream (cut short or corrupt) ends it: `error` says why and `tail` holds
    the incomplete last line, for the caller to quarantine. I/O errors propagate (nothing is consumed).
    """

    def __init__(self, stream: BinaryIO, offset: int, line_no: int, read_bytes: int, max_line_bytes: int,
                 batch_lines: int, tail_is_line: bool) -> None:
        self.stream, self.offset, self.line_no = stream, offset, line_no
        self.read_bytes = max(read_bytes, max_line_bytes + 1)
        self.chunk_bytes = min(self.read_bytes, READ_CHUNK_BYTES)
        self.max_line_bytes, self.batch_lines, self.tail_is_line = max_line_bytes, batch_lines, tail_is_line
        self.error: str | None = None
        self.tail = b""
        self.rejected: list[Rejected] = []

    def _read(self) -> bytes:
        if self.error:
            return b""
        try:
            return self.stream.read(self.chunk_bytes)
        except (EOFError, zlib.error) as exc:  # a damaged gzip (GunzipStream); OSError propagates: retried next run
            self.error = f"{type(exc).__name__}: {exc}"
            return b""

    def _skip_long_line(self, buf: bytes) -> bytes:
        """Discard an over-long line without holding it; return what follows its newline ('' at EOF)."""
        head, skipped = buf[:EXCERPT_CHARS * 4], len(buf)
        while True:
            data = self._read()
            if not data:  # the over-long line never ended: it stays unconsumed (maybe still being written)
                self.tail = head
                return b""
            nl = data.find(b"\n")
            if nl >= 0:
                skipped += nl + 1
                self.line_no += 1
                self.rejected.append(Rejected(self.line_no, f"line is {skipped - 1:,} bytes, over "
                                              f"collector.max_line_bytes {self.max_line_bytes:,}", head))
                self.offset += skipped
                return data[nl + 1:]
            skipped += len(data)

    def batches(self) -> Iterator[Batch]:
        buf = b""  # an incomplete line (or nothing)
        held: list[bytes] = []  # blocks of complete lines not handed out yet
        held_lines = held_bytes = 0
        while True:
            data = self._read()
            eof = not data
            buf = buf + data if buf else data
            synthetic_nl = eof and bool(buf) and self.tail_is_line and not self.error and not buf.endswith(b"\n")
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
                rest = yield from self._split(b"".join(held), keep_rest=not flush)
                held, held_lines, held_bytes = ([rest], rest.count(b"\n"), len(rest)) if rest else ([], 0, 0)
            if last_nl < 0 and not eof and len(buf) > self.max_line_bytes:  # (the held lines went out above)
                buf = self._skip_long_line(buf)
                if not buf and (self.tail or self.error):
                    return
            if eof:
                if synthetic_nl:
                    self.offset -= 1  # the newline added above is not in the stream
                self.tail = buf
                return

    def _split(self, block: bytes, keep_rest: bool) -> Generator[Batch, None, bytes]:
        """Batches of batch_lines lines; the lines after the last whole batch are returned when keep_rest, else
        handed out as a last, shorter batch."""
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        start = 0
        for i in range(0, len(ends), self.batch_lines):
            n = min(self.batch_lines, len(ends) - i)
            if keep_rest and n < self.batch_lines:
                return block[start:]
            stop = int(ends[i + n - 1]) + 1
            batch = Batch(block[start:stop], self.line_no + 1, self.offset + stop - start, self.line_no + n)
            self.offset, self.line_no = batch.end_offset, batch.end_line
            start = stop
            yield batch
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
        return _parallel(pa.table({"line_no": line_nos, "line": lines})), []
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
    return _parallel(table), rejected


def _parallel(table: pa.Table, rows_per_batch: int = 16_384) -> pa.Table:
    """DuckDB scans an Arrow table one record batch per thread: hand it several (slices, no copy)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows_per_batch), table.schema)


class OplogLoader:
    """Loads batches into the warehouse, one transaction each (rows + quarantine + checkpoint)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, result: IngestResult) -> None:
        self.con, self.cfg, self.result = con, cfg, result
        self.now = utcnow()
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
        con.execute(read_sql("oplog_macros.sql"))

    def commit(self, key: str, table: pa.Table, rejected: list[Rejected], cp: Checkpoint) -> None:
        """One transaction: validate and insert the lines of `table`, quarantine, move the checkpoint."""
        con = self.con
        con.register("oplog_chunk", table)  # a view over the Arrow table: no copy
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(read_sql("oplog_check.sql"), self.fast_params)
            [(slow,)] = con.execute("SELECT count(*) FROM oplog_checked WHERE NOT fast_ok").fetchall()
            if slow:
                con.execute(read_sql("oplog_reasons.sql"), self.reason_params)
            con.execute(read_sql("oplog_verdict.sql"))
            [(loaded, dup, bad)] = con.execute(read_sql("oplog_batch_counts.sql")).fetchall()
            con.execute(read_sql("oplog_insert_events.sql"), {"source_file": key, "ingested_at": self.now})
            con.execute(read_sql("oplog_insert_quarantine.sql"), {
                "source_file": key, "quarantined_at": self.now, "secret_pattern": SECRET_PATTERN,
                "excerpt_chars": EXCERPT_CHARS})
            if rejected:
                con.register("oplog_rejected_arrow", pa.table({
                    "line_no": pa.array([r.line_no for r in rejected], pa.int64()),
                    "reason": [r.reason for r in rejected],
                    "excerpt": [excerpt(r.raw.decode("utf-8", "replace")) for r in rejected]}))
                con.execute("INSERT INTO raw_quarantine SELECT ?, line_no, reason, excerpt, 'oplog', ? "
                            "FROM oplog_rejected_arrow", [key, self.now])
                con.unregister("oplog_rejected_arrow")
            save_checkpoint(con, key, cp)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("oplog_chunk")
        self.result.rows_loaded += loaded
        self.result.rows_duplicate += dup
        self.result.rows_quarantined += bad + len(rejected)


def _resume_point(cp: Checkpoint | None, path: Path, kind: str, identity: str, size: int) -> tuple[int, int]:
    """(byte offset, lines consumed) to continue from: 0 unless the checkpoint is for this very file.

    The same file = same dev:inode, not shorter than what was consumed (plain), and the same head bytes.
    """
    if cp is None or cp.identity != identity or cp.head_sha is None:
        return 0, 0
    if kind == "plain":
        if cp.byte_offset > size:  # truncated in place (copytruncate rotation)
            return 0, 0
        head_len = min(HEAD_BYTES, cp.byte_offset)
    else:  # the head as it was hashed: of the file's size when the checkpoint was written
        head_len = min(HEAD_BYTES, cp.file_size if cp.file_size is not None else size)
    if head_sha(path, head_len) != cp.head_sha:
        return 0, 0
    return cp.byte_offset, cp.line_no


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


def _stream_file(loader: OplogLoader, path: Path, key: str, kind: str, on_bytes: Callable[[int], None]) -> None:
    """Read the unread part of one JSONL file (plain or gzip) and commit it batch by batch.

    gzip: the checkpoint counts decompressed bytes; its size and mtime are only recorded once the whole
    file is read, so an interrupted run resumes and an unchanged finished file is not even opened.
    """
    c = loader.cfg.collector
    st = path.stat()
    identity = f"{st.st_dev}:{st.st_ino}"
    cp = load_checkpoint(loader.con, key)
    gz = kind == "gzip"
    if gz and cp and (cp.identity, cp.file_size, cp.file_mtime) == (identity, st.st_size, st.st_mtime):
        return
    offset, line_no = _resume_point(cp, path, kind, identity, st.st_size)
    if cp and cp.byte_offset > 0 and offset == 0:
        loader.result.messages.append(f"{key}: rotated or replaced since the last run; read again from the start")
    if not gz and offset == st.st_size:
        return

    def head(consumed: int) -> str:
        return head_sha(path, min(HEAD_BYTES, st.st_size if gz else consumed))

    with path.open("rb") as raw:
        stream = GunzipStream(raw) if gz else raw
        if gz:
            _skip(stream, offset)
        else:
            raw.seek(offset)
        reader = LineReader(stream, offset, line_no, c.read_bytes, c.max_line_bytes, c.batch_lines, tail_is_line=gz)
        position = raw.tell() if gz else offset

        def prepared() -> Iterator[tuple[Batch, pa.Table, list[Rejected], int]]:
            for batch in reader.batches():
                table, rejected = lines_table(batch, c.max_line_bytes)
                pending, reader.rejected = reader.rejected, []  # lines rejected while reading this batch
                yield batch, table, pending + rejected, raw.tell() if gz else batch.end_offset

        with closing(read_ahead(prepared())) as ready:  # closed (worker stopped) before the file is
            for batch, table, rejected, now in ready:
                loader.commit(key, table, rejected, Checkpoint(
                    identity, batch.end_offset, batch.end_line, None if gz else st.st_size,
                    None if gz else st.st_mtime, head(batch.end_offset)))
                loader.result.bytes_read += len(batch.data)
                on_bytes(now - position)
                position = now
        # What a broken stream left, over-long lines at the very end, and a finished gzip's seal.
        pending, offset, line_no = reader.rejected, reader.offset, reader.line_no
        if reader.error:
            line_no += 1
            pending.append(Rejected(line_no, f"compressed stream ends early or is corrupt ({reader.error}); "
                                    "the rest of the file is unreadable", reader.tail))
            offset += len(reader.tail)
            loader.result.messages.append(f"{key}: {reader.error} after line {line_no - 1}")
        elif gz and reader.tail:
            line_no += 1
            pending.append(Rejected(line_no, f"last line is over collector.max_line_bytes {c.max_line_bytes:,}",
                                    reader.tail))
        if gz or pending:  # for gzip, recording size and mtime seals the file as fully read
            loader.commit(key, NO_LINES, pending,
                          Checkpoint(identity, offset, line_no, st.st_size, st.st_mtime, head(offset)))
        on_bytes(max(0, st.st_size - position))  # incl. a partial last line left for the next run


class GunzipStream:
    """Incremental gunzip of a (multi-member) gzip file that hands out every byte before a cut or corruption.

    gzip.GzipFile.read(n) raises on a truncated file and drops what it decompressed in that call; here the
    bytes before the damage are returned first and the error is raised by the following read.
    """

    def __init__(self, raw: BinaryIO, read_size: int = 1 << 16) -> None:
        self.raw, self.read_size = raw, read_size
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._in_member = False
        self._spill = b""
        self._error: Exception | None = None

    def read(self, n: int) -> bytes:
        out, self._spill = bytearray(self._spill[:n]), self._spill[n:]
        while len(out) < n and self._error is None:
            chunk = self.raw.read(self.read_size)
            if not chunk:
                if self._in_member:
                    self._error = EOFError("compressed file ended before the end-of-stream marker was reached")
                break
            try:
                while chunk:
                    out += self._d.decompress(chunk)
                    self._in_member = not self._d.eof
                    chunk = b""
                    if self._d.eof:  # the next member (if any) starts in the unused data
                        chunk = self._d.unused_data.lstrip(b"\x00")  # zero padding between members is allowed
                        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            except zlib.error as exc:
                self._error = exc
        if len(out) > n:
            self._spill, out = bytes(out[n:]), out[:n]
        if not out and self._error is not None:
            raise self._error
        return bytes(out)


def _skip(stream: BinaryIO, nbytes: int) -> None:
    """Skip already-consumed decompressed bytes (gzip cannot seek without decompressing anyway)."""
    while nbytes > 0:
        got = len(stream.read(min(nbytes, 1 << 24)))
        if not got:
            break
        nbytes -= got


def _load_parquet(loader: OplogLoader, path: Path, key: str) -> None:
    """Parquet files are written once: load each fingerprint once, through the same validation as JSONL.

    Each row becomes the JSON object it would have been as a log line; its row number is its line number.
    """
    st = path.stat()
    fingerprint = f"{st.st_size}:{st.st_mtime_ns}:{head_sha(path, HEAD_BYTES)}"
    cp = load_checkpoint(loader.con, key)
    if cp and cp.identity == fingerprint:
        return
    try:
        table = loader.con.sql(
            "SELECT file_row_number + 1 AS line_no, to_json(p)::VARCHAR AS line "
            "FROM read_parquet(?, file_row_number = true) p ORDER BY line_no", params=[str(path)]).to_arrow_table()
    except duckdb.Error as exc:
        loader.commit(key, NO_LINES, [Rejected(0, f"unreadable Parquet file: {exc}", b"")],
                      Checkpoint(fingerprint, st.st_size, 0, st.st_size, st.st_mtime, None))
        loader.result.messages.append(f"{key}: unreadable Parquet file, quarantined")
        return
    loader.commit(key, table, [], Checkpoint(fingerprint, st.st_size, table.num_rows, st.st_size, st.st_mtime, None))
    loader.result.bytes_read += st.st_size


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


def _pending_bytes(con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
    total = 0
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        cp = load_checkpoint(con, display_path(f))
        total += max(0, size - cp.byte_offset) if cp and log_kind(f) == "plain" else size
    return total


def collect_oplogs(con: duckdb.DuckDBPyConnection, paths: list[Path], cfg: Config,
                   progress: bool | ProgressFn = False, *, refresh: bool = True) -> IngestResult:
    """Load new op-log events from log files/folders; see the module docstring. `refresh=False` leaves the
    rollup rebuild to a caller that loads several sources in a row (the demo loader): one rebuild, not one each."""
    files = discover([Path(p) for p in paths])
    with collection_run(con, "oplog", ", ".join(str(p) for p in paths)) as book:
        result = book.result
        result.files_seen = len(files)
        loader = OplogLoader(con, cfg, result)
        advance, close = _progress_callback(progress, _pending_bytes(con, files))
        try:
            for path in files:
                key = display_path(path)
                kind = log_kind(path)
                try:
                    if kind == "parquet":
                        _load_parquet(loader, path, key)
                        advance(path.stat().st_size, key)
                    else:
                        _stream_file(loader, path, key, kind, lambda n, k=key: advance(n, k))
                except OSError as exc:  # vanished or unreadable file: the others still load
                    result.messages.append(f"{key}: skipped, {type(exc).__name__}: {exc.strerror or exc}")
        finally:
            close()
        if not files:
            result.messages.append("no log files found in " + ", ".join(str(p) for p in paths))
        if result.rows_loaded and refresh:
            refresh_rollups(con, result)
    return result
