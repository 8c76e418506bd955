"""`memlens demo`: write a labelled synthetic workload (op logs, schema v2 with phase timings, + a Mem0 history DB)
and load it.

The events come from `workloads.demo_model` (numpy, seeded); this module renders them with DuckDB into one
JSONL file per UTC day (`oplog-demo-YYYYMMDD.jsonl`, every line `"demo": true`) and a Mem0-format SQLite
history store (`demo-history.db`, the `history` table of mem0 2.2.1) whose memory ids are the `result_ids`
of the demo's add events. The same file holds `demo_memories`, the memories alive at the end with their owners
(what get_all would list), loaded as a snapshot so growth pages can attribute every memory. Loading goes
through the real collectors, exactly as a user's own logs would.

A warehouse holds one demo. Its load is booked as a run (raw_ingest_runs, source `demo`, target the DemoSpec: sizes,
seed and the window's end), marked ok only when every part is in: the same demo again is a no-op, and one stopped
half-way (killed, interrupted) is finished by the next `memlens demo` (same arguments), `memlens demo --if-empty`
or the dashboard's first start, from identical files (the recorded end makes them so; the collectors continue
where they stopped).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from memlens import paths
from memlens.config import Config
from memlens.resources import read_sql
from memlens.schema import PHASES
from memlens.workloads import demo_model as dm

if TYPE_CHECKING:
    from memlens.collectors.base import IngestResult
    from memlens.collectors.snapshot import MemoryRecord

HISTORY_DB_NAME = "demo-history.db"
OPLOG_GLOB = "oplog-demo-*.jsonl"
SNAPSHOT_SOURCE = "demo"  # raw_memory_snapshots.source of the demo's snapshot (real ones: oss | platform)

# Defaults of `memlens demo` and of the dashboard's first start (ensure_demo).
DEFAULT_EVENTS = 200_000
DEFAULT_DAYS = 28
DEFAULT_USERS = 200
DEFAULT_SEED = 7

# (what is happening, share of the whole first start done): the dashboard's progress bar during ensure_demo.
DemoProgress = Callable[[str, float], None]
# Where each step begins and ends on that bar: the time each took in a measured 200,000-event first start
# (18 s: writing 8 s, op logs 4 s, history 2.6 s, store snapshot 3.2 s, one rollup rebuild 0.2 s).
STEP_SPAN = {"generate": (0.0, 0.45), "oplog": (0.45, 0.65), "history": (0.65, 0.8), "snapshot": (0.8, 0.97),
             "rollups": (0.97, 1.0)}

DEMO_MEMORIES_INSERT = "INSERT INTO demo_memories (id, user_id, memory, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
DEMO_MEMORIES_SELECT = "SELECT id, user_id, memory, created_at, updated_at FROM demo_memories ORDER BY id LIMIT ?"
SQLITE_BATCH_ROWS = 50_000
DUCKDB_MEMORY_LIMIT = "1GB"  # the renderer's DuckDB spills beyond this


def _now_us() -> int:
    # a minute in the past: collectors reject events from the future, and this leaves room for clock skew
    return int(time.time() * dm.US) - 60 * dm.US


@dataclass(frozen=True)
class DemoSpec:
    """What determines a demo's files: sizes, seed, and the end of its window (microseconds since the epoch)."""
    events: int = DEFAULT_EVENTS
    days: int = DEFAULT_DAYS
    users: int = DEFAULT_USERS
    seed: int = DEFAULT_SEED
    end_us: int | None = None  # None: now (fixed by `anchored`)

    def anchored(self) -> DemoSpec:
        return self if self.end_us is not None else DemoSpec(self.events, self.days, self.users, self.seed,
                                                             _now_us())

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_us / dm.US, UTC)

    def text(self) -> str:
        return (f"demo events={self.events} days={self.days} users={self.users} seed={self.seed} "
                f"end_us={self.end_us}")

    def describe(self) -> str:
        return (f"{self.events:,} events over {self.days} days for {self.users} users, seed {self.seed}, "
                f"ending {self.end:%Y-%m-%d %H:%M} UTC")

    def same_workload(self, other: DemoSpec) -> bool:
        return (self.events, self.days, self.users, self.seed) == (other.events, other.days, other.users, other.seed)

    @classmethod
    def parse(cls, text: str | None) -> DemoSpec | None:
        m = re.fullmatch(r"demo events=(\d+) days=(\d+) users=(\d+) seed=(-?\d+) end_us=(\d+)", text or "")
        return cls(*(int(g) for g in m.groups())) if m else None


