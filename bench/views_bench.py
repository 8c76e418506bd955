"""Time every metric view and the rollup-backed equivalents on a synthetic N-event warehouse (default 10M).

    .venv/bin/python bench/views_bench.py [--events 10000000] [--repeat 3] [--warehouse PATH]

Events are generated inside DuckDB (bench/views_bench_events.sql, from range()) into a warehouse file, then:
1. each metric view is read whole (metric_slow_ops: its 100 slowest rows, as the page reads it): median seconds;
2. the rollups are refreshed (memlens.rollups.refresh) and timed;
3. typical dashboard questions are answered from raw rows (the exact views / stg_op_events) and from the
   rollups; both medians and the ratio raw / rollup are printed, measured in the same run, with the largest
   relative percentile error of the histogram answer against the exact one.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from memlens import rollups  # noqa: E402
from memlens.resources import model_files  # noqa: E402
from memlens.warehouse import connect  # noqa: E402

END = datetime(2026, 11, 25)
WEEK_START = END - timedelta(days=7)

# Dashboard questions: (name, exact SQL on raw rows, SQL on the rollups). Fixed text, bound parameters.
PAIRS: list[tuple[str, str, str]] = [
    ("cost per day",
     "SELECT day, total_cost_usd, embedding_share, cost_per_1k_searches_usd FROM metric_cost_daily ORDER BY day",
     "SELECT day, sum(total_cost_usd), sum(embedding_cost_usd) / nullif(sum(total_cost_usd), 0), "
     "sum(total_cost_usd) * 1000 / nullif(sum(searches), 0) FROM agg_cost_daily GROUP BY day ORDER BY day"),
    ("top 20 users by cost",
     "SELECT user_id, total_cost_usd FROM metric_cost_by_user ORDER BY total_cost_usd DESC LIMIT 20",
     "SELECT user_id, sum(total_cost_usd) AS c FROM agg_cost_user_daily GROUP BY user_id ORDER BY c DESC LIMIT 20"),
    ("cost by model",
     "SELECT kind, model, cost_usd FROM metric_cost_by_model",
     "SELECT embedding_model, llm_model, mode, sum(embedding_cost_usd), sum(llm_cost_usd), sum(platform_cost_usd) "
     "FROM agg_cost_daily GROUP BY ALL"),
    ("error rate per day and op",
     "SELECT day, op, error_rate FROM metric_error_rate_daily",
     "SELECT day, coalesce(op, 'all'), sum(errors) / sum(ops) FROM agg_op_hourly "
     "GROUP BY GROUPING SETS ((day, op), (day))"),
    ("cache per day",
     "SELECT day, hit_rate, miss_penalty FROM metric_cache_daily",
     "SELECT day, sum(hits) / nullif(sum(hits) + sum(misses), 0), "
     "(sum(miss_sum_ms) / nullif(sum(misses), 0)) / nullif(sum(hit_sum_ms) / nullif(sum(hits), 0), 0) "
     "FROM agg_op_hourly WHERE cache_requests > 0 GROUP BY day"),
    ("service, last 7 days: ops, errors, slow, cache",
     "SELECT count(*), count(*) FILTER (WHERE is_error), count(*) FILTER (WHERE is_slow), "
     "count(*) FILTER (WHERE cache = 'hit') FROM stg_op_events WHERE service = 'chat-api' AND ts >= $start",
     "SELECT sum(ops), sum(errors), sum(slow_ops), sum(hits) FROM agg_op_hourly "
     "WHERE service = 'chat-api' AND hour >= $start"),
]


def _key(values: tuple) -> tuple[str, ...]:
    """Comparable group key: pandas Timestamps and DuckDB dates both become 'YYYY-MM-DD'."""
    return tuple(v.date().isoformat() if hasattr(v, "normalize") else str(v) for v in values)


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
        con.execute((REPO / "bench" / "views_bench_events.sql").read_text(encoding="utf-8"),
                    {"n": args.events, "end": END})
        print(f"generated {args.events:,} events in {time.perf_counter() - t0:.1f} s into {path}")
    print(f"{args.events:,} events, median of {args.repeat} runs (seconds)\n")

    print(f"{'metric view (raw, exact)':45s} {'median s':>9s}")
    for p in model_files("metrics"):
        view = p.name.removesuffix(".sql").split("_", 1)[1]
        order = " ORDER BY latency_ms DESC LIMIT 100" if view == "metric_slow_ops" else ""
        # the view name comes from our own sql/ files
        t = median_seconds(lambda v=view, o=order: con.execute(f"SELECT * FROM {v}{o}").fetchall(), args.repeat)
        print(f"{view:45s} {t:9.3f}")

    t0 = time.perf_counter()
    result = rollups.refresh(con)
    print(f"\nrollups.refresh: {time.perf_counter() - t0:.2f} s — " + result.summary())

    print(f"\n{'question':48s} {'raw s':>8s} {'rollup s':>9s} {'raw/rollup':>11s}")
    for name, raw_sql, agg_sql in PAIRS:
        params = {"start": WEEK_START} if "$start" in raw_sql else None
        t_raw = median_seconds(lambda s=raw_sql, p=params: con.execute(s, p).fetchall(), args.repeat)
        t_agg = median_seconds(lambda s=agg_sql, p=params: con.execute(s, p).fetchall(), args.repeat)
        print(f"{name:48s} {t_raw:8.3f} {t_agg:9.4f} {t_raw / t_agg:10.1f}x")

    # Percentiles: exact quantile_cont on raw rows vs the histogram rollup.
    checks = [
        ("p50/p95/p99 per op, all days", ("op",), None,
         "SELECT op, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM stg_op_events GROUP BY op"),
        ("p50/p95/p99 per op, last 7 days", ("op",), WEEK_START,
         "SELECT op, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM stg_op_events WHERE ts >= $start GROUP BY op"),
        ("p50/p95/p99 per day and op", ("day", "op"), None,
         "SELECT (day, op), quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM stg_op_events GROUP BY day, op"),
    ]
    for label, by, start, exact_sql in checks:
        params = {"start": start} if start else None
        t_raw = median_seconds(lambda s=exact_sql, p=params: con.execute(s, p).fetchall(), args.repeat)
        t_agg = median_seconds(lambda b=by, s=start: rollups.latency_percentiles(con, by=b, start=s), args.repeat)
        exact = {_key(k if isinstance(k, tuple) else (k,)): v for k, v in con.execute(exact_sql, params).fetchall()}
        got = rollups.latency_percentiles(con, by=by, start=start)
        err = max(abs(row[f"p{q}_ms"] / exact[_key(tuple(row[k] for k in by))][i] - 1)
                  for _, row in got.iterrows() for i, q in enumerate((50, 95, 99)))
        print(f"{label:48s} {t_raw:8.3f} {t_agg:9.4f} {t_raw / t_agg:10.1f}x  max rel. error {err:.2%} "
              f"(bound {rollups.MAX_RELATIVE_ERROR:.2%})")
    t_raw = median_seconds(lambda: con.execute("SELECT * FROM metric_health_summary").fetchall(), args.repeat)
    t_agg = median_seconds(lambda: rollups.summary(con), args.repeat)
    print(f"{'health summary (Overview), all days':48s} {t_raw:8.3f} {t_agg:9.4f} {t_raw / t_agg:10.1f}x")
    t_agg = median_seconds(lambda: rollups.summary(con, start=WEEK_START, end=END, service="chat-api"), args.repeat)
    print(f"{'health summary, one service, last 7 days':48s} {'':8s} {t_agg:9.4f}")
    raw_rows = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
    agg_rows = sum(result.rows.values())
    print(f"\nrollup rows: {agg_rows:,} for {raw_rows:,} events ({raw_rows / max(agg_rows, 1):.0f}x fewer)")
    con.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
