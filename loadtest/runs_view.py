"""Stored runs for the dashboard's Runs page: the list, and two runs side by side (plain, tested)."""

from __future__ import annotations

import numbers

import duckdb
import numpy as np
import pandas as pd

from memlens.loadtest.run_figures import run_figures
from memlens.loadtest.stats import COMPARED_METRICS

# What the side-by-side table shows, in order: column -> label.
SIDE_BY_SIDE = {
    "scenario_name": "scenario", "kind": "kind", "users": "users", "call_mode": "mode", "backend": "backend",
    "cache_enabled": "cache", "top_k": "top_k", "rerank": "rerank", "config_hash": "config hash",
    "started_at": "started (UTC)", "wall_s": "seconds", "ops": "operations",
    "throughput_ops_s": "throughput (ops/s)", "avg_ms": "avg ms", "p50_ms": "P50 ms", "p95_ms": "P95 ms",
    "p99_ms": "P99 ms", "max_ms": "max ms", "search_p50_ms": "search P50 ms", "search_p95_ms": "search P95 ms",
    "error_rate": "error rate", "cache_hit_rate": "cache hit rate", "cost_per_1k_ops_usd": "USD / 1k ops",
}


LISTED = ("run_id", "group_id", "kind", "scenario_name", "variant", "round", "users", "call_mode", "backend",
          "cache_enabled", "top_k", "rerank", "config_hash", "started_at", "wall_s", "ops", "errors", "error_rate",
          "throughput_ops_s", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "search_p50_ms", "search_p95_ms",
          "cache_hit_rate", "cost_per_1k_ops_usd", "total_cost_usd", "priced")


def list_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored load-test run with its figures, newest first (tags an application set are not runs)."""
    df = run_figures(con).rename(columns={"tag": "run_id"})
    df = df[df["kind"].notna()].sort_values(["started_at", "run_id"], ascending=False)
    return df[list(LISTED)].reset_index(drop=True)


def run_label(row: pd.Series) -> str:
    variant = f" {row['variant']}{int(row['round'])}" if isinstance(row["variant"], str) else ""
    return (f"{row['started_at']:%Y-%m-%d %H:%M:%S} · {row['kind']}{variant} · {row['scenario_name']} · "
            f"{int(row['users'])} users · {row['run_id']}")


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, bool | np.bool_) and not pd.isna(v)


def side_by_side(runs: pd.DataFrame, a_id: str, b_id: str) -> pd.DataFrame:
    """One row per figure: A, B, B/A, and for the compared metrics whether B is better or worse."""
    a = runs.set_index("run_id").loc[a_id]
    b = runs.set_index("run_id").loc[b_id]
    rows = []
    for col, label in SIDE_BY_SIDE.items():
        va, vb = a[col], b[col]
        ratio = float(vb) / float(va) if _is_number(va) and _is_number(vb) and float(va) != 0 else None
        change = ""
        if col in COMPARED_METRICS and ratio is not None and ratio != 1.0:
            better = (ratio > 1.0) == COMPARED_METRICS[col]
            change = "B better" if better else "B worse"
        rows.append({"figure": label, "A": _text(va), "B": _text(vb), "B / A": ratio, "change": change})
    return pd.DataFrame(rows)


def _text(v: object) -> str:
    """Displayed as text so one column can hold names, counts and figures."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "-"
    if isinstance(v, bool | np.bool_):
        return "on" if v else "off"
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d %H:%M:%S}"
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return f"{v:.6f}" if abs(v) < 0.01 else f"{v:,.2f}"
    return str(v)
