"""Op-log files: which files are logs (logrotate's names included), and which part of each one is new.

A checkpoint belongs to content, not to a name. Each checkpoint (raw_ingest_checkpoints, one row per file read)
records, besides how far the file was read (bytes of complete lines, decompressed for gzip, and lines):

- `head_sha`, the stream key: sha256 of the file's first line (at most HEAD_BYTES). Files that start with the same
  line (an op log's first line carries a unique event_id) are candidates for being the same log under another name:
  `oplog.jsonl` renamed to `oplog.jsonl.1`, copied there before a copytruncate, compressed to `oplog.jsonl.1.gz`.
- `prefix_sha`, the content identity: sha256 of every byte consumed. A file continues a checkpoint only if its own
  first `byte_offset` bytes hash to it, so a file replaced by another with the same size, name and head is read again,
  and a rotated copy is never read twice. Among the candidates the longest matching prefix wins.
- `file_identity` (dev:inode), `file_size`, `file_mtime`, `file_ctime`: the quick check. Written only by the
  checkpoint that ends a complete pass over the file; when all four are unchanged the file has not been touched since
  (ctime cannot be set back by a program) and is not even opened. Otherwise its consumed prefix is hashed again.

Parquet files are identified by the sha256 of the whole file (written once; a copy under another name is the same
file). Checkpoints written before prefix hashes were kept (prefix_sha NULL) are honoured with the rule of that
time: same dev:inode and the same first 4 KiB.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import numpy as np
import pyarrow as pa

from memlens.collectors.base import EXCERPT_CHARS, CollectorError, display_path, utcnow

HEAD_BYTES = 4096  # the stream key covers the first line, at most this much of it
HASH_CHUNK_BYTES = 1 << 20  # bytes read per step while hashing a consumed prefix
READ_CHUNK_BYTES = 1 << 24  # bytes asked from a log per read (fewer when collector.read_bytes is smaller)
PLAIN_SUFFIXES = (".jsonl", ".log")
GZIP_SUFFIXES = (".jsonl.gz", ".log.gz")
PARQUET_SUFFIXES = (".parquet",)
# logrotate's names for a rotated `X.jsonl` / `X.log`: numbered (.1, .2), dateext (-YYYYMMDD, -YYYYMMDDHH,
# -YYYY-MM-DD, -<epoch seconds>), each optionally compressed (.gz).
_LOG_NAME = re.compile(r".+\.(?:jsonl|log)(?:\.\d{1,4}|-\d{8}(?:\d{2})?|-\d{4}-\d{2}-\d{2}|-\d{10})?(?P<gz>\.gz)?",
                       re.IGNORECASE)


def log_kind(path: Path) -> str | None:
    """'plain', 'gzip', 'parquet', or None for a file that is not an op log."""
    name = path.name
    if name.lower().endswith(PARQUET_SUFFIXES):
        return "parquet"
    m = _LOG_NAME.fullmatch(name)
    if not m:
        return None
    return "gzip" if m.group("gz") else "plain"


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
                raise CollectorError(f"{display_path(p)}: not an op log (expected {', '.join(PLAIN_SUFFIXES)}, "
                                     f"{', '.join(GZIP_SUFFIXES)}, their rotated names such as .1, .1.gz, -20260101, "
                                     f"or {', '.join(PARQUET_SUFFIXES)})")
            found.setdefault(display_path(p), p)
        else:
            raise CollectorError(f"{display_path(p)}: no such file or folder")
    return [found[k] for k in sorted(found)]


# ---- checkpoints ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    key: str  # source_file: the file it was read from (its events carry this name)
    identity: str | None  # dev:inode
    byte_offset: int  # bytes of complete lines consumed (decompressed); a Parquet file's size
    line_no: int  # lines (Parquet: rows) consumed
    file_size: int | None  # this and the two below: set only when the checkpoint ends a complete pass
    file_mtime: float | None
    file_ctime: float | None
    head_sha: str | None  # stream key (sha256 of the first line); Parquet: sha256 of the file
    prefix_sha: str | None  # sha256 of the consumed bytes; Parquet: sha256 of the file; None: written by an old memlens

    def unchanged(self, identity: str, st: os.stat_result) -> bool:
        """The file was read to its end and not touched since (quick check)."""
        return (self.file_size is not None and self.prefix_sha is not None and self.identity == identity
                and (self.file_size, self.file_mtime, self.file_ctime) == (st.st_size, st.st_mtime, st.st_ctime))

    def row(self) -> dict[str, Any]:
        return {"source_file": self.key, "file_identity": self.identity, "byte_offset": self.byte_offset,
                "line_no": self.line_no, "file_size": self.file_size, "file_mtime": self.file_mtime,
                "head_sha": self.head_sha, "updated_at": utcnow(), "file_ctime": self.file_ctime,
                "prefix_sha": self.prefix_sha}


CHECKPOINT_COLUMNS = tuple(Checkpoint.__dataclass_fields__)


def file_identity(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


class CheckpointIndex:
    """Every checkpoint of the warehouse by file and by stream key, plus those this run makes. A checkpoint a run
    replaces stays a candidate for the rest of the run: `oplog.jsonl` read anew after a copytruncate must not hide
    the checkpoint that `oplog.jsonl.1` (the copy, read later in the same run) continues."""

    def __init__(self, checkpoints: Iterable[Checkpoint] = ()) -> None:
        self.by_key: dict[str, Checkpoint] = {}
        self.by_stream: dict[str, list[Checkpoint]] = {}
        for cp in checkpoints:
            self.add(cp)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> CheckpointIndex:
        rows = con.execute("SELECT source_file, file_identity, byte_offset, line_no, file_size, file_mtime, "
                           "file_ctime, head_sha, prefix_sha FROM raw_ingest_checkpoints").fetchall()
        return cls(Checkpoint(*r) for r in rows)

    def add(self, cp: Checkpoint) -> None:
        self.by_key[cp.key] = cp
        if cp.head_sha is not None and cp.prefix_sha is not None:
            self.by_stream.setdefault(cp.head_sha, []).append(cp)

    def own(self, key: str) -> Checkpoint | None:
        return self.by_key.get(key)

    def candidates(self, stream_key: str, own: Checkpoint | None) -> list[Checkpoint]:
        """Checkpoints this file may continue: those of its stream, and its own (which may be legacy)."""
        found = {(c.key, c.byte_offset, c.prefix_sha): c for c in self.by_stream.get(stream_key, ())}
        if own is not None and own.byte_offset > 0:
            found.setdefault((own.key, own.byte_offset, own.prefix_sha), own)
        return sorted(found.values(), key=lambda c: c.byte_offset)


# ---- streams ----------------------------------------------------------------------------------------------------

class GunzipStream:
    """Incremental gunzip of a (multi-member) gzip file that hands out every byte before a cut or corruption.

    gzip.GzipFile.read(n) raises on a truncated file and drops what it decompressed in that call; here the
    bytes before the damage are returned first and the error is raised by the following read: EOFError when the
    stream simply ends early (a file still being written, or cut), zlib.error when the data is corrupt.
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
            while chunk and self._error is None:
                before = self._d.copy()
                try:
                    out += self._d.decompress(chunk)
                except zlib.error as exc:  # keep what decompresses before the damage: feed the chunk in slices
                    self._error = exc
                    self._d = before
                    for i in range(0, len(chunk), 256):
                        try:
                            out += self._d.decompress(chunk[i:i + 256])
                        except zlib.error:
                            break
                    break
                self._in_member = not self._d.eof
                chunk = b""
                if self._d.eof:  # the next member (if any) starts in the unused data
                    chunk = self._d.unused_data.lstrip(b"\x00")  # zero padding between members is allowed
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if len(out) > n:
            self._spill, out = bytes(out[n:]), out[:n]
        if not out and self._error is not None:
            raise self._error
        return bytes(out)


