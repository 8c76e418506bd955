"""Op-log ingest benchmark: memlens `collect_oplogs` vs the engine's own JSON reader, and vs a naive
json.loads + pandas baseline.

    .venv/bin/python bench/ingest_bench.py [--events 10000000] [--repeat 3] [--baseline-events 1000000]
                                           [--parquet-events N] [--no-naive] [--workdir DIR]

1. Generates N schema-v1 events with numpy (vectorised: 30 days, Zipf-like users, op mix, lognormal
   latencies, errors, cache outcomes, tokens) and writes them as JSONL files of at most 1M lines
   (DuckDB formats the lines).
2. memlens, medians over --repeat runs, each phase timed on its own:
   a. full load: `collect_oplogs` into a fresh DuckDB file; split into ingest (validate, deduplicate, persist)
      and the rollup refresh it ends with (the refresh's own duration, recorded in agg_refresh_state);
   b. append: `collect_oplogs` of --append-events new events of the last day into a copy of that warehouse
      (the everyday case: the idempotency probe runs against all loaded rows, rollups refresh only the
      days touched);
   c. reading latency per day and op and cost per day from the metric layer (exact input, warm).
3. The engine's limit, same run, same files: DuckDB's own `read_json` with explicit columns (the raw table's
   column types) into a table in a fresh DuckDB file, nothing validated; `collect_oplogs`' ingest (without
   its rollup refresh) is printed as a ratio to it (issue 16's goal: within 1.5x).
4. Parquet (unless --parquet-events 0): the first --parquet-events of the same events as Parquet files (typed
   columns, absent fields null), DuckDB's bare `read_parquet` into a table in a fresh DuckDB file against
   `collect_oplogs` of those files (typed rows checked by the same value checks; a part with a row that fails
   them goes as JSON lines), alternating, medians. Wall and CPU seconds (all threads) of each run are printed:
   on the shared box the CPU ratio is the steadier one.
5. Naive baseline (unless --no-naive), same run, same files: json.loads per line + pandas.DataFrame, then
   pandas groupby P50/P95/P99 latency per day x op (numpy 'linear', as the view) and tokens x price cost per day.
   When --baseline-events < N it reads only the first lines and its times are scaled linearly to N (stated).
   The baseline's P95s are compared with the view's on the same subsample (must agree).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

from memlens import layer, schema  # noqa: E402
from memlens.collectors.oplog import collect_oplogs  # noqa: E402
from memlens.config import Config, default_config  # noqa: E402
from memlens.warehouse import connect  # noqa: E402

FILE_EVENTS = 1_000_000
END_EPOCH_S = 1_795_564_800  # 2026-11-25T00:00:00Z: fixed, so runs are comparable
OPS = np.array(["search", "add", "get", "get_all", "update", "delete", "history"])
OP_SHARE = np.array([0.60, 0.20, 0.06, 0.05, 0.05, 0.03, 0.01])
OP_MEDIAN_MS = np.array([35.0, 120.0, 12.0, 25.0, 60.0, 10.0, 8.0])
EMBED_MODEL = "text-embedding-3-small"
LLM_MODEL = "gpt-4o-mini"


def generate(n: int, seed: int = 7, first_id: int = 0, days: float = 30) -> pa.Table:
    """n schema-v1 events over the `days` before END_EPOCH_S as an Arrow table (columns in schema order; absent
    optional fields are null); event ids e<first_id>, e<first_id + 1>, ..."""
    rng = np.random.default_rng(seed)
    op_idx = rng.choice(len(OPS), size=n, p=OP_SHARE)
    op = OPS[op_idx]
    is_search, is_add = op == "search", op == "add"
    ts_us = (END_EPOCH_S - rng.uniform(0, days * 86400, n)) * 1e6
    users = np.char.add("u", (rng.zipf(1.3, n) % 2000).astype(str))
    latency = np.round(OP_MEDIAN_MS[op_idx] * rng.lognormal(0, 0.6, n) * np.where(rng.random(n) < 0.01, 8, 1), 3)
    error = rng.random(n) < 0.01
    cache = np.where(is_search, rng.choice(np.array(["hit", "miss", "bypass"]), n, p=[0.55, 0.4, 0.05]), None)
    embeds = is_add | (is_search & (cache != "hit"))
    infer = is_add & (rng.random(n) < 0.3)

    def masked(values: np.ndarray, mask: np.ndarray, typ: pa.DataType) -> pa.Array:
        return pa.array(values, typ, mask=~mask)

    return pa.table({
        "schema_version": pa.array(np.ones(n, np.int32)),
        "event_id": pa.array(np.char.add("e", np.arange(first_id, first_id + n).astype(str)).astype(object)),
        "ts": pa.array(ts_us.astype(np.int64).astype("datetime64[us]")),
        "service": pa.array(np.where(np.arange(n) % 4 == 0, "worker", "chat-api").astype(object)),
        "mode": pa.array(np.full(n, "oss", object)),
        "call_mode": pa.array(np.where(np.arange(n) % 3 == 0, "async", "sync").astype(object)),
        "op": pa.array(op.astype(object)),
        "user_id": masked(users.astype(object), ~(is_search & (rng.random(n) < 0.05)), pa.string()),
        "latency_ms": pa.array(latency),
        "status": pa.array(np.where(error, "error", "ok").astype(object)),
        "error_type": masked(np.full(n, "TimeoutError", object), error, pa.string()),
        "top_k": masked(np.full(n, 10, np.int32), is_search, pa.int32()),
        "filter_keys": pa.array([["user_id"] if s else None for s in is_search], pa.list_(pa.string())),
        "result_count": masked(rng.integers(0, 11, n).astype(np.int32), is_search, pa.int32()),
        "query_hash": masked(np.char.add("q", (rng.zipf(1.2, n) % 50_000).astype(str)).astype(object), is_search,
                             pa.string()),
        "message_count": masked(rng.integers(1, 5, n).astype(np.int32), is_add, pa.int32()),
        "infer": masked(infer, is_add, pa.bool_()),
        "memories_created": masked(np.ones(n, np.int32), is_add, pa.int32()),
        "embedding_model": masked(np.full(n, EMBED_MODEL, object), embeds, pa.string()),
        "embedding_tokens": masked(rng.integers(5, 200, n).astype(np.int32), embeds, pa.int32()),
        "llm_model": masked(np.full(n, LLM_MODEL, object), infer, pa.string()),
        "llm_input_tokens": masked(rng.integers(200, 1500, n).astype(np.int32), infer, pa.int32()),
        "llm_output_tokens": masked(rng.integers(20, 200, n).astype(np.int32), infer, pa.int32()),
        "cache": masked(cache.astype(object), is_search, pa.string()),
    })


def write_jsonl(table: pa.Table, folder: Path, prefix: str = "oplog-bench") -> list[Path]:
    """Files of FILE_EVENTS lines, formatted by DuckDB like the instrumentation writes them: absent fields
    left out (not null), ts as ISO 8601 with Z."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = []
    for k, start in enumerate(range(0, table.num_rows, FILE_EVENTS)):
        con.register("bench_events", table.slice(start, FILE_EVENTS))
        path = folder / f"{prefix}-{k:03d}.jsonl"
        con.execute(
            "COPY (SELECT regexp_replace(regexp_replace(to_json(e)::VARCHAR, '\"\\w+\":null,?', '', 'g'), ',}$', '}') "
            "FROM (SELECT * REPLACE (strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts) FROM bench_events) e) "
            "TO '" + str(path).replace("'", "''") + "' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', "
            "DELIMITER '\x01')")
        con.unregister("bench_events")
        files.append(path)
    con.close()
    return files


