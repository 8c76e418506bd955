"""`memlens collect otel PATH...`: OTLP JSON Lines trace files -> op events in raw_op_events.

The input is the OpenTelemetry file-exporter format: one `TracesData` object per line (`.jsonl`, `.jsonl.gz`,
also `.json` / `.json.gz` as the Collector's file exporter names them), as written by the Collector's `file`
exporter or the in-process `opentelemetry-exporter-otlp-json-file`. Spans become op events through the mapping
files (collectors/otel_mapping.py); the events are validated and loaded like op-log lines (collectors/mapped.py).

Incremental and idempotent like the op-log collector (the same file reading, collectors/logfiles.py): a checkpoint
per file that follows content, not names, so a run reads only what was appended, a rotated copy continues what was
read of it, a replaced file is read again from its start, and the event_id `otel:<trace_id>:<span_id>` makes a
re-read span a duplicate, never a second event. A line that is not valid OTLP/JSON is quarantined whole (file,
line, reason naming the field); a span that is not valid is quarantined alone and the rest of its line loads.
Every span read is counted by what became of it (raw_otel_span_counts), so spans no mapping knows are reported,
not dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from memlens.collectors.base import (
    CollectorError,
    IngestResult,
    collection_run,
    display_path,
    read_sql,
    refresh_rollups,
    utcnow,
)
from memlens.collectors.logfiles import Checkpoint, CheckpointIndex, read_pieces, save_checkpoints
from memlens.collectors.mapped import Mapped as MappedEvent
from memlens.collectors.mapped import MappedLoader, Unmappable
from memlens.collectors.oplog import ProgressFn, _progress_callback
from memlens.collectors.otel_mapping import CountKey, SpanClassifier, SpanError, decode_line, op_event
from memlens.config import Config

SOURCE = "otel"
PLAIN_SUFFIXES = (".jsonl", ".json")
GZIP_SUFFIXES = (".jsonl.gz", ".json.gz")
# Lines per transaction. An OTLP line is a whole export batch (up to 512 spans by the SDK's default), so far fewer
# lines than op-log lines make a batch of similar size.
BATCH_LINES = 2048
DISPOSITIONS = ("op", "phase", "child", "ignored", "late", "unknown")


def trace_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIXES):
        return "gzip"
    if name.endswith(PLAIN_SUFFIXES):
        return "plain"
    return None


def discover(paths: list[Path]) -> list[Path]:
    """Trace files under `paths` (folders recursively: `.jsonl` and `.jsonl.gz` only, a folder's other `.json` files
    are rarely traces; a `.json` file named explicitly is read), sorted, each once. A missing path is an error."""
    found: dict[str, Path] = {}
    for p in paths:
        p = p.expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.name.lower().endswith((".jsonl", ".jsonl.gz")):
                    found.setdefault(display_path(f), f)
        elif p.is_file():
            if not trace_kind(p):
                raise CollectorError(f"{p}: not an OTLP JSON Lines trace file (expected "
                                     f"{', '.join(PLAIN_SUFFIXES + GZIP_SUFFIXES)})")
            found.setdefault(display_path(p), p)
        else:
            raise CollectorError(f"{p}: no such file or folder")
    return [found[k] for k in sorted(found)]


class OtelRun:
    """One collection: the loader, the span classifier (which spans wait for their operation, across batches and
    files) and the counts of what became of every span."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, result: IngestResult) -> None:
        self.con, self.cfg, self.result = con, cfg, result
        self.loader = MappedLoader(con, cfg, result, SOURCE)
        self.index = CheckpointIndex.load(con)  # what was read of every file, by name and by content
        self.classifier = SpanClassifier()
        self.totals: dict[CountKey, int] = {}

    def map_lines(self, key: str, data: bytes, first_line: int) -> tuple[list[MappedEvent], list[Unmappable],
                                                                          dict[CountKey, int]]:
        events: list[MappedEvent] = []
        bad: list[Unmappable] = []
        spans = []
        for i, raw in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")):
            line_no = first_line + i
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad.append(Unmappable(line_no, f"invalid UTF-8 at byte {exc.start + 1} of the line",
                                      raw.decode("utf-8", "replace")))
                continue
            if not text.strip():
                continue
            try:
                line_spans, bad_spans = decode_line(json.loads(text))
            except json.JSONDecodeError as exc:
                bad.append(Unmappable(line_no, f"invalid JSON ({exc.msg} at column {exc.colno})", text))
                continue
            except SpanError as exc:
                bad.append(Unmappable(line_no, str(exc), text))
                continue
            except RecursionError:
                bad.append(Unmappable(line_no, "JSON nested too deeply", text[:800]))
                continue
            bad += [Unmappable(line_no, reason, json.dumps(obj, default=str)) for reason, obj in bad_spans]
            for span in line_spans:
                span.source_file, span.source_line = key, line_no
            spans += line_spans
        classified = self.classifier.add(spans)
        for o in classified.ops:
            try:
                events.append(MappedEvent(op_event(o), o.span.source_line, o.span.label))
            except SpanError as exc:
                bad.append(Unmappable(o.span.source_line, f"{o.span.label}: {exc}", o.span.describe()))
        return events, bad, classified.counts

    def commit(self, key: str, events: list[MappedEvent], bad: list[Unmappable], counts: dict[CountKey, int],
               checkpoint: Checkpoint | None, reset_counts: bool = False) -> None:
        now = utcnow()

        def also(con: duckdb.DuckDBPyConnection) -> None:
            if reset_counts:  # the file is read again from its start: its counts start again too
                con.execute("DELETE FROM raw_otel_span_counts WHERE source_file = ?", [key])
            for (source_file, convention, disposition, span_name), n in counts.items():
                # the stored count plus this batch's, replacing the row (by key: both engines replace so)
                con.execute(read_sql("otel_add_span_count.sql"), {
                    "source_file": source_file, "convention": convention, "disposition": disposition,
                    "span_name": span_name, "spans": n, "now": now})
            if checkpoint is not None:
                save_checkpoints(con, [checkpoint])

        self.loader.commit(key, events, bad, also)
        for k, n in counts.items():
            self.totals[k] = self.totals.get(k, 0) + n

    def read_file(self, path: Path, key: str, kind: str, on_bytes: Callable[[int], None]) -> None:
        """The unread part of one trace file, batch by batch (a transaction each, with its checkpoint). What is new
        in a file, rotation and gzip still being written are decided as for op logs (collectors/logfiles.py)."""
        c = self.cfg.collector
        for piece in read_pieces(path, key, kind, self.index, c, min(c.batch_lines, BATCH_LINES)):
            self.result.messages.extend(piece.messages)
            events, bad, counts = self.map_lines(key, piece.batch.data, piece.batch.first_line) if piece.batch \
                else ([], [], {})
            bad += [Unmappable(r.line_no, r.reason, r.raw.decode("utf-8", "replace")) for r in piece.rejected]
            if piece.checkpoint is not None or bad:
                self.commit(key, events, bad, counts, piece.checkpoint, reset_counts=piece.from_start)
            if piece.batch is not None:
                self.result.bytes_read += len(piece.batch.data)
            on_bytes(piece.progress)

    def finish(self) -> None:
        """Spans still waiting for an operation that never came are unknown: counted in their files."""
        counts = self.classifier.finish()
        if counts:
            self.commit("", [], [], counts, None)
        self.result.messages.append(self.summary())

    def summary(self) -> str:
        by: dict[str, int] = {d: 0 for d in DISPOSITIONS}
        unknown: dict[str, int] = {}
        for (_, _, disposition, name), n in self.totals.items():
            by[disposition] = by.get(disposition, 0) + n
            if disposition == "unknown":
                unknown[name] = unknown.get(name, 0) + n
        text = "spans: " + ", ".join(f"{n:,} {d}" for d, n in by.items() if n or d in ("op", "unknown"))
        if unknown:
            top = sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            text += " (unknown (no mapping names them): " + ", ".join(f"{name!r} x{n}" for name, n in top) + \
                (", ..." if len(unknown) > 5 else "") + ")"
        return text


def collect_otel(con: duckdb.DuckDBPyConnection, paths: list[Path], cfg: Config,
                 progress: bool | ProgressFn = False, *, refresh: bool = True) -> IngestResult:
    """Load the Mem0 operations of OTLP JSON Lines trace files/folders; see the module docstring."""
    files = discover([Path(p) for p in paths])
    with collection_run(con, SOURCE, ", ".join(str(p) for p in paths)) as book:
        result = book.result
        result.files_seen = len(files)
        run = OtelRun(con, cfg, result)
        total = sum(f.stat().st_size for f in files)
        advance, close = _progress_callback(progress, total)
        try:
            for path in files:
                key = display_path(path)
                try:
                    run.read_file(path, key, trace_kind(path), lambda n, k=key: advance(n, k))
                except OSError as exc:  # vanished or unreadable file: the others still load
                    result.messages.append(f"{key}: skipped, {type(exc).__name__}: {exc.strerror or exc}")
            run.finish()
        finally:
            close()
        if not files:
            result.messages.append("no trace files found in " + ", ".join(str(p) for p in paths))
        if result.rows_loaded and refresh:
            refresh_rollups(con, result)
    return result
