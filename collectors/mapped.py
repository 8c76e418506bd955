"""Load op events that a collector MAPPED from another format (OTel spans, Platform events) into raw_op_events.

The mapped events go through the op-log collector's own validation (collectors/sql/oplog_check.sql, oplog_reasons.sql,
oplog_verdict.sql): one definition of a valid op event, the same quarantine reasons naming the field, the same
idempotency by event_id (a re-read event with the same content is a duplicate; different content is quarantined).
Each batch is one transaction: its events, its quarantined records, and whatever the caller must move with them
(a checkpoint, span counts) commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from memlens.collectors.base import EXCERPT_CHARS, SECRET_PATTERN, IngestResult, excerpt, read_sql, redact, utcnow
from memlens.config import Config


@dataclass
class Mapped:
    """One op event, where it came from (line / position in the source) and a label for quarantine reasons."""
    event: dict[str, Any]
    source_line: int
    label: str


@dataclass
class Unmappable:
    """A source record that gave no op event: quarantined with its reason (naming the field) and an excerpt."""
    source_line: int
    reason: str
    raw: str


class MappedLoader:
    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, result: IngestResult, source: str) -> None:
        from memlens.collectors.oplog import OplogLoader, check_lines  # its validation, not its reader

        self.con, self.result, self.source = con, result, source
        self.now = utcnow()
        self.checks = OplogLoader(con, cfg, result)  # validates in DuckDB; ships to a ClickHouse warehouse
        self.check_lines = check_lines

    def commit(self, key: str, events: list[Mapped], bad: list[Unmappable],
               also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> tuple[int, int, int]:
        """Validate and load `events`, quarantine them or `bad`, run `also` (checkpoint, counts): one transaction.
        Returns (loaded, duplicate, quarantined)."""
        con = self.checks.work
        chunk = pa.table({"line_no": pa.array(range(1, len(events) + 1), pa.int64()),
                          "line": pa.array([json.dumps(m.event) for m in events], pa.string())})
        lines = pa.table({"line_no": pa.array(range(1, len(events) + 1), pa.int64()),
                          "source_line": pa.array([m.source_line for m in events], pa.int64()),
                          "label": pa.array([m.label for m in events], pa.string())})
        con.register("oplog_chunk", chunk)
        con.register("mapped_lines", lines)
        # row keys here are plain line numbers (file number 0)
        con.register("oplog_files", pa.table({"file_no": pa.array([0], pa.int64()), "source_file": [key],
                                              "stream_key": [""]}))
        con.execute("BEGIN TRANSACTION")
        try:
            loaded = dup = bad_rows = 0
            if events:
                # inside the transaction, where no statement may fail: each line tested before it is parsed
                self.check_lines(con, self.checks.fast_params, self.checks.reason_params, parse_once=False)
                loaded, dup, bad_rows = self.checks.verdict()
                con.execute(read_sql("mapped_insert_events.sql"), {"source_file": key, "ingested_at": self.now})
                con.execute(read_sql("mapped_insert_quarantine.sql"), {
                    "source_file": key, "quarantined_at": self.now, "secret_pattern": SECRET_PATTERN,
                    "excerpt_chars": EXCERPT_CHARS, "source": self.source})
            if bad:
                con.executemany(
                    "INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [[key, b.source_line, redact(b.reason)[:1000], excerpt(b.raw), self.source, self.now] for b in bad])
            self.checks.ship()
            if also is not None:
                also(self.con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("oplog_chunk")
            con.unregister("mapped_lines")
            con.unregister("oplog_files")
        quarantined = bad_rows + len(bad)
        self.result.rows_loaded += loaded
        self.result.rows_duplicate += dup
        self.result.rows_quarantined += quarantined
        return loaded, dup, quarantined