class LogFile:
    """An open op-log file: its raw bytes and its decompressed stream, with the stream position. Reads raise what
    the stream raises (EOFError / zlib.error from a damaged gzip); `seek` positions the stream anywhere (a gzip is
    decompressed again from its start to go back)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.raw: BinaryIO | None = None
        self._open()

    def _open(self) -> None:
        if self.raw is not None:
            self.raw.close()
        self.raw = self.path.open("rb")
        self.stream: Any = GunzipStream(self.raw) if self.kind == "gzip" else self.raw
        self.pos = 0

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        self.pos += len(data)
        return data

    def read_some(self, n: int) -> bytes:
        """Like read, but b'' where a damaged gzip stops (the reader meets the damage again when it gets there)."""
        try:
            return self.read(n)
        except (EOFError, zlib.error):
            return b""

    def seek(self, offset: int) -> None:
        if self.kind != "gzip":
            self.raw.seek(offset)
            self.pos = offset
            return
        if offset < self.pos:
            self._open()
        while self.pos < offset and self.read_some(min(offset - self.pos, 1 << 24)):
            pass

    def raw_position(self) -> int:
        """Bytes of the file itself read so far (compressed bytes for gzip): what progress counts."""
        return self.raw.tell()

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
            self.raw = None

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_key(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def _first_line(data: bytes) -> bytes | None:
    """The bytes the stream key covers (the first line with its newline, at most HEAD_BYTES), or None when the
    first line is still shorter than HEAD_BYTES and incomplete."""
    nl = data.find(b"\n", 0, HEAD_BYTES)
    if nl >= 0:
        return data[:nl + 1]
    return data[:HEAD_BYTES] if len(data) >= HEAD_BYTES else None


# ---- where to resume ----------------------------------------------------------------------------------------------

@dataclass
class Resume:
    """Where reading a file starts: byte offset and lines consumed, the hash of the bytes before it (continued by
    the reader), the stream key, the checkpoint it continues, and what to tell the user."""
    offset: int
    line_no: int
    hasher: Any
    stream_key: str
    continues: Checkpoint | None
    messages: list[str] = field(default_factory=list)


def _legacy_ok(cp: Checkpoint, identity: str, kind: str, path: Path, size: int) -> bool:
    """The rule of checkpoints written before prefix hashes were kept: same dev:inode, not shorter (plain), and the
    same first 4 KiB (plain: of the bytes consumed; gzip: of the compressed file as it was when read)."""
    if cp.identity != identity or cp.head_sha is None or (kind == "plain" and cp.byte_offset > size):
        return False
    n = min(HEAD_BYTES, cp.byte_offset if kind == "plain" else (cp.file_size or size))
    with path.open("rb") as f:
        return hashlib.sha256(f.read(n)).hexdigest() == cp.head_sha


def resume_point(f: LogFile, key: str, st: os.stat_result, index: CheckpointIndex) -> Resume | None:
    """Find what of this file was consumed already, under any name, and position `f` just after it.

    None: nothing can be read yet (the first line is still being written). Otherwise the candidates (checkpoints
    of the same stream, and the file's own) are checked in one pass over the prefix, hashing, with a copy of the hash
    kept at each candidate's offset; the longest prefix that matches is where reading resumes.
    """
    own = index.own(key)
    identity = file_identity(st)
    head = b""
    while (first := _first_line(head)) is None and (more := f.read_some(HEAD_BYTES)):
        head += more
    if first is None:
        if f.kind != "gzip" or not head:
            return None  # a first line still being written
        first = head  # a finished gzip whose only line has no newline (the reader tells a cut gzip apart)
    skey = stream_key(first)
    candidates = index.candidates(skey, own)
    hasher, pos, saved = hashlib.sha256(), 0, {0: hashlib.sha256()}
    wanted = sorted({c.byte_offset for c in candidates})
    limit = wanted[-1] if wanted else 0
    data = head
    while wanted:
        while wanted and pos + len(data) >= wanted[0]:
            cut = wanted.pop(0) - pos
            hasher.update(data[:cut])
            pos, data = pos + cut, data[cut:]
            saved[pos] = hasher.copy()
        hasher.update(data)
        pos += len(data)
        if not wanted or not (data := f.read_some(min(HASH_CHUNK_BYTES, limit - pos))):
            break
    best = None
    for c in reversed(candidates):  # the longest consumed prefix this file has
        h = saved.get(c.byte_offset)
        if h is not None and (h.hexdigest() == c.prefix_sha if c.prefix_sha is not None else
                              c is own and _legacy_ok(c, identity, f.kind, f.path, st.st_size)):
            best = c
            break
    messages = []
    if best is None:
        if own is not None and own.byte_offset > 0:
            messages.append(f"{key}: rotated or replaced since the last run (its content differs from what was "
                            "read); read again from the start")
        f.seek(0)
        return Resume(0, 0, saved[0], skey, None, messages)
    if best.key != key:
        messages.append(f"{key}: continues {best.key} (rotated: the same first {best.line_no:,} lines); "
                        f"read from line {best.line_no + 1:,}")
    f.seek(best.byte_offset)
    return Resume(best.byte_offset, best.line_no, saved[best.byte_offset].copy(), skey, best, messages)


def save_checkpoints(con: duckdb.DuckDBPyConnection, checkpoints: Iterable[Checkpoint]) -> None:
    """Write checkpoints (one per file: the last wins) inside the caller's transaction."""
    rows = list({cp.key: cp.row() for cp in checkpoints}.values())
    if not rows:
        return
    con.register("logfile_checkpoints", pa.Table.from_pylist(rows))
    cols = ", ".join(rows[0])  # names from Checkpoint.row(); listed, not BY NAME: ClickHouse's INSERT has no BY NAME
    try:
        con.execute(f"INSERT OR REPLACE INTO raw_ingest_checkpoints ({cols}) SELECT {cols} FROM logfile_checkpoints")
    finally:
        con.unregister("logfile_checkpoints")


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


@dataclass
class Piece:
    """What reading a file hands its collector, in order: a batch of complete lines (None in the closing piece),
    the lines rejected while reading (over-long, the rest of a corrupt gzip), the checkpoint that holds once they
    are committed, whether the file is read from its first byte, the file's bytes gone through (progress), and
    what to tell the user."""
    key: str
    stream_key: str
    batch: Batch | None
    rejected: list[Rejected]
    checkpoint: Checkpoint | None
    from_start: bool
    progress: int
    messages: list[str]


def read_pieces(path: Path, key: str, kind: str, index: CheckpointIndex, c: Any, batch_lines: int) -> Iterator[Piece]:
    """The unread part of one line-oriented file (plain or gzip), batch by batch, then a closing piece whose
    checkpoint records the file's state (the quick check of the next run). `c`: the collector config (read_bytes,
    max_line_bytes). Checkpoints made here are added to `index` (later files of the run may continue them)."""
    st = path.stat()
    identity = file_identity(st)
    own = index.own(key)
    if own is not None and own.unchanged(identity, st):
        return
    with LogFile(path, kind) as f:
        res = resume_point(f, key, st, index)
        if res is None:  # not even a first complete line yet
            yield Piece(key, "", None, [], None, False, st.st_size, [])
            return
        reader = LineReader(f, res.offset, res.line_no, c.read_bytes, c.max_line_bytes, batch_lines,
                            tail_is_line=kind == "gzip", hasher=res.hasher)
        messages, position, from_start = res.messages, 0, res.offset == 0
        for batch in reader.batches():
            pending, reader.rejected = reader.rejected, []  # lines rejected while reading this batch
            cp = Checkpoint(key, identity, batch.end_offset, batch.end_line, None, None, None, res.stream_key,
                            batch.prefix_sha)
            index.add(cp)
            now = f.raw_position()
            yield Piece(key, res.stream_key, batch, pending, cp, from_start, now - position, messages)
            messages, position, from_start = [], now, False
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
        yield Piece(key, res.stream_key, None, pending, cp, from_start, max(0, st.st_size - position), messages)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()