@dataclass(frozen=True)
class DemoState:
    """What a warehouse holds: the demo booked last (and whether its load finished), and events of its own."""
    spec: DemoSpec | None
    complete: bool
    own_events: int  # events not marked demo
    demo_events: int

    @property
    def holds_data(self) -> bool:
        """Nothing to load: the user's own events, a finished demo, or demo rows of a memlens that booked none."""
        return bool(self.own_events or (self.spec and self.complete) or (self.spec is None and self.demo_events))

    @property
    def unfinished(self) -> DemoSpec | None:
        return self.spec if self.spec is not None and not self.complete else None


def demo_state(con: duckdb.DuckDBPyConnection) -> DemoState:
    row = con.execute("SELECT target, status FROM raw_ingest_runs WHERE source = 'demo' "
                      "ORDER BY started_at DESC LIMIT 1").fetchone()
    own, demo_rows = con.execute("SELECT count(*) FILTER (WHERE NOT coalesce(demo, false)), "
                                 "count(*) FILTER (WHERE demo) FROM raw_op_events").fetchone()
    spec = DemoSpec.parse(row[0]) if row else None
    return DemoState(spec, bool(row) and row[1] == "ok", int(own), int(demo_rows))


def _to_us(end: datetime | None) -> int:
    if end is None:
        return _now_us()
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return int(end.timestamp() * dm.US)


def _frames(ev: dm.DemoEvents) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = len(ev)
    events = pd.DataFrame({
        "i": np.arange(n, dtype=np.int64), "ts_us": ev.ts_us, "day": (ev.ts_us - ev.start_us) // dm.DAY_US,
        "user_idx": ev.user, "service": ev.service, "op": dm.OPS[ev.op], "agent": ev.agent, "run": ev.run,
        "is_async": ev.is_async, "ok": ev.ok, "error_type": ev.error_type, "latency_ms": ev.latency_ms,
        "target": ev.target, "limit": ev.limit, "top_k": ev.top_k, "scope": ev.scope, "rerank": ev.rerank,
        "threshold": ev.threshold, "result_count": ev.result_count, "top_score": ev.top_score,
        "first_memory": ev.first_memory, "created": ev.created, "updated": ev.updated, "deleted": ev.deleted,
        "query": ev.query, "message_count": ev.message_count, "infer": ev.infer, "cache": ev.cache,
        "embedding_calls": ev.embedding_calls, "embedding_tokens": ev.embedding_tokens,
        "llm_in": ev.llm_in, "llm_out": ev.llm_out,
        **{f"{p}_ms": ev.phase_ms[:, i] for i, p in enumerate(PHASES)},
    })
    memories = pd.DataFrame({"k": np.arange(len(ev.mem_user), dtype=np.int64), "ts_us": ev.mem_ts_us,
                             "user_idx": ev.mem_user})
    services = pd.DataFrame({
        "idx": np.arange(len(dm.SERVICES), dtype=np.int64),
        "name": [s.name for s in dm.SERVICES], "mode": [s.mode for s in dm.SERVICES],
        "embedding_model": [s.embedding_model for s in dm.SERVICES],
    })
    return events, memories, services


def _clear_previous(out_dir: Path) -> None:
    """Remove an earlier demo's files from out_dir (only the demo's own names)."""
    for p in out_dir.glob(OPLOG_GLOB):
        p.unlink()
    (out_dir / HISTORY_DB_NAME).unlink(missing_ok=True)


def _copy_rows(cur: duckdb.DuckDBPyConnection, sq: sqlite3.Connection, insert: str) -> int:
    """Stream a DuckDB result into SQLite in batches (a 10M-event demo has millions of history rows)."""
    total = 0
    while rows := cur.fetchmany(SQLITE_BATCH_ROWS):
        sq.executemany(insert, rows)
        total += len(rows)
    return total


