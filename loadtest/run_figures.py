"""The figures of each tagged run: a load-test / benchmark / compare phase (tag = run_id of raw_loadtest_runs) or
any other tag an application put on its events. Every figure is the metric layer's, grouped by tag (latency
with percentiles, search latency, calls per op, cost); the run's own record (users, wall time, ...) sits beside.
Throughput divides by the load generator's measured wall time when the tag is a load-test run, else by the span
between the first and last call start.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from memlens import layer

TAGGED = layer.Filters(tagged=True)
RUN_COLUMNS = ("group_id", "kind", "scenario_name", "config_hash", "variant", "round", "users", "call_mode",
               "backend", "cache_enabled", "top_k", "rerank", "started_at", "finished_at", "wall_s", "ops_issued",
               "errors_issued")
COLUMNS = ("tag", *RUN_COLUMNS, "ops", "errors", "error_rate", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
           "searches", "search_avg_ms", "search_p50_ms", "search_p95_ms", "search_p99_ms", "adds", "updates",
           "deletes", "first_ts", "last_ts", "throughput_ops_s", "cache_hits", "cache_misses", "cache_hit_rate",
           "embedding_tokens", "total_cost_usd", "cost_per_1k_ops_usd", "cost_per_1k_searches_usd", "priced")
_RUNS_SQL = "SELECT run_id AS tag, " + ", ".join(RUN_COLUMNS) + " FROM raw_loadtest_runs"


def run_figures(con: duckdb.DuckDBPyConnection, tags: list[str] | None = None) -> pd.DataFrame:
    """One row per tag with at least one logged call (COLUMNS), ordered by tag; `tags`: only these."""
    every = layer.latency(con, TAGGED, ("tag",))
    if every.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    search = layer.percentiles(con, TAGGED.replace(op="search"), ("tag",)).rename(
        columns={c: f"search_{c}" for c in layer.PCT_COLUMNS})
    per_op = layer.query(con, "ops", TAGGED, ("tag", "op")).pivot_table(
        index="tag", columns="op", values="ops", aggfunc="sum", fill_value=0)
    per_op = pd.DataFrame({f"{op}s": per_op.get(op, 0) for op in ("add", "update", "delete")},
                          index=per_op.index).reset_index()
    span = layer.query(con, "span", TAGGED, ("tag",))
    cost = layer.query(con, "cost", TAGGED, ("tag",))[
        ["tag", "embedding_tokens", "total_cost_usd", "cost_per_1k_ops_usd", "cost_per_1k_searches_usd", "priced"]]
    runs = con.execute(_RUNS_SQL).df()
    df = (every.rename(columns={"hits": "cache_hits", "misses": "cache_misses", "hit_rate": "cache_hit_rate"})
          .merge(search, on="tag", how="left").merge(per_op, on="tag", how="left").merge(span, on="tag", how="left")
          .merge(cost, on="tag").merge(runs, on="tag", how="left"))
    for col in ("round", "users", "top_k", "ops_issued", "errors_issued"):  # whole numbers, NULL for app tags
        df[col] = df[col].astype("Int64")
    seconds = df["wall_s"].fillna((df["last_ts"] - df["first_ts"]).dt.total_seconds())
    df["throughput_ops_s"] = df["ops"] / seconds.replace(0, np.nan)
    if tags is not None:
        df = df[df["tag"].isin(tags)]
    return df[list(COLUMNS)].reset_index(drop=True)