def write_parquet(table: pa.Table, folder: Path) -> list[Path]:
    """The same events as Parquet files of FILE_EVENTS rows (typed columns; absent fields null)."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k, start in enumerate(range(0, table.num_rows, FILE_EVENTS)):
        path = folder / f"oplog-bench-{k:03d}.parquet"
        pq.write_table(table.slice(start, FILE_EVENTS), path)
        files.append(path)
    return files


def generated(work: Path, n: int, n_append: int, n_parquet: int) -> tuple[list[Path], list[Path], list[Path]]:
    """The bench's input files in `work`: made once, reused by a later run with the same counts (--workdir)."""
    stamp = work / "generated.txt"
    want = f"{n} {n_append} {n_parquet}"
    logs, extra, parquet = work / "logs", work / "append", work / "parquet"
    if stamp.exists() and stamp.read_text() == want:
        return sorted(logs.glob("*.jsonl")), sorted(extra.glob("*.jsonl")), sorted(parquet.glob("*.parquet"))
    for folder in (logs, extra, parquet):
        shutil.rmtree(folder, ignore_errors=True)
    table = generate(n)
    files = write_jsonl(table, logs)
    pq_files = write_parquet(table.slice(0, n_parquet), parquet) if n_parquet else []
    del table
    extra_files = write_jsonl(generate(n_append, seed=8, first_id=n, days=1), extra, "oplog-append")
    stamp.write_text(want)
    return files, extra_files, pq_files