def _write_history(con: duckdb.DuckDBPyConnection, seed: int, db_path: Path) -> int:
    """mem0's `history` table, plus `demo_memories`: the memories alive at the end, with owners and texts."""
    con.execute(read_sql(__package__, "demo_history.sql"), {"seed": seed})
    sq = sqlite3.connect(db_path)
    try:
        with sq:
            sq.execute(read_sql(__package__, "mem0_history_ddl.sql"))
            n = _copy_rows(con.execute(read_sql(__package__, "demo_history_rows.sql")), sq,
                           read_sql(__package__, "mem0_history_insert.sql"))
            sq.execute(read_sql(__package__, "demo_memories_ddl.sql"))
            _copy_rows(con.execute(read_sql(__package__, "demo_memories.sql")), sq, DEMO_MEMORIES_INSERT)
        return n
    finally:
        sq.close()


def generate_demo(out_dir: str | Path, events: int = DEFAULT_EVENTS, days: int = DEFAULT_DAYS,
                  users: int = DEFAULT_USERS, seed: int = DEFAULT_SEED, end: datetime | None = None) -> list[Path]:
    """Write the demo op logs (one JSONL per UTC day) and the demo history DB; return the paths written.

    The window is `days` days ending at `end` (default: now, UTC). The same arguments give the same files.
    """
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    ev = dm.generate(events, days, users, seed, _to_us(end))
    ev_df, mem_df, svc_df = _frames(ev)
    start_us = ev.start_us
    del ev  # the frames hold what is rendered; free the model's arrays before DuckDB copies them
    written: list[Path] = []
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        # big demos spill to disk instead of holding every rendered row in memory
        con.execute("SET temp_directory = ?", [str(out / ".demo-tmp")])
        con.execute("SET memory_limit = ?", [DUCKDB_MEMORY_LIMIT])
        # copied once into DuckDB tables: the per-day queries then scan columnar data, not pandas objects
        con.register("demo_ev_frame", ev_df)
        con.register("demo_mem_frame", mem_df)
        con.register("demo_svc_frame", svc_df)
        con.execute("CREATE TEMP TABLE demo_ev AS SELECT * FROM demo_ev_frame")
        con.execute("CREATE TEMP TABLE demo_mem AS SELECT * FROM demo_mem_frame")
        con.execute("CREATE TEMP TABLE demo_svc AS SELECT * FROM demo_svc_frame")
        for frame in ("demo_ev_frame", "demo_mem_frame", "demo_svc_frame"):
            con.unregister(frame)
        del ev_df, mem_df
        con.execute(read_sql(__package__, "demo_macros.sql"))
        oplog_sql = read_sql(__package__, "demo_oplog.sql")
        for day in range(days):
            lines = con.execute(oplog_sql, {"seed": seed, "day": day, "llm_model": dm.LLM_MODEL}).fetchall()
            if not lines:
                continue
            stamp = datetime.fromtimestamp((start_us + day * dm.DAY_US) / dm.US, UTC).strftime("%Y%m%d")
            path = out / f"oplog-demo-{stamp}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                fh.write("\n".join(line for _, line in lines))
                fh.write("\n")
            written.append(path)
        history = out / HISTORY_DB_NAME
        _write_history(con, seed, history)
        written.append(history)
    finally:
        con.close()
    return written


@dataclass(frozen=True)
class DemoLoad:
    files: list[Path]
    oplog: IngestResult
    history: IngestResult
    snapshot: IngestResult
    seconds: float


def _demo_memory_records(history_db: Path, limit: int, result: IngestResult) -> Iterator[MemoryRecord]:
    """The demo store's memories, at most `limit` (the snapshot collector's collector.snapshot_max_memories)."""
    from memlens.collectors.snapshot import MemoryRecord

    sq = sqlite3.connect(f"file:{history_db}?mode=ro", uri=True)
    try:
        listed = 0
        for mid, user, text, created, updated in sq.execute(DEMO_MEMORIES_SELECT, [limit]):
            listed += 1
            yield MemoryRecord(memory_id=mid, text=text, user_id=user, created_at=created, updated_at=updated)
        if listed >= limit:
            result.messages.append(f"demo store: stopped at collector.snapshot_max_memories={limit}")
    finally:
        sq.close()


