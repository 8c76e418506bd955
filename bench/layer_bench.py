"""Time the metric layer's questions from the events (exact input) and from the rollups (the same SQL over
pre-summed rows) on a synthetic N-event warehouse (default 10M), in the same run.

    .venv/bin/python bench/layer_bench.py [--events 10000000] [--repeat 3] [--warehouse PATH]

Events are generated inside DuckDB (bench/layer_bench_events.sql, from range()) into a warehouse file, then the
rollups are refreshed (timed), and each dashboard question is answered by memlens.layer with the rollups stale
(every metric reads the events) and current (the layer picks the rollups where they answer): medians, the ratio
exact / fast, and whether both give the same frame (counts and costs) or how far the histogram percentiles are
from the exact ones (bound memlens.rollups.MAX_RELATIVE_ERROR).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from memlens import layer, rollups  # noqa: E402
from memlens.warehouse import connect  # noqa: E402

END = datetime(2026, 11, 25)
WEEK = layer.Filters(END - timedelta(days=7), END)

# (question, metric, filters, group keys, grain)
QUESTIONS: list[tuple[str, str, layer.Filters, tuple[str, ...], str | None]] = [
    ("cost per day", "cost", layer.ALL, ("bucket",), "day"),
    ("cost per user", "cost", layer.ALL, ("user_id",), None),
    ("cost by model", "cost_by_model", layer.ALL, (), None),
    ("cost per mode, one service, last 7 days", "cost", WEEK.replace(service="chat-api"), ("mode",), None),
    ("calls, errors, cache per day and op", "ops", layer.ALL, ("bucket", "op"), "day"),
    ("calls, errors, cache per hour, last 7 days", "ops", WEEK, ("bucket",), "hour"),
    ("summary, one service, last 7 days", "ops", WEEK.replace(service="chat-api"), (), None),
    ("latency distribution per op", "latency_histogram", layer.ALL, ("op",), None),
]
PERCENTILES: list[tuple[str, layer.Filters, tuple[str, ...], str | None]] = [
    ("P50/P95/P99 per op, all days", layer.ALL, ("op",), None),
    ("P50/P95/P99 per op, last 7 days", WEEK, ("op",), None),
    ("P50/P95/P99 per day and op", layer.ALL, ("bucket", "op"), "day"),
]
FAST = layer.Speed(rollups_fresh=True, histogram_percentiles=True)


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warehouse", help="DuckDB file to (re)use; default: a temp file")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="memlens-bench-")
    path = Path(args.warehouse) if args.warehouse else Path(tmp.name) / "bench.duckdb"
    con = connect(path)
    have = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
    if have != args.events:
        con.execute("DELETE FROM raw_op_events")
        t0 = time.perf_counter()
        con.execute((REPO / "bench" / "layer_bench_events.sql").read_text(encoding="utf-8"),
                    {"n": args.events, "end": END})
        print(f"generated {args.events:,} events in {time.perf_counter() - t0:.1f} s into {path}")
    print(f"{args.events:,} events, median of {args.repeat} runs (seconds)\n")

    t0 = time.perf_counter()
    result = rollups.refresh(con)
    print(f"rollups.refresh: {time.perf_counter() - t0:.2f} s — " + result.summary())

    print(f"\n{'question':48s} {'input':>18s} {'exact s':>8s} {'fast s':>8s} {'ratio':>7s}  same")
    for name, metric, f, by, grain in QUESTIONS:
        chosen = layer.input_for(metric, f, by, grain, FAST)
        t_raw = median_seconds(lambda m=metric, f=f, b=by, g=grain: layer.query(con, m, f, b, g), args.repeat)
        t_agg = median_seconds(lambda m=metric, f=f, b=by, g=grain: layer.query(con, m, f, b, g, FAST), args.repeat)
        exact, fast = layer.query(con, metric, f, by, grain), layer.query(con, metric, f, by, grain, FAST)
        try:
            pd.testing.assert_frame_equal(exact, fast, check_dtype=False, rtol=1e-9)
            same = "yes"
        except AssertionError:
            same = "NO"
        print(f"{name:48s} {chosen:>18s} {t_raw:8.3f} {t_agg:8.4f} {t_raw / t_agg:6.1f}x  {same}")

    for name, f, by, grain in PERCENTILES:
        t_raw = median_seconds(lambda f=f, b=by, g=grain: layer.percentiles(con, f, b, g), args.repeat)
        t_agg = median_seconds(lambda f=f, b=by, g=grain: layer.percentiles(con, f, b, g, FAST), args.repeat)
        exact, fast = layer.percentiles(con, f, by, grain), layer.percentiles(con, f, by, grain, FAST)
        both = exact.merge(fast, on=list(by), suffixes=("", "_h"))
        err = max((both[f"{c}_h"] / both[c] - 1).abs().max() for c in layer.PCT_COLUMNS)
        print(f"{name:48s} {'latency_hist_daily':>18s} {t_raw:8.3f} {t_agg:8.4f} {t_raw / t_agg:6.1f}x  "
              f"max rel. error {err:.2%} (bound {rollups.MAX_RELATIVE_ERROR:.2%})")
    raw_rows = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
    agg_rows = sum(result.rows.values())
    print(f"\nrollup rows: {agg_rows:,} for {raw_rows:,} events ({raw_rows / max(agg_rows, 1):.0f}x fewer)")
    con.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