def bare_read_parquet(files: list[Path], db: Path) -> int:
    """DuckDB's read_parquet into a table in a fresh DuckDB file."""
    remove_db(db)
    con = duckdb.connect(str(db))
    try:
        con.execute("CREATE TABLE events AS SELECT * FROM read_parquet(?)", [[str(f) for f in files]])
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


CPU: dict[str, float] = {}  # median CPU seconds (all threads) per measured step, printed next to wall time
CPU_RUNS: dict[str, list[float]] = {}  # CPU seconds of each alternating run (a steadier ratio on a loaded box)


PARTS: dict[str, list[float]] = {}  # sub-phase wall seconds per run (e.g. the rollup refresh inside a collection)


def median_time(fn: Callable[[], object], repeat: int, name: str) -> tuple[float, object]:
    """Median wall seconds over `repeat` runs (and the median CPU seconds into CPU[name])."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times), out


def remove_db(db: Path) -> None:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()


def memlens_collect(files: list[Path], db: Path, cfg: Config, name: str) -> int:
    """collect_oplogs into `db`; its wall seconds go to PARTS[name + " collect"], the rollup refresh's own
    seconds (recorded in agg_refresh_state) to PARTS[name]."""
    con = connect(db, cfg)
    try:
        t0 = time.perf_counter()
        loaded = collect_oplogs(con, files, cfg).rows_loaded
        PARTS.setdefault(name + " collect", []).append(time.perf_counter() - t0)
        PARTS.setdefault(name, []).append(con.execute("SELECT seconds FROM agg_refresh_state").fetchone()[0])
        return loaded
    finally:
        con.close()


def memlens_append(files: list[Path], full_db: Path, db: Path, cfg: Config) -> None:
    """Collect `files` into a fresh copy of the fully loaded warehouse (timed in PARTS["append collect"])."""
    remove_db(db)
    shutil.copyfile(full_db, db)
    loaded = memlens_collect(files, db, cfg, "append")
    assert loaded == sum(1 for f in files for _ in f.open("rb")), loaded


def bare_read_json(files: list[Path], db: Path) -> int:
    """DuckDB's read_json with explicit columns (the raw table's types) into a table in a fresh DuckDB file."""
    remove_db(db)
    columns = "{" + ", ".join(f"'{f.name}': '{f.duckdb_type}'" for f in schema.FIELDS) + "}"
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                    f"columns = {columns})", [[str(f) for f in files]])
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


def baseline_load(files: list[Path], limit: int) -> pd.DataFrame:
    rows = []
    for path in files:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if len(rows) >= limit:
                    return pd.DataFrame(rows)
                rows.append(json.loads(line))
    return pd.DataFrame(rows)


def baseline_queries(df: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    day = pd.to_datetime(df["ts"], utc=True).dt.date
    lat = df.assign(day=day).groupby(["day", "op"])["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    emb = cfg.prices.embedding
    llm = cfg.prices.llm
    cost = (df["embedding_tokens"].fillna(0) * df["embedding_model"].map(emb).fillna(0)
            + df["llm_input_tokens"].fillna(0) * df["llm_model"].map({m: p.input for m, p in llm.items()}).fillna(0)
            + df["llm_output_tokens"].fillna(0) * df["llm_model"].map({m: p.output for m, p in llm.items()}).fillna(0)
            ) / 1e6
    per_day = cost.groupby(day).sum()
    return lat, per_day.to_frame("total_cost_usd")


def check_agreement(files: list[Path], limit: int, lat: pd.DataFrame, cfg: Config, folder: Path) -> float:
    """Largest |P95 difference| (ms) between the view and pandas on the baseline's lines."""
    sub = folder / "subsample"
    sub.mkdir(exist_ok=True)
    lines_left, parts = limit, []
    for path in files:
        if lines_left <= 0:
            break
        with path.open("rb") as f:
            chunk = b"".join(line for _, line in zip(range(lines_left), f, strict=False))
        lines_left -= chunk.count(b"\n")
        (sub / path.name).write_bytes(chunk)
        parts.append(sub / path.name)
    con = connect(":memory:", cfg)
    collect_oplogs(con, parts, cfg)
    got = layer.percentiles(con, layer.ALL, ("day", "op"))
    con.close()
    days = pd.to_datetime(got["day"]).dt.date
    return max(abs(p95 - lat.loc[(d, o), 0.95]) for d, o, p95 in zip(days, got["op"], got["p95_ms"], strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-events", type=int, default=1_000_000,
                    help="lines the naive baseline reads (its times are scaled to --events when smaller)")
    ap.add_argument("--append-events", type=int, help="new events of the last day collected into the loaded "
                    "warehouse (default: 1%% of --events)")
    ap.add_argument("--workdir", help="keep files here (default: a temp dir, removed)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive json.loads + pandas baseline")
    ap.add_argument("--parquet-events", type=int, help="events of the Parquet comparison (default: --events; "
                    "0 skips it)")
    args = ap.parse_args()
    cfg = default_config()
    n = args.events
    n_append = args.append_events if args.append_events is not None else max(1, n // 100)
    n_parquet = min(n, args.parquet_events if args.parquet_events is not None else n)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="memlens-ingest-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        t0 = time.perf_counter()
        files, extra, pq_files = generated(work, n, n_append, n_parquet)
        size = sum(f.stat().st_size for f in files)
        pq_size = sum(f.stat().st_size for f in pq_files)
        print(f"{n:,} events in {len(files)} JSONL files, {size / 1e6:,.0f} MB (+ {n_append:,} to append; the first "
              f"{n_parquet:,} also in Parquet, {pq_size / 1e6:,.0f} MB), {time.perf_counter() - t0:.1f} s",
              flush=True)

        db = work / "bench.duckdb"
        bare_db = work / "bare.duckdb"

        def full_load() -> int:
            remove_db(db)
            return memlens_collect(files, db, cfg, "full")

        # bare and memlens runs alternate, so a change in the machine's load reaches both alike
        bare_s, full_s = [], []
        for _ in range(args.repeat):
            t_b, bare_rows = median_time(lambda: bare_read_json(files, bare_db), 1, "bare")
            assert bare_rows == n, (bare_rows, n)
            t_f, loaded = median_time(full_load, 1, "full")
            assert loaded == n, (loaded, n)
            bare_s.append(t_b)
            full_s.append(t_f)
            CPU_RUNS.setdefault("bare", []).append(CPU["bare"])
            CPU_RUNS.setdefault("full", []).append(CPU["full"])
            print(f"  run: bare read_json {t_b:.2f} s ({CPU['bare']:.2f} CPU-s), collect_oplogs {t_f:.2f} s "
                  f"({CPU['full']:.2f} CPU-s)", flush=True)
        remove_db(bare_db)
        t_bare, t_full = statistics.median(bare_s), statistics.median(full_s)
        t_refresh = statistics.median(PARTS["full"])
        t_ingest = t_full - t_refresh
        copy = work / "append.duckdb"
        for _ in range(args.repeat):
            memlens_append(extra, db, copy, cfg)
            print(f"  run: append {PARTS['append collect'][-1]:.2f} s", flush=True)
        t_append = statistics.median(PARTS["append collect"])
        t_append_refresh = statistics.median(PARTS["append"])
        remove_db(copy)
        pq_bare_s, pq_full_s = [], []
        pq_db = work / "parquet.duckdb"
        for _ in range(args.repeat if pq_files else 0):
            t_b, rows = median_time(lambda: bare_read_parquet(pq_files, bare_db), 1, "pq bare")
            assert rows == n_parquet, (rows, n_parquet)
            remove_db(pq_db)
            t_f, loaded = median_time(lambda: memlens_collect(pq_files, pq_db, cfg, "parquet"), 1, "pq full")
            assert loaded == n_parquet, (loaded, n_parquet)
            pq_bare_s.append(t_b)
            pq_full_s.append(t_f)
            CPU_RUNS.setdefault("pq bare", []).append(CPU["pq bare"])
            CPU_RUNS.setdefault("pq full", []).append(CPU["pq full"])
            print(f"  run: bare read_parquet {t_b:.2f} s ({CPU['pq bare']:.2f} CPU-s), collect_oplogs of Parquet "
                  f"{t_f:.2f} s ({CPU['pq full']:.2f} CPU-s)", flush=True)
        remove_db(bare_db)
        remove_db(pq_db)
        con = connect(db, cfg)
        t_lat, _ = median_time(lambda: layer.latency(con, layer.ALL, ("bucket", "op"), "day"), args.repeat, "lat")
        t_cost, _ = median_time(lambda: layer.query(con, "cost", layer.ALL, ("bucket",), "day"), args.repeat, "cost")
        con.close()

        nb = min(args.baseline_events, n)
        scale = n / nb
        if not args.no_naive:
            t_bload, df = median_time(lambda: baseline_load(files, nb), args.repeat, "bload")
            t_bq, (lat, _) = median_time(lambda: baseline_queries(df, cfg), args.repeat, "bq")
            diff = check_agreement(files, nb, lat, cfg, work)

    print(f"\nmedians of {args.repeat} runs, {n:,} events, {size / 1e6:,.0f} MB of JSONL; wall seconds; load average "
          f"(1, 5, 15 min) at start {', '.join(f'{x:.1f}' for x in load_start)}, at end "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"DuckDB read_json, explicit columns -> table in a DuckDB file : {t_bare:8.2f} s            "
          f"{n / t_bare:11,.0f} rows/s   the engine's limit (nothing validated)")
    print(f"memlens collect_oplogs ingest (validate, dedupe, persist)    : {t_ingest:8.2f} s            "
          f"{n / t_ingest:11,.0f} rows/s")
    print(f"  ratio collect_oplogs ingest / bare read_json             : {t_ingest / t_bare:8.2f} x wall "
          "(goal: <= 1.5)")
    print(f"  ratio collect_oplogs incl. rollup refresh / bare read_json : {t_full / t_bare:8.2f} x wall, "
          f"{statistics.median(CPU_RUNS['full']) / statistics.median(CPU_RUNS['bare']):.2f} x CPU-s (medians "
          f"{statistics.median(CPU_RUNS['full']):.2f} / {statistics.median(CPU_RUNS['bare']):.2f})")
    print(f"memlens append {n_append:,} events of one day to the {n:,}-event warehouse : {t_append:8.2f} s "
          f"(incl. rollup refresh {t_append_refresh:.2f} s; goal at 10M: < 1 s)")
    if pq_files:
        t_pb, t_pf = statistics.median(pq_bare_s), statistics.median(pq_full_s)
        t_pi = t_pf - statistics.median(PARTS["parquet"])
        print(f"DuckDB read_parquet -> table in a DuckDB file, {n_parquet:,} rows ({pq_size / 1e6:,.0f} MB) : "
              f"{t_pb:8.2f} s {n_parquet / t_pb:11,.0f} rows/s")
        print(f"memlens collect_oplogs ingest of those Parquet files      : {t_pi:8.2f} s "
              f"{n_parquet / t_pi:11,.0f} rows/s"
              f"   ratio {t_pi / t_pb:.2f} x wall (goal: <= 1.5; incl. rollup refresh {t_pf / t_pb:.2f} x wall, "
              f"{statistics.median(CPU_RUNS['pq full']) / statistics.median(CPU_RUNS['pq bare']):.2f} x CPU-s)")
    if args.no_naive:
        return 0
    note = "" if scale == 1 else f"  (measured on {nb:,} lines, x{scale:g} to {n:,})"
    b_load, b_q = t_bload * scale, t_bq * scale
    print(f"\nnaive baseline and the metric layer, medians of {args.repeat} runs, {n:,} events")
    print(f"memlens full load -> DuckDB file     : {t_full:8.2f} s            "
          f"{n / t_full:11,.0f} rows/s   = ingest + rollup refresh")
    print(f"  ingest (validate, dedupe, persist) : {t_ingest:8.2f} s            {n / t_ingest:11,.0f} rows/s")
    print(f"  rollup refresh (4 rollup tables)   : {t_refresh:8.2f} s")
    print(f"naive json.loads + DataFrame         : {b_load:8.2f} s ({CPU['bload'] * scale:7.2f})  "
          f"{nb / t_bload:11,.0f} rows/s   parsed into memory only{note}")
    print(f"  ratio baseline / memlens ingest    : {b_load / t_ingest:8.1f} x wall")
    print(f"  ratio baseline / memlens full load : {b_load / t_full:8.1f} x wall, "
          f"{CPU['bload'] * scale / CPU['full']:.1f} x CPU (of the last full load)")
    print(f"memlens append {n_append:,} events of one day : {t_append:8.2f} s  "
          f"{n_append / t_append:11,.0f} rows/s   incl. rollup refresh {t_append_refresh:.2f} s")
    print(f"  ratio baseline (same lines) / append : {b_load * n_append / n / t_append:8.1f} x wall")
    t_q, c_q = t_lat + t_cost, CPU["lat"] + CPU["cost"]
    print(f"layer latency per day/op + cost per day (warm)        : {t_q:8.3f} s ({c_q:6.3f})  "
          f"[{t_lat:.3f} + {t_cost:.3f}]")
    print(f"pandas groupby quantiles + daily cost                 : {b_q:8.3f} s "
          f"({CPU['bq'] * scale:6.3f}){note}")
    print(f"  ratio baseline / layer             : {b_q / t_q:8.1f} x wall, "
          f"{CPU['bq'] * scale / c_q:.1f} x CPU")
    print(f"  ratio pandas groupby / rollup refresh : {b_q / t_refresh:8.1f} x wall")
    print(f"  P95 agreement view vs pandas on the baseline lines: max |diff| = {diff:.2e} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