def _oplog_files(files: list[Path]) -> list[Path]:
    return [p for p in files if p.suffix == ".jsonl"]


def _step(progress: DemoProgress | None, step: str, text: str, within: float = 0.0) -> None:
    if progress is not None:
        lo, hi = STEP_SPAN[step]
        progress(text, lo + (hi - lo) * min(max(within, 0.0), 1.0))


def load_demo(con: duckdb.DuckDBPyConnection, files: list[Path], cfg: Config,
              progress: bool | DemoProgress = False, spec: DemoSpec | None = None) -> DemoLoad:
    """Load written demo files through the real collectors (op logs, history, and a snapshot of the demo's
    memory store); rebuild the rollups once afterwards (each collector would otherwise rebuild them in full).

    `progress`: True for the CLI's byte progress bar, or a DemoProgress told each step (the dashboard). `spec`:
    book the load as the warehouse's demo (see the module docstring)."""
    from memlens.collectors.base import collection_run

    if spec is None:
        return _load_demo(con, files, cfg, progress)
    with collection_run(con, "demo", spec.text()) as book:
        loaded = _load_demo(con, files, cfg, progress)
        book.result.files_seen = len(files)
        book.result.rows_loaded = loaded.oplog.rows_loaded
        book.result.messages.append(f"DEMO workload: {spec.describe()}")
    return loaded


def _load_demo(con: duckdb.DuckDBPyConnection, files: list[Path], cfg: Config,
               progress: bool | DemoProgress) -> DemoLoad:
    from memlens import rollups
    from memlens.collectors.base import refresh_rollups
    from memlens.collectors.history import collect_history
    from memlens.collectors.oplog import collect_oplogs
    from memlens.collectors.snapshot import write_snapshot

    t0 = time.perf_counter()
    report = progress if callable(progress) else None

    def oplog_bytes(done: int, total: int, current: str) -> None:
        share = done / total if total else 1.0
        _step(report, "oplog", f"Loading the op logs into the warehouse: {share:.0%} ({Path(current).name})", share)

    _step(report, "oplog", "Loading the op logs into the warehouse")
    oplog = collect_oplogs(con, _oplog_files(files), cfg, progress=oplog_bytes if report else bool(progress),
                           refresh=False)
    history_db = next(p for p in files if p.name == HISTORY_DB_NAME)
    _step(report, "history", "Loading the Mem0 memory history")
    history = collect_history(con, history_db, refresh=False)
    limit = cfg.collector.snapshot_max_memories
    _step(report, "snapshot", "Taking a snapshot of the demo memory store")
    if con.execute("SELECT count(*) FROM raw_memory_snapshots WHERE source = ?", [SNAPSHOT_SOURCE]).fetchone()[0]:
        from memlens.collectors.base import IngestResult  # a resumed demo: its store was snapshotted already

        snapshot = IngestResult(run_id="-", source="snapshot", messages=["the demo store's snapshot is there"])
    else:
        snapshot = write_snapshot(con, SNAPSHOT_SOURCE, f"demo memory store ({history_db.name})",
                                  lambda result: _demo_memory_records(history_db, limit, result), store_text=False)
    if oplog.rows_loaded or history.rows_loaded or not rollups.is_fresh(con):
        _step(report, "rollups", "Building the dashboard's pre-aggregated tables")
        refresh_rollups(con, oplog)  # a failure is reported in the op-log run's messages
    _step(report, "rollups", "Done", 1.0)
    return DemoLoad(files, oplog, history, snapshot, time.perf_counter() - t0)


def default_out_dir() -> Path:
    return paths.data_dir() / "demo-logs"


def warehouse_event_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0])


def run_demo(args: argparse.Namespace, cfg: Config, warehouse_path: Path) -> int:
    """CLI: write the demo workload, load it unless --no-load, print a summary that says it is demo data.

    The same demo again does nothing; a demo stopped half-way is finished (same arguments, or --if-empty)."""
    from memlens.collectors.base import collection_warehouse

    spec = DemoSpec(args.events, args.days, args.users, args.seed)
    state = None
    if not args.no_load:
        with collection_warehouse(warehouse_path, cfg, "memlens demo") as con:
            state = demo_state(con)
        done = f"warehouse {warehouse_path} already holds"
        if state.unfinished and (args.if_empty or state.unfinished.same_workload(spec)):
            spec = state.unfinished
            print(f"finishing the demo load that stopped before its end ({spec.describe()})")
        elif args.if_empty and state.holds_data:
            print(f"{done} {state.own_events + state.demo_events:,} events; demo not loaded (--if-empty)")
            return 0
        elif state.spec and state.complete and state.spec.same_workload(spec):
            print(f"{done} this demo ({state.spec.describe()}); nothing to do. A different --seed or size "
                  "needs another warehouse (--warehouse NEW.duckdb)")
            return 0
        elif state.spec:
            print(f"memlens: {done} {'an unfinished' if state.unfinished else 'a'} demo ({state.spec.describe()}); "
                  "one demo per warehouse: use another warehouse (--warehouse NEW.duckdb)"
                  + (" or run `memlens demo` with its arguments to finish it" if state.unfinished else ""),
                  file=sys.stderr)
            return 2
    spec = spec.anchored()
    out = Path(args.out).expanduser() if args.out else default_out_dir()
    t0 = time.perf_counter()
    files = generate_demo(out, spec.events, spec.days, spec.users, spec.seed, end=spec.end)
    oplogs = _oplog_files(files)
    print(f"DEMO data: wrote {spec.events:,} synthetic events over {spec.days} days for {spec.users} users "
          f"(seed {spec.seed}) to {out}: {len(oplogs)} op-log files + {HISTORY_DB_NAME} "
          f"in {time.perf_counter() - t0:.1f} s. Every row is marked demo=true.")
    if args.no_load:
        print(f"not loaded (--no-load); load with: memlens collect logs {out} && "
              f"memlens collect history --db {out / HISTORY_DB_NAME}")
        return 0
    with collection_warehouse(warehouse_path, cfg, "memlens demo") as con:
        result = load_demo(con, files, cfg, progress=True, spec=spec)
    print(result.oplog.summary())
    print(result.history.summary())
    print(result.snapshot.summary())
    print(f"DEMO data loaded into {warehouse_path} in {result.seconds:.1f} s; the dashboard labels it as demo. "
          "Point `memlens collect logs` at your own logs to see real data.")
    return 0


def ensure_demo(con_or_path: duckdb.DuckDBPyConnection | str | Path, cfg: Config,
                out_dir: Path | None = None, progress: DemoProgress | None = None) -> bool:
    """Load the default demo when the warehouse holds no data, or finish a demo load that stopped half-way
    (dashboard first start). True when loaded. `progress` is told what is happening at each step."""
    from memlens.warehouse import open_warehouse

    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        state = demo_state(con_or_path)
        if state.holds_data and not state.unfinished:
            return False
        return load_default_demo(con_or_path, cfg, out_dir, progress) is not None
    with open_warehouse(con_or_path, cfg) as con:
        return ensure_demo(con, cfg, out_dir, progress)


def load_default_demo(con: duckdb.DuckDBPyConnection, cfg: Config, out_dir: Path | None = None,
                      progress: DemoProgress | None = None) -> DemoLoad | None:
    """The default demo into `con`, or the end of the demo load that stopped half-way; None when the warehouse
    holds a finished demo already (loading it again would only repeat it)."""
    state = demo_state(con)
    if state.spec is not None and state.complete:
        return None
    spec = (state.unfinished or DemoSpec(DEFAULT_EVENTS, DEFAULT_DAYS, DEFAULT_USERS, DEFAULT_SEED)).anchored()
    _step(progress, "generate", f"Writing the demo workload: {spec.events:,} synthetic events over "
          f"{spec.days} days for {spec.users} users")
    files = generate_demo(out_dir or default_out_dir(), spec.events, spec.days, spec.users, spec.seed, end=spec.end)
    return load_demo(con, files, cfg, progress or False, spec=spec)
